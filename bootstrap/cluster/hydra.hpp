// MPICH's launcher (Hydra) on a cluster: mpiexec's proxies on the other nodes
// connect back to the launching node by its host name, which the other nodes
// usually cannot resolve (a container's host name is in its own /etc/hosts
// only). HYDRA_IFACE in every session makes mpiexec hand out the address of
// that interface instead, so `mpiexec -f /job/hostfile.mpich` works with no
// extra flags.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cluster/topology.hpp"

namespace sshboot::cluster {

struct Interface {
    std::string name;     // "eth0"
    std::string address;  // numeric, "10.0.0.2" or "fd00::2"
};

// The interface Hydra should name: the one holding this node's address when
// its host is numeric; else the only non-loopback interface with an
// address. None when that is ambiguous.
std::optional<std::string> hydra_interface(const Topology& t,
                                           const std::vector<Interface>& interfaces);

// Effects: the interfaces that are up, with their IPv4 and IPv6 addresses.
std::vector<Interface> list_interfaces();

// "HYDRA_IFACE=<name>" for sessions, unless `session_env` already sets it
// (the image's own choice wins) or no interface fits.
std::optional<std::string> hydra_session_entry(const Topology& t,
                                               const std::vector<std::string>& session_env);

}  // namespace sshboot::cluster
