// Small parsers shared by the command line and the report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sshboot::util {

// A TCP port, 1 to 65535, digits only.
std::optional<std::uint16_t> parse_port(std::string_view text);

// `text` in single quotes for a message, on one line whatever it holds:
// control characters and bytes outside ASCII are shown as \n, \t, \r or
// \xNN, and more than 64 bytes are cut with "...".
std::string quoted_for_log(std::string_view text);

}  // namespace sshboot::util
