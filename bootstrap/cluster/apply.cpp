#include "cluster/apply.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "cluster/certificate.hpp"
#include "cluster/derive.hpp"
#include "cluster/registry.hpp"
#include "cluster/secret.hpp"
#include "cluster/user_file.hpp"
#include "keys/authorized_keys.hpp"
#include "keys/fingerprint.hpp"
#include "keys/wire.hpp"
#include "util/base64.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

namespace sshboot::cluster {
namespace {

std::string trim_newline(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
        s.pop_back();
    }
    return s;
}

util::Expected<std::array<std::uint8_t, 32>> ed25519_public_bytes(const std::string& line) {
    const auto space = line.find(' ');
    if (space == std::string::npos || line.substr(0, space) != hostkeys::k_ed25519_type) {
        return util::make_error("host key is not an ssh-ed25519 key");
    }
    std::string b64 = line.substr(space + 1);
    b64 = b64.substr(0, b64.find(' '));
    auto blob = util::base64_decode(b64);
    if (!blob) {
        return util::make_error("host key's public line is not base64");
    }
    keys::WireReader r(*blob);
    auto type = r.read_string_text();
    auto pk = r.read_string();
    if (!type || *type != hostkeys::k_ed25519_type || !pk || pk->size() != 32) {
        return util::make_error("host key's public blob is not an ed25519 key");
    }
    std::array<std::uint8_t, 32> out{};
    std::copy(pk->begin(), pk->end(), out.begin());
    return out;
}

// Whether `name` under `ssh_dir` may be replaced by the cluster key: it is
// missing, or its .pub carries the comment sshboot gives its derived keys.
// An error when either is not a plain file (a symlink, a hard link).
util::Expected<bool> key_name_is_ours(int ssh_dir, const std::string& ssh_path,
                                      const std::string& name) {
    auto key = read_user_file(ssh_dir, name, ssh_path + "/" + name, 64 << 10);
    if (!key) {
        return key.error();
    }
    const bool missing = !key->has_value();
    if (key->has_value()) {
        sodium_memzero((*key)->data(), (*key)->size());
    }
    auto pub = read_user_file(ssh_dir, name + ".pub", ssh_path + "/" + name + ".pub", 64 << 10);
    if (!pub) {
        return pub.error();
    }
    return missing ||
           (pub->has_value() && trim_newline(**pub).ends_with(" " + std::string(k_key_comment)));
}

}  // namespace

ClusterPlan::ClusterPlan(std::string secret, Topology topology, std::string hostname)
    : m_secret(std::move(secret)),
      m_topology(std::move(topology)),
      m_hostname(std::move(hostname)) {}

ClusterPlan::ClusterPlan(ClusterPlan&& other) noexcept
    : m_secret(std::move(other.m_secret)),
      m_topology(std::move(other.m_topology)),
      m_hostname(std::move(other.m_hostname)) {
    sodium_memzero(other.m_secret.data(), other.m_secret.size());
    other.m_secret.clear();
}

ClusterPlan::~ClusterPlan() {
    sodium_memzero(m_secret.data(), m_secret.size());
}

util::Expected<ClusterPlan> plan_cluster(const ClusterOptions& options) {
    std::string secret;
    if (!options.secret_file.empty()) {
        auto read = read_secret_file(options.secret_file);
        if (!read) {
            return read.error();
        }
        secret = std::move(*read);
    } else {
        secret = normalize_secret(options.secret);
        if (auto st = validate_secret(secret, "SSHBOOT_CLUSTER_SECRET"); !st) {
            sodium_memzero(secret.data(), secret.size());
            return st.error();
        }
    }
    TopologyInput in;
    in.rank = options.rank;
    in.hosts = options.hosts;
    in.ssh_port = options.ssh_port;
    in.hostname = options.hostname;
    in.env = options.env;
    // RunPod: the workers that registered before a restart of the primary.
    in.registered = read_registry(std::string(k_registry_dir));
    auto topology = resolve_topology(in);
    if (!topology) {
        sodium_memzero(secret.data(), secret.size());
        return topology.error();
    }
    return ClusterPlan(std::move(secret), std::move(*topology), options.hostname);
}

std::string client_public_line(const ClusterPlan& plan) {
    auto key = derive_client_key(plan.secret());
    std::string line = trim_newline(hostkeys::ed25519_public_line(key, k_key_comment));
    hostkeys::wipe(key);
    return line;
}

const hostkeys::HostKey* find_ed25519_host_key(const std::vector<hostkeys::HostKey>& keys) {
    for (const auto& k : keys) {
        if (k.type == hostkeys::k_ed25519_type) {
            return &k;
        }
    }
    return nullptr;
}

std::vector<std::string> known_hosts_lines(const ClusterPlan& plan) {
    auto ca = derive_host_ca(plan.secret());
    // The cluster's own names only (ca_host_patterns): whoever holds the
    // secret can sign a certificate for any name, and "*" would let such a
    // certificate pass for github.com.
    std::string patterns;
    for (const auto& p : ca_host_patterns(plan.topology(), plan.hostname())) {
        patterns += (patterns.empty() ? "" : ",") + p;
    }
    std::string line = cert_authority_line(ca, patterns, "sshboot-cluster-ca");
    hostkeys::wipe(ca);
    return {line};
}

