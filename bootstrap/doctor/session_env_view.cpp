#include "doctor/session_env_view.hpp"

#include <algorithm>
#include <cstdio>

#include "session_env/export.hpp"
#include "util/fs.hpp"

namespace sshboot::doctor {
namespace {

void section(std::string& out, const std::string& title, std::vector<std::string> names,
             std::size_t more) {
    std::sort(names.begin(), names.end());
    out += title + "\n";
    if (names.empty() && more == 0) {
        out += "  (none)\n";
    }
    for (const auto& name : names) {
        out += "  " + name + "\n";
    }
    if (more > 0) {
        out += "  ... and " + std::to_string(more) + " more\n";
    }
}

}  // namespace

std::string render_session_env(const session_env::Manifest& m, const std::string& path) {
    const std::string secret_path =
        util::path_join(session_env::k_profile_dir, session_env::k_secret_profile_name);
    std::string out = "What SSH sessions see, names only, as sshboot's last start exported them (" +
                      path + "):\n";
    section(out,
            "plain: harmless by name and value, in every account's sessions and login shells (" +
                path + ", world-readable, and sshd's SetEnv)",
            m.plain, 0);
    section(out,
            "restricted: not on the list of harmless variables, or a credential by name or value; "
            "only root and SSH_USER get them (" +
                secret_path +
                ", readable by root and SSH_USER's group, and a Match User block "
                "in a root-only sshd config)",
            m.restricted, 0);
    section(out,
            "withheld: not exported (sshboot's own settings and secrets, per-login variables, "
            "SSHBOOT_ENV_EXCLUDE matches)",
            m.withheld, m.withheld_more);
    out +=
        "  (and always sshboot's secrets: SSH_PASSWORD*, SSH_PUBLIC_KEY*, PUBLIC_KEY*, "
        "SSHBOOT_CLUSTER_SECRET*)\n";
    section(out, "left out: over the export limits (name them in SSHBOOT_ENV_INCLUDE)", m.left_out,
            m.left_out_more);
    return out;
}

int run_session_env(const std::string& profile_dir) {
    const std::string path = util::path_join(profile_dir, session_env::k_profile_name);
    auto text = util::read_file(path, 8 << 20);
    if (!text) {
        std::printf(
            "cannot read %s (%s): sshboot has not exported the environment in this container. "
            "Start the container with sshboot as its entrypoint; it writes the file on every "
            "start\n",
            path.c_str(), text.error().message.c_str());
        return 1;
    }
    const std::string out = render_session_env(session_env::parse_manifest(*text), path);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return 0;
}

}  // namespace sshboot::doctor
