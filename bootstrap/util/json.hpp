// Hand-written JSON output: string quoting for the few commands that print
// JSON (`check-key --json`, `doctor --json`).
#pragma once

#include <string>
#include <string_view>

namespace sshboot::util {

// `text` as a JSON string literal, quotes included: '"' and '\' escaped,
// control characters as \n, \t, ... or \u00XX, and bytes that are not valid
// UTF-8 replaced by U+FFFD, so that any input gives valid JSON.
std::string json_string(std::string_view text);

}  // namespace sshboot::util
