#include "doctor/doctor.hpp"

#include <cstdio>

#include "doctor/checks.hpp"

namespace sshboot::doctor {

int run_doctor(const GatherOptions& options, bool json) {
    const auto results = evaluate(gather(options));
    const std::string text = json ? render_json(results) : render_text(results);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return doctor_exit_code(results);
}

}  // namespace sshboot::doctor
