#include "cluster/topology.hpp"

#include <dirent.h>

#include <algorithm>
#include <optional>

#include "util/parse.hpp"

namespace sshboot::cluster {
namespace {

// The platforms' rank variables, after SSHBOOT_CLUSTER_RANK, in order.
constexpr const char* k_rank_variables[] = {"NODE_RANK", "SKYPILOT_NODE_RANK",
                                            "JOB_COMPLETION_INDEX"};
// The platforms' processes-per-node variables, after SSHBOOT_CLUSTER_SLOTS.
constexpr const char* k_slot_variables[] = {"NUM_TRAINERS", "SKYPILOT_NUM_GPUS_PER_NODE"};
constexpr int k_max_nodes = 4096;

std::string env_value(const TopologyInput& in, const std::string& name) {
    auto it = in.env.find(name);
    return it == in.env.end() ? std::string() : it->second;
}

std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(first, last - first + 1));
}

util::Error usage(const std::string& variable, const std::string& value, const std::string& why) {
    return util::make_error(variable + "=" + util::quoted_for_log(value) + ": " + why);
}

// A name or address goes into ssh_config and hostfiles: letters, digits and
// the punctuation of DNS names and IPv4/IPv6 addresses only.
bool valid_host(std::string_view host) {
    if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.') {
        return false;
    }
    return std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '-' || c == '_' || c == ':' || c == '%';
    });
}

// One entry of SSHBOOT_CLUSTER_HOSTS: host, host:port, [v6] or [v6]:port;
// an address with several colons and no brackets is IPv6 without a port.
util::Expected<Node> parse_host_entry(const std::string& variable, const std::string& entry,
                                      std::uint16_t default_port) {
    Node node;
    node.port = default_port;
    std::string host = entry;
    std::string port;
    if (!entry.empty() && entry.front() == '[') {
        const auto close = entry.find(']');
        if (close == std::string::npos) {
            return usage(variable, entry, "'[' without ']': write an IPv6 address as [addr]:port");
        }
        host = entry.substr(1, close - 1);
        const std::string rest = entry.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return usage(variable, entry, "expected ':port' after ']'");
            }
            port = rest.substr(1);
            if (port.empty()) {
                return usage(variable, entry, "empty port after ':'");
            }
        }
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
        const auto colon = entry.find(':');
        host = entry.substr(0, colon);
        port = entry.substr(colon + 1);
        if (port.empty()) {
            return usage(variable, entry, "empty port after ':'");
        }
    }
    if (!valid_host(host)) {
        return usage(variable, entry,
                     "not a host name or address (letters, digits, '.', '-', '_'; IPv6 in "
                     "brackets)");
    }
    if (!port.empty()) {
        auto p = util::parse_port(port);
        if (!p) {
            return usage(variable, entry, "bad port '" + port + "' (1 to 65535)");
        }
        node.port = *p;
    }
    node.host = host;
    return node;
}

util::Expected<std::vector<Node>> parse_host_list(const std::string& variable,
                                                  const std::string& text, char separator,
                                                  std::uint16_t default_port) {
    std::vector<Node> nodes;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto next = text.find(separator, pos);
        if (next == std::string::npos) {
            next = text.size();
        }
        const std::string entry = trim(std::string_view(text).substr(pos, next - pos));
        pos = next + 1;
        if (entry.empty()) {
            if (separator == '\n') {
                continue;  // blank lines in a newline-separated list
            }
            return usage(variable, text,
                         "empty entry: list host[:port] for every node, comma-separated");
        }
        auto node = parse_host_entry(variable, entry, default_port);
        if (!node) {
            return node.error();
        }
        node->rank = static_cast<int>(nodes.size());
        nodes.push_back(std::move(*node));
        if (nodes.size() > static_cast<std::size_t>(k_max_nodes)) {
            return usage(variable, text, "more than " + std::to_string(k_max_nodes) + " nodes");
        }
    }
    if (nodes.empty()) {
        return usage(variable, text, "no nodes listed");
    }
    return nodes;
}

