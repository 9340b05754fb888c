// Text from templates/, embedded into the binary at build time.
#pragma once

#include <string_view>

namespace sshboot::embedded {

extern const std::string_view sshd_config_template;  // templates/sshd_config.in
extern const std::string_view connect_template;      // templates/connect.txt.in

}  // namespace sshboot::embedded
