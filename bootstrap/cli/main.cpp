#include "cli/main.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/settings.hpp"
#include "cli/version.hpp"
#include "run/run.hpp"
#include "tunnel/serve.hpp"
#include "util/log.hpp"

extern char** environ;

namespace sshboot::cli {
namespace {

Environment current_environment() {
    Environment env;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string entry(*e);
        const auto eq = entry.find('=');
        if (eq != std::string::npos) {
            env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
        }
    }
    return env;
}

bool is_directory(const char* path) {
    struct stat st {};
    return ::stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

int main(int argc, char** argv) {
    log::init();
    try {
        std::vector<std::string> args(argv + 1, argv + argc);
        if (args.size() == 1 && args[0] == tunnel::k_serve_subcommand) {
            return tunnel::serve_main();  // the HTTPS tunnel's server child (internal)
        }
        if (auto code = run_subcommand(args, current_environment())) {
            return *code;
        }
        auto settings = parse_settings(args, current_environment(), is_directory("/workspace"));
        if (!settings) {
            log::error("{}", settings.error().message);
            return 2;
        }
        switch (settings->command) {
            case Command::Help:
                std::fputs(help_text().c_str(), stdout);
                return 0;
            case Command::Version:
                std::puts(version_line().c_str());
                return 0;
            case Command::Run:
                break;
        }
        log::init(settings->verbose);
        if (sodium_init() < 0) {
            log::error("libsodium failed to initialise (no entropy source?)");
            return 1;
        }
        return run::run(*settings);
    } catch (const std::exception& e) {
        log::error("{}", e.what());
        return 1;
    }
}

}  // namespace sshboot::cli
