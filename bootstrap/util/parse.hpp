// Small parsers shared by the command line and the report.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sshboot::util {

// A TCP port, 1 to 65535, digits only.
std::optional<std::uint16_t> parse_port(std::string_view text);

}  // namespace sshboot::util