util::Expected<ClusterIdentity> write_identity(const ClusterPlan& plan,
                                               const accounts::PasswdEntry& user,
                                               const hostkeys::HostKey& host_key) {
    ClusterIdentity out;
    // The user's files: a problem there (a symlink, a wrong owner) costs
    // this node its logins to the peers, not SSH: a warning, and go on.
    const std::string ssh_path = util::path_join(user.home, ".ssh");
    out.identity_file = ssh_path + "/id_ed25519";
    auto user_files = [&]() -> util::Status {
        const util::FileOwner owner{user.uid, user.gid};
        auto home = util::open_dir(user.home);
        if (!home) {
            return util::Status(home.error());
        }
        auto ssh_dir = util::open_subdir_nofollow(home->get(), ".ssh", 0700, owner);
        if (!ssh_dir) {
            return util::make_error(user.home + "/" + ssh_dir.error().message);
        }

        // The client key.
        std::string key_name = "id_ed25519";
        auto ours = key_name_is_ours(ssh_dir->get(), ssh_path, key_name);
        if (!ours) {
            return util::Status(ours.error());
        }
        if (!*ours) {
            key_name = std::string(k_fallback_key_name);
            if (auto fallback = key_name_is_ours(ssh_dir->get(), ssh_path, key_name); !fallback) {
                return util::Status(fallback.error());
            }
            out.warnings.push_back(ssh_path +
                                   "/id_ed25519 is a key of your own: kept; the cluster "
                                   "key is " +
                                   ssh_path + "/" + key_name + " (the node-<rank> aliases use it)");
        }
        auto client_unchanged = [&] {
            // Written by an earlier start from the same secret: left as it is.
            struct stat st {};
            if (::fstatat(ssh_dir->get(), key_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600 || st.st_uid != user.uid ||
                st.st_gid != user.gid) {
                return false;
            }
            auto pem = read_user_file(ssh_dir->get(), key_name, key_name, 64 << 10);
            auto pub = read_user_file(ssh_dir->get(), key_name + ".pub", key_name, 64 << 10);
            if (!pem || !*pem || !pub || !*pub) {
                return false;
            }
            auto existing = hostkeys::parse_ed25519_private_pem(**pem);
            sodium_memzero((*pem)->data(), (*pem)->size());
            if (!existing) {
                return false;
            }
            auto client = derive_client_key(plan.secret());
            const bool same = existing->secret_key == client.secret_key &&
                              **pub == hostkeys::ed25519_public_line(client, k_key_comment);
            hostkeys::wipe(client);
            hostkeys::wipe(*existing);
            return same;
        };
        if (!client_unchanged()) {
            auto client = derive_client_key(plan.secret());
            std::string pem = hostkeys::ed25519_private_pem(client, k_key_comment);
            const std::string pub = hostkeys::ed25519_public_line(client, k_key_comment);
            hostkeys::wipe(client);
            auto st = util::write_file_atomic_at(ssh_dir->get(), key_name, pem, 0600, owner);
            sodium_memzero(pem.data(), pem.size());
            if (!st) {
                return util::make_error(ssh_path + "/" + st.error().message);
            }
            if (auto st2 =
                    util::write_file_atomic_at(ssh_dir->get(), key_name + ".pub", pub, 0644, owner);
                !st2) {
                return util::make_error(ssh_path + "/" + st2.error().message);
            }
        }
        out.identity_file = ssh_path + "/" + key_name;

        // The CA in known_hosts.
        {
            std::string existing;
            struct stat st {};
            auto text = read_user_file(ssh_dir->get(), "known_hosts", ssh_path + "/known_hosts");
            if (!text) {
                return util::Status(text.error());
            }
            if (*text) {
                existing = std::move(**text);
                ::fstatat(ssh_dir->get(), "known_hosts", &st, AT_SYMLINK_NOFOLLOW);
            }
            const std::string merged = keys::merge_managed_block(
                existing, known_hosts_lines(plan), k_known_hosts_begin, k_known_hosts_end);
            if (merged != existing || st.st_uid != user.uid) {
                if (auto w = util::write_file_atomic_at(ssh_dir->get(), "known_hosts", merged, 0644,
                                                        owner);
                    !w) {
                    return util::make_error(ssh_path + "/" + w.error().message);
                }
            }
        }
        return util::ok();
    };
    if (auto st = user_files(); !st) {
        out.warnings.push_back(st.error().message +
                               "; this node cannot log in to its peers until that is fixed "
                               "(they can still log in here)");
    }

    // The host certificate, issued again on every start (the names may have
    // changed); the same bytes when nothing did.
    auto host_pk = ed25519_public_bytes(host_key.public_line);
    if (!host_pk) {
        return util::make_error(host_key.private_path + ": " + host_pk.error().message);
    }
    const Topology& t = plan.topology();
    HostCertificateRequest req;
    req.host_public_key = *host_pk;
    req.principals = host_principals(t, plan.hostname());
    req.key_id = "sshboot-cluster " + t.self().alias() +
                 (plan.hostname().empty() ? "" : " " + plan.hostname());
    req.serial = static_cast<std::uint64_t>(t.rank);
    auto ca = derive_host_ca(plan.secret());
    const auto blob = sign_host_certificate(req, ca);
    out.ca_fingerprint = keys::fingerprint_sha256(hostkeys::ed25519_public_blob(ca));
    hostkeys::wipe(ca);
    out.certificate_path = host_key.private_path + "-cert.pub";
    const std::string cert_text = certificate_line(blob, t.self().alias());
    auto old_cert = util::read_file(out.certificate_path, 64 << 10);
    if (!old_cert || *old_cert != cert_text) {
        // Issued again from the secret on every start: no fsync needed.
        if (auto st = util::write_file_atomic(out.certificate_path, cert_text, 0644, std::nullopt,
                                              util::Durability::Regenerated);
            !st) {
            return st.error();
        }
    }
    out.principals = req.principals;
    return out;
}

}  // namespace sshboot::cluster