// SSHBOOT_CLUSTER_PATTERN: a host name with "{rank}" where each node's rank
// goes (and an optional ":port"), for StatefulSet or Indexed Job pods behind
// a headless Service; SSHBOOT_CLUSTER_SIZE nodes.
util::Expected<std::vector<Node>> expand_pattern(const TopologyInput& in,
                                                 const std::string& pattern) {
    const std::string size_text = trim(env_value(in, "SSHBOOT_CLUSTER_SIZE"));
    if (size_text.empty()) {
        return usage("SSHBOOT_CLUSTER_PATTERN", pattern,
                     "set SSHBOOT_CLUSTER_SIZE to the number of nodes as well");
    }
    auto size = util::parse_count(size_text, k_max_nodes);
    if (!size || *size < 1) {
        return usage("SSHBOOT_CLUSTER_SIZE", size_text,
                     "not a node count (1 to " + std::to_string(k_max_nodes) + ")");
    }
    static constexpr std::string_view k_placeholder = "{rank}";
    const auto at = pattern.find(k_placeholder);
    if (at == std::string::npos) {
        return usage("SSHBOOT_CLUSTER_PATTERN", pattern,
                     "has no {rank}: write the pod names with {rank} where the ordinal goes, "
                     "e.g. trainer-{rank}.trainer-svc");
    }
    const std::string rest = pattern.substr(at + k_placeholder.size());
    const std::string before = pattern.substr(0, at);
    if (before.find_first_of("{}") != std::string::npos ||
        rest.find_first_of("{}") != std::string::npos) {
        return usage("SSHBOOT_CLUSTER_PATTERN", pattern,
                     "unknown placeholder: only {rank} (once) is replaced");
    }
    std::vector<Node> nodes;
    for (int r = 0; r < *size; ++r) {
        const std::string entry = before + std::to_string(r) + rest;
        auto node = parse_host_entry("SSHBOOT_CLUSTER_PATTERN", entry, in.ssh_port);
        if (!node) {
            return usage("SSHBOOT_CLUSTER_PATTERN", pattern,
                         "gives '" + entry + "', " + node.error().message);
        }
        node->rank = r;
        nodes.push_back(std::move(*node));
    }
    return nodes;
}

struct Rank {
    int value = 0;
    std::string variable;  // where it came from, for messages
};

util::Expected<std::optional<Rank>> resolve_rank(const TopologyInput& in) {
    auto parse = [](const std::string& variable,
                    const std::string& text) -> util::Expected<std::optional<Rank>> {
        auto value = util::parse_count(trim(text), k_max_nodes - 1);
        if (!value) {
            return usage(variable, text, "not a rank (0, 1, 2, ...)");
        }
        return std::optional<Rank>(Rank{*value, variable});
    };
    if (!trim(in.rank).empty()) {
        return parse("SSHBOOT_CLUSTER_RANK", in.rank);
    }
    for (const char* name : k_rank_variables) {
        const std::string value = env_value(in, name);
        if (!trim(value).empty()) {
            return parse(name, value);
        }
    }
    // A StatefulSet pod is named <set>-<ordinal>.
    const auto dash = in.hostname.rfind('-');
    if (dash != std::string::npos && dash > 0 && dash + 1 < in.hostname.size()) {
        auto value =
            util::parse_count(std::string_view(in.hostname).substr(dash + 1), k_max_nodes - 1);
        if (value) {
            return std::optional<Rank>(Rank{*value, "the hostname " + in.hostname});
        }
    }
    return std::optional<Rank>();
}

util::Expected<int> resolve_slots(const TopologyInput& in) {
    auto parse = [](const std::string& variable, const std::string& text) -> util::Expected<int> {
        auto value = util::parse_count(trim(text), 1024);
        if (!value || *value < 1) {
            return usage(variable, text, "not a number of processes per node (1 to 1024)");
        }
        return *value;
    };
    const std::string own = env_value(in, "SSHBOOT_CLUSTER_SLOTS");
    if (!trim(own).empty()) {
        return parse("SSHBOOT_CLUSTER_SLOTS", own);
    }
    for (const char* name : k_slot_variables) {
        const std::string value = env_value(in, name);
        if (!trim(value).empty()) {
            return parse(name, value);
        }
    }
    const int gpus = in.gpus >= 0 ? in.gpus : count_gpus();
    return std::max(gpus, 1);
}

