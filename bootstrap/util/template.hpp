// {{NAME}} substitution for the text files in templates/.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "util/expected.hpp"

namespace sshboot::util {

// Replaces every {{NAME}} with values.at(NAME). A placeholder without a value
// is an error naming it (a template and its caller out of step).
Expected<std::string> render_template(std::string_view text,
                                      const std::map<std::string, std::string>& values);

}  // namespace sshboot::util
