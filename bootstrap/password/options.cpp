#include "password/options.hpp"

#include "cli/settings.hpp"
#include "util/parse.hpp"

namespace sshboot::password {

util::Expected<Options> parse_options(const std::vector<std::string>& args) {
    Options out;
    bool source_set = false;
    auto set_source = [&](Source s, const std::string& flag) -> util::Status {
        if (source_set && out.source != s) {
            return util::make_error("password: " + flag +
                                    " cannot be combined with another password source");
        }
        out.source = s;
        source_set = true;
        return util::ok();
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        std::string value;
        bool has_value = false;
        std::string name = a;
        if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            name = a.substr(0, eq);
            value = a.substr(eq + 1);
            has_value = true;
        }
        auto take_value = [&]() -> util::Expected<std::string> {
            if (has_value) {
                return value;
            }
            if (i + 1 >= args.size()) {
                return util::make_error("password: " + name + " needs a value");
            }
            return args[++i];
        };
        if (name == "-h" || name == "--help") {
            out.help = true;
        } else if (name == "--generate" || name == "-g") {
            if (auto s = set_source(Source::Generate, name); !s) {
                return s.error();
            }
        } else if (name == "--stdin") {
            if (auto s = set_source(Source::Stdin, name); !s) {
                return s.error();
            }
        } else if (name == "--user" || name == "-u") {
            auto v = take_value();
            if (!v) {
                return v.error();
            }
            if (!cli::is_valid_user_name(*v)) {
                return util::make_error("password: --user " + util::quoted_for_log(*v) +
                                        " is not a valid user name (lowercase letters, digits, "
                                        "'_' and '-', starting with a letter or '_')");
            }
            out.user = *v;
        } else if (name == "--hash") {
            auto v = take_value();
            if (!v) {
                return v.error();
            }
            if (*v == "auto") {
                out.hash.reset();
                continue;
            }
            auto method = accounts::parse_hash_method(*v);
            if (!method) {
                return util::make_error("password: --hash: " + method.error().message);
            }
            out.hash = *method;
        } else {
            // Never echo the word: someone may have typed the password itself.
            return util::make_error("password: unknown argument #" + std::to_string(i + 1) +
                                    " (see sshboot password --help)");
        }
    }
    return out;
}

std::string help_text() {
    return "Usage: sshboot password [--generate | --stdin] [--user USER] [--hash "
           "auto|sha512|yescrypt]\n"
           "\n"
           "Sets a password for USER (default: SSH_USER, else root), turns on password\n"
           "login for the sshd that serves this container and prints how to connect.\n"
           "  - sshd supervised by sshboot: its configuration is reloaded;\n"
           "  - sshd started by the image from /etc/ssh/sshd_config: password login is\n"
           "    enabled there (a drop-in, or an edit with a backup) and sshd reloaded;\n"
           "  - no sshd running: host keys are created and sshd is started.\n"
           "\n"
           "  -g, --generate   generate a random password and print it once\n"
           "      --stdin      read the password from the first line of standard input\n"
           "                   (default: ask twice on the terminal; without one, generate)\n"
           "  -u, --user USER  the account (created when missing)\n"
           "      --hash H     auto (default): yescrypt ($y$) when the image's libcrypt and\n"
           "                   PAM verify it, else sha512 ($6$, 500000 rounds); or either\n"
           "                   one by name\n";
}

}  // namespace sshboot::password