// RunPod Instant Clusters give no peer list: the primary (rank 0) knows
// itself and the workers that registered with it; a worker the primary and
// itself. All nodes listen on this node's SSH_PORT.
util::Expected<Topology> resolve_runpod(const TopologyInput& in, const std::optional<Rank>& rank) {
    const std::string count_text = trim(env_value(in, "NUM_NODES"));
    auto count = util::parse_count(count_text, k_max_nodes);
    if (!count || *count < 1) {
        return usage("NUM_NODES", count_text,
                     "not a node count (1 to " + std::to_string(k_max_nodes) + ")");
    }
    if (!rank) {
        return util::make_error(
            "RunPod Instant Cluster: NODE_RANK is not set: set it (or SSHBOOT_CLUSTER_RANK) to "
            "this node's rank, 0 to " +
            std::to_string(*count - 1));
    }
    if (rank->value >= *count) {
        return util::make_error("rank " + std::to_string(rank->value) + " (from " + rank->variable +
                                ") is out of range: NUM_NODES=" + std::to_string(*count) +
                                " gives ranks 0 to " + std::to_string(*count - 1));
    }
    const std::string primary_addr = trim(env_value(in, "PRIMARY_ADDR"));
    const std::string node_addr = trim(env_value(in, "NODE_ADDR"));
    if (primary_addr.empty() || (rank->value != 0 && node_addr.empty())) {
        return util::make_error(
            "RunPod Instant Cluster: set PRIMARY_ADDR (the rank 0 node's address) and NODE_ADDR "
            "(this node's) on every node, or list the nodes in SSHBOOT_CLUSTER_HOSTS");
    }
    auto primary = parse_host_entry("PRIMARY_ADDR", primary_addr, in.ssh_port);
    if (!primary) {
        return primary.error();
    }
    primary->rank = 0;
    Topology t;
    t.rank = rank->value;
    t.expected = *count;
    t.source = "RunPod";
    t.nodes.push_back(*primary);
    if (rank->value == 0) {
        for (const Node& n : in.registered) {
            if (n.rank >= 1 && n.rank < *count &&
                std::none_of(t.nodes.begin(), t.nodes.end(),
                             [&](const Node& k) { return k.rank == n.rank; })) {
                t.nodes.push_back(n);
            }
        }
        std::sort(t.nodes.begin(), t.nodes.end(),
                  [](const Node& a, const Node& b) { return a.rank < b.rank; });
    } else {
        auto self = parse_host_entry("NODE_ADDR", node_addr, in.ssh_port);
        if (!self) {
            return self.error();
        }
        self->rank = rank->value;
        t.nodes.push_back(*self);
    }
    auto slots = resolve_slots(in);
    if (!slots) {
        return slots.error();
    }
    t.slots = *slots;
    return t;
}

}  // namespace

const Node& Topology::self() const {
    for (const Node& n : nodes) {
        if (n.rank == rank) {
            return n;
        }
    }
    return nodes.at(static_cast<std::size_t>(rank));
}

util::Expected<Node> parse_node_address(const std::string& variable, const std::string& entry,
                                        std::uint16_t default_port) {
    return parse_host_entry(variable, entry, default_port);
}

std::string Node::alias() const {
    return "node-" + std::to_string(rank);
}

int count_gpus(const std::string& dev_dir) {
    DIR* dir = ::opendir(dev_dir.c_str());
    if (dir == nullptr) {
        return 0;
    }
    int count = 0;
    while (const dirent* e = ::readdir(dir)) {
        const std::string_view name = e->d_name;
        if (name.size() > 6 && name.substr(0, 6) == "nvidia" &&
            util::parse_count(name.substr(6), 1 << 20)) {
            ++count;
        }
    }
    ::closedir(dir);
    return count;
}

