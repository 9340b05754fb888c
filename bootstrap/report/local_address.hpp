// The container's own address, printed when no external endpoint is known.
#pragma once

#include <string>

namespace sshboot::report {

// The first IPv4 address of an interface that is up and not loopback, else
// the first such global IPv6 address, else "127.0.0.1".
std::string container_address();

}  // namespace sshboot::report
