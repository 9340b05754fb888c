// The diagnostic subcommands: `check-key [FILE|-] [--json]` and
// `doctor [--json]`. Their argument parsing lives here (the only place that
// knows Boost.Program_options); their logic in keys/ and doctor/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/settings.hpp"

namespace sshboot::cli {

// Runs the subcommand args[0] names and returns its exit code; nullopt when
// args[0] is not one of them. Usage errors exit 2.
std::optional<int> run_subcommand(const std::vector<std::string>& args, const Environment& env);

}  // namespace sshboot::cli