util::Expected<Topology> resolve_topology(const TopologyInput& in) {
    Topology t;
    auto rank = resolve_rank(in);
    if (!rank) {
        return rank.error();
    }

    std::vector<Node> nodes;
    std::string list_variable;
    const std::string skypilot_ips = env_value(in, "SKYPILOT_NODE_IPS");
    const std::string pattern = trim(env_value(in, "SSHBOOT_CLUSTER_PATTERN"));
    if (!trim(in.hosts).empty()) {
        auto parsed = parse_host_list("SSHBOOT_CLUSTER_HOSTS", in.hosts, ',', in.ssh_port);
        if (!parsed) {
            return parsed.error();
        }
        nodes = std::move(*parsed);
        t.source = list_variable = "SSHBOOT_CLUSTER_HOSTS";
    } else if (!trim(skypilot_ips).empty()) {
        auto parsed = parse_host_list("SKYPILOT_NODE_IPS", skypilot_ips, '\n', in.ssh_port);
        if (!parsed) {
            return parsed.error();
        }
        nodes = std::move(*parsed);
        t.source = "SkyPilot";
        list_variable = "SKYPILOT_NODE_IPS";
    } else if (!pattern.empty()) {
        auto expanded = expand_pattern(in, pattern);
        if (!expanded) {
            return expanded.error();
        }
        nodes = std::move(*expanded);
        t.source = "Kubernetes";
        t.pattern = pattern;
        list_variable = "SSHBOOT_CLUSTER_PATTERN";
    } else if (!trim(env_value(in, "NUM_NODES")).empty() &&
               (!trim(env_value(in, "NODE_ADDR")).empty() ||
                !trim(env_value(in, "PRIMARY_ADDR")).empty())) {
        return resolve_runpod(in, *rank);
    } else {
        return util::make_error(
            "cluster mode needs the list of nodes: set SSHBOOT_CLUSTER_HOSTS (host[:port] of "
            "every node in rank order, comma-separated), or SSHBOOT_CLUSTER_PATTERN and "
            "SSHBOOT_CLUSTER_SIZE (e.g. trainer-{rank}.trainer-svc and 3); SkyPilot's "
            "SKYPILOT_NODE_IPS is read when present");
    }

    if (!*rank) {
        return util::make_error(
            "cluster mode cannot tell this node's rank: set SSHBOOT_CLUSTER_RANK (0 to " +
            std::to_string(nodes.size() - 1) +
            "); NODE_RANK, SKYPILOT_NODE_RANK, JOB_COMPLETION_INDEX and a hostname ending in "
            "-<ordinal> are read when present");
    }
    if (static_cast<std::size_t>((*rank)->value) >= nodes.size()) {
        return util::make_error("rank " + std::to_string((*rank)->value) + " (from " +
                                (*rank)->variable + ") is out of range: " + list_variable +
                                " gives " + std::to_string(nodes.size()) + " node(s), ranks 0 to " +
                                std::to_string(nodes.size() - 1));
    }
    auto slots = resolve_slots(in);
    if (!slots) {
        return slots.error();
    }
    t.rank = (*rank)->value;
    t.nodes = std::move(nodes);
    t.slots = *slots;
    return t;
}

std::vector<std::string> host_principals(const Topology& t, const std::string& hostname) {
    std::vector<std::string> out;
    auto add = [&out](const std::string& name) {
        if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) {
            out.push_back(name);
        }
    };
    const Node& self = t.self();
    add(self.alias());
    add(self.host);
    // The first label of a DNS name (trainer-1 for trainer-1.trainer-svc).
    const auto dot = self.host.find('.');
    if (dot != std::string::npos && self.host.find(':') == std::string::npos &&
        !std::all_of(self.host.begin(), self.host.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
        add(self.host.substr(0, dot));
    }
    add(hostname);
    return out;
}

namespace {

// A DNS name's first label ("trainer-1" for trainer-1.trainer-svc); "" for
// an address or a name of one label.
std::string first_label(const std::string& host) {
    const auto dot = host.find('.');
    if (dot == std::string::npos || host.find(':') != std::string::npos ||
        std::all_of(host.begin(), host.end(),
                    [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
        return {};
    }
    return host.substr(0, dot);
}

// How ssh looks a host up in known_hosts: "host" on port 22, else "[host]:port".
std::string with_port(const std::string& host, std::uint16_t port) {
    return port == 22 ? host : "[" + host + "]:" + std::to_string(port);
}

}  // namespace

std::vector<std::string> ca_host_patterns(const Topology& t, const std::string& hostname) {
    std::vector<std::string> out;
    auto add = [&out](const std::string& p) {
        if (!p.empty() && std::find(out.begin(), out.end(), p) == out.end()) {
            out.push_back(p);
        }
    };
    add("node-*");
    for (const Node& n : t.nodes) {
        add(with_port(n.host, n.port));
        if (const auto label = first_label(n.host); !label.empty()) {
            add(with_port(label, n.port));
        }
    }
    if (!t.nodes.empty() && !hostname.empty() && valid_host(hostname)) {
        add(with_port(hostname, t.self().port));
    }
    if (!t.pattern.empty()) {
        // trainer-{rank}.trainer-svc[:port]: trainer-*.trainer-svc and
        // *.trainer-svc (a longer name of the same pods: the Service's full
        // domain), with the nodes' port.
        static constexpr std::string_view k_placeholder = "{rank}";
        std::string host = t.pattern;
        const std::uint16_t port = t.nodes.empty() ? 22 : t.nodes.front().port;
        if (const auto colon = host.rfind(':'); colon != std::string::npos) {
            host = host.substr(0, colon);
        }
        const auto at = host.find(k_placeholder);
        if (at != std::string::npos) {
            std::string wild = host;
            wild.replace(at, k_placeholder.size(), "*");
            add(with_port(wild, port));
            const auto dot = host.find('.', at);
            if (dot != std::string::npos && host.find('.') == dot && dot + 1 < host.size()) {
                add(with_port("*" + host.substr(dot), port));
            }
        }
    }
    return out;
}

}  // namespace sshboot::cluster
