// The checks of `sshboot doctor`: pure functions from gathered facts to
// results, each with a one-line fix a new user can act on.
#pragma once

#include <string>
#include <vector>

#include "doctor/facts.hpp"

namespace sshboot::doctor {

// Warn: worth fixing, but nothing fails because of it (exit code unaffected).
enum class Status { Ok, Fail, Skip, Warn };

struct CheckResult {
    std::string id;  // stable: "sshd-installed", "strict-modes", ...
    Status status = Status::Ok;
    std::string message;  // what was found
    std::string fix;      // what to do; empty when OK
};

// Every check, in the order a person should fix them. A check that cannot be
// judged because an earlier one failed is a Skip naming that check.
std::vector<CheckResult> evaluate(const Facts& facts);

// 0 when nothing failed, 1 otherwise.
int doctor_exit_code(const std::vector<CheckResult>& results);

// "OK    message" / "FAIL  message. Fix: fix" / "WARN  message. Fix: fix" /
// "SKIP  message", one per line,
// then a summary line.
std::string render_text(const std::vector<CheckResult>& results);

// {"ok": bool, "checks": [{"id", "status": "ok"|"fail"|"warn"|"skip", "message", "fix"}]}
std::string render_json(const std::vector<CheckResult>& results);

// "0755"
std::string mode_string(unsigned mode);

}  // namespace sshboot::doctor
