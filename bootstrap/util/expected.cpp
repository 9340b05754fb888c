#include "util/expected.hpp"

#include <cstring>

namespace sshboot::util {

Error sys_error(std::string_view what, int err) {
    std::string message(what);
    message += ": ";
    message += std::strerror(err);
    return Error{std::move(message)};
}

}  // namespace sshboot::util
