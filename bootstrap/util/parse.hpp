// Small parsers shared by the command line and the report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sshboot::util {

// The fields of a line of a /proc file or a similar table: the runs of
// characters between spaces, tabs, CRs and LFs.
std::vector<std::string_view> fields_of(std::string_view line);

// A TCP port, 1 to 65535, digits only.
std::optional<std::uint16_t> parse_port(std::string_view text);

// A whole non-negative decimal number no greater than `max` (a count, a rank).
std::optional<int> parse_count(std::string_view text, int max);

// `text` made safe to show in a message or on a terminal, on one line
// whatever it holds: control characters (ESC, BEL, ...) and bytes outside
// ASCII are shown as \n, \t, \r or \xNN, and more than `max` bytes are cut
// with "...". Every value from outside that a message echoes goes through
// this (or quoted_for_log), so no escape sequence reaches a log or terminal.
std::string printable(std::string_view text, std::size_t max = 64);

// printable(text) in single quotes.
std::string quoted_for_log(std::string_view text);

}  // namespace sshboot::util
