#include "doctor/cluster_checks.hpp"

#include <algorithm>
#include <cstdint>

namespace sshboot::doctor {
namespace {

CheckResult ok(std::string id, std::string message) {
    return {std::move(id), Status::Ok, std::move(message), {}};
}

CheckResult fail(std::string id, std::string message, std::string fix) {
    return {std::move(id), Status::Fail, std::move(message), std::move(fix)};
}

CheckResult warn(std::string id, std::string message, std::string fix) {
    return {std::move(id), Status::Warn, std::move(message), std::move(fix)};
}

CheckResult skip(std::string id, std::string message) {
    return {std::move(id), Status::Skip, std::move(message), {}};
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out;
}

const char* k_restart = "restart the container (sshboot writes it on every start in cluster mode)";

CheckResult check_state(const ClusterFacts& f) {
    const char* id = "cluster-state";
    if (!f.state) {
        return fail(id,
                    "cluster mode is on, but its state " + f.state_path +
                        " cannot be used: " + f.state_error,
                    std::string(k_restart) + " with sshboot as its entrypoint");
    }
    const auto& s = *f.state;
    return ok(id, "cluster mode: this is node-" + std::to_string(s.rank) + " of " +
                      std::to_string(s.node_count()) + " nodes (user " + s.user + ", " +
                      f.state_path + ")");
}

CheckResult check_secret(const ClusterFacts& f) {
    const char* id = "cluster-secret";
    if (f.secret_source.empty()) {
        return skip(id,
                    "cluster secret: not checked (SSHBOOT_CLUSTER_SECRET and "
                    "SSHBOOT_CLUSTER_SECRET_FILE are not visible here; run doctor as root, or "
                    "the secret was given as a flag)");
    }
    if (!f.secret_problem.empty()) {
        return fail(id,
                    "the cluster secret (" + f.secret_source + ") is refused: " + f.secret_problem,
                    "make a new one with sshboot cluster secret, give the same to every node, "
                    "and restart them");
    }
    return ok(id, "cluster secret (" + f.secret_source + ") is present and strong");
}

std::vector<CheckResult> check_file_modes(const ClusterFacts& f) {
    const char* id = "cluster-file-modes";
    std::vector<CheckResult> out;
    // A secret file others can read or write is refused by sshboot itself
    // (the cluster-secret check fails with its fix).
    for (const auto& [path, mode] : f.client_keys) {
        if ((mode & 077) == 0) {
            continue;
        }
        out.push_back(fail(id,
                           "private key " + path + " is mode " + mode_string(mode) +
                               ": ssh refuses it (\"Permissions " + mode_string(mode) +
                               " are too open\"), so logins to the peers with it fail",
                           "chmod 600 " + path +
                               " (a key mounted from a Kubernetes Secret: set defaultMode: 0400 "
                               "on the volume, or do not mount it: sshboot derives the cluster "
                               "key from the secret)"));
    }
    if (out.empty()) {
        out.push_back(ok(id, f.secret_file_mode && (*f.secret_file_mode & 077) == 0
                                 ? "the cluster secret file and ~/.ssh/id_* keys are private"
                                 : "~/.ssh/id_* private keys are private (mode 0600 or stricter)"));
    }
    return out;
}

std::string window_text(std::uint64_t after, std::uint64_t before) {
    if (after == 0 && before == UINT64_MAX) {
        return "forever";
    }
    return "from " + std::to_string(after) + " to " + std::to_string(before) +
           " (seconds since 1970)";
}

CheckResult check_certificate(const ClusterFacts& f) {
    const char* id = "cluster-certificate";
    if (!f.state) {
        return skip(id, "host certificate: not checked (no cluster state)");
    }
    const std::string restart = std::string(k_restart) + "; it signs the host key again";
    if (f.certificate_path.empty()) {
        return fail(id,
                    "no host certificate (<host key>-cert.pub) beside any host key: peers "
                    "cannot verify this node",
                    restart);
    }
    const std::string& path = f.certificate_path;
    if (!f.certificate) {
        return fail(id, "host certificate " + path + " cannot be read: " + f.certificate_error,
                    "remove it and " + restart);
    }
    const auto& c = *f.certificate;
    if (c.cert_type != 2) {
        return fail(id, path + " is a user certificate, not a host certificate",
                    "remove it and " + restart);
    }
    const auto& self = *f.state->self();
    std::vector<std::string> missing;
    for (const auto& name : {self.alias(), self.host}) {
        if (std::find(c.principals.begin(), c.principals.end(), name) == c.principals.end() &&
            std::find(missing.begin(), missing.end(), name) == missing.end()) {
            missing.push_back(name);
        }
    }
    if (!missing.empty()) {
        return fail(id,
                    "host certificate " + path + " is not valid for " + joined(missing) +
                        " (its principals: " + joined(c.principals) +
                        "): peers reaching this node by that name refuse it",
                    "restart the container so that it signs its certificate for the current "
                    "node list (SSHBOOT_CLUSTER_HOSTS or the platform's)");
    }
    if (f.now < c.valid_after || f.now >= c.valid_before) {
        return fail(id,
                    "host certificate " + path + " is not valid now (valid " +
                        window_text(c.valid_after, c.valid_before) + ", now " +
                        std::to_string(f.now) + ")",
                    "check the clock (date -u), then " + restart);
    }
    if (!f.known_hosts_error.empty()) {
        return fail(id,
                    "cannot read " + f.state->known_hosts +
                        " to compare the cluster CA: " + f.known_hosts_error,
                    restart);
    }
    if (std::find(f.known_ca_fingerprints.begin(), f.known_ca_fingerprints.end(),
                  c.ca_fingerprint) == f.known_ca_fingerprints.end()) {
        return fail(id,
                    "host certificate " + path + " is signed by CA " + c.ca_fingerprint +
                        ", which no @cert-authority line in " + f.state->known_hosts + " trusts" +
                        (f.known_ca_fingerprints.empty()
                             ? " (there is none)"
                             : " (it trusts " + joined(f.known_ca_fingerprints) + ")") +
                        ": the certificate and known_hosts come from different cluster secrets",
                    "give every node the same cluster secret and restart this container");
    }
    return ok(id, "host certificate " + path + " is valid " +
                      window_text(c.valid_after, c.valid_before) + " for " + joined(c.principals) +
                      ", signed by the cluster CA " + c.ca_fingerprint +
                      " that known_hosts trusts");
}

std::vector<CheckResult> check_peers(const ClusterFacts& f) {
    const char* id = "cluster-peers";
    if (!f.state) {
        return {skip(id, "peers: not checked (no cluster state)")};
    }
    if (!f.probe_error.empty()) {
        return {fail(id, "peers: cannot log in to them: " + f.probe_error,
                     "apt-get install -y openssh-client")};
    }
    if (!f.peers_probed) {
        return {skip(id, "peers: not checked")};
    }
    std::vector<CheckResult> out;
    std::vector<std::string> ready;
    for (const auto& p : f.peers) {
        const bool v6 = p.node.host.find(':') != std::string::npos;
        const std::string where =
            (v6 ? "[" + p.node.host + "]" : p.node.host) + ":" + std::to_string(p.node.port);
        if (p.ready) {
            ready.push_back(p.node.alias());
            continue;
        }
        out.push_back(fail(id, p.node.alias() + " (" + where + ") is not reachable: " + p.why,
                           "start it (or wait for it: sshboot cluster wait), and check that it "
                           "uses the same cluster secret and node list"));
    }
    if (out.empty()) {
        out.push_back(ok(id,
                         "every node accepts an SSH login with the cluster key and a valid "
                         "host certificate: " +
                             joined(ready)));
    }
    return out;
}

std::vector<CheckResult> check_launchers(const ClusterFacts& f) {
    const char* id = "cluster-launchers";
    std::vector<CheckResult> out;
    std::vector<std::string> found;
    if (f.pdsh_path.empty()) {
        out.push_back(warn(id, "pdsh is not on PATH (launchers such as deepspeed use it)",
                           "apt-get install -y pdsh, if you launch with pdsh or deepspeed"));
    } else {
        found.push_back(f.pdsh_path);
    }
    if (f.mpirun_path.empty()) {
        out.push_back(warn(id, "mpirun is not on PATH",
                           "apt-get install -y openmpi-bin (or your MPI), if you launch with "
                           "mpirun"));
    } else {
        found.push_back(f.mpirun_path);
    }
    if (out.empty()) {
        out.push_back(ok(id, "launchers found: " + joined(found)));
    }
    return out;
}

}  // namespace

std::vector<CheckResult> check_cluster(const ClusterFacts& f) {
    if (!f.enabled) {
        return {};
    }
    std::vector<CheckResult> out;
    auto add = [&](std::vector<CheckResult> more) {
        for (auto& r : more) {
            out.push_back(std::move(r));
        }
    };
    out.push_back(check_state(f));
    out.push_back(check_secret(f));
    add(check_file_modes(f));
    out.push_back(check_certificate(f));
    add(check_peers(f));
    add(check_launchers(f));
    return out;
}

}  // namespace sshboot::doctor
