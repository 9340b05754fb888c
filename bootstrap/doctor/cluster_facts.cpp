#include "doctor/cluster_facts.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>

#include "accounts/passwd.hpp"
#include "cluster/secret.hpp"
#include "cluster/wait.hpp"
#include "keys/fingerprint.hpp"
#include "keys/wire.hpp"
#include "util/base64.hpp"
#include "util/fs.hpp"
#include "util/parse.hpp"
#include "util/process.hpp"

namespace sshboot::doctor {
namespace {

using Clock = std::chrono::steady_clock;

std::optional<std::uint64_t> read_u64(keys::WireReader& r) {
    const auto hi = r.read_u32();
    const auto lo = r.read_u32();
    if (!hi || !lo) {
        return std::nullopt;
    }
    return (static_cast<std::uint64_t>(*hi) << 32) | *lo;
}

void gather_secret(const std::map<std::string, std::string>& env, ClusterFacts& f) {
    auto get = [&](const char* name) {
        auto it = env.find(name);
        return it == env.end() ? std::string() : it->second;
    };
    std::string raw = get("SSHBOOT_CLUSTER_SECRET");
    const std::string file = get("SSHBOOT_CLUSTER_SECRET_FILE");
    if (!raw.empty()) {
        f.secret_source = "SSHBOOT_CLUSTER_SECRET";
        std::string secret = cluster::normalize_secret(raw);
        if (auto st = cluster::validate_secret(secret, "SSHBOOT_CLUSTER_SECRET"); !st) {
            f.secret_problem = st.error().message;
        }
        sodium_memzero(secret.data(), secret.size());
    } else if (!file.empty()) {
        f.secret_source = "SSHBOOT_CLUSTER_SECRET_FILE " + file;
        f.secret_file = file;
        struct stat st {};
        if (::stat(file.c_str(), &st) == 0) {
            f.secret_file_mode = static_cast<unsigned>(st.st_mode & 07777);
        }
        auto secret = cluster::read_secret_file(file);
        if (!secret) {
            f.secret_problem = secret.error().message;
        } else {
            sodium_memzero(secret->data(), secret->size());
        }
    }
    if (!raw.empty()) {
        sodium_memzero(raw.data(), raw.size());
    }
}

void gather_certificate(const ClusterGatherOptions& o, ClusterFacts& f) {
    for (const auto& key : o.host_keys) {
        const std::string cert = key + "-cert.pub";
        if (util::path_exists(cert)) {
            f.certificate_path = cert;
            break;
        }
    }
    if (!f.certificate_path.empty()) {
        auto text = util::read_file(f.certificate_path, 1 << 16);
        if (!text) {
            f.certificate_error = text.error().message;
        } else if (auto c = parse_certificate_line(*text); !c) {
            f.certificate_error = c.error().message;
        } else {
            f.certificate = std::move(*c);
        }
    }
    if (f.state && !f.state->known_hosts.empty()) {
        auto text = util::read_file(f.state->known_hosts, 1 << 20);
        if (!text) {
            f.known_hosts_error = text.error().message;
        } else {
            f.known_ca_fingerprints = cert_authority_fingerprints(*text);
        }
    }
    f.now = static_cast<std::uint64_t>(std::time(nullptr));
}

void gather_client_keys(ClusterFacts& f) {
    if (!f.state) {
        return;
    }
    auto passwd = util::read_file("/etc/passwd", 16 << 20);
    if (!passwd) {
        return;
    }
    const auto user = accounts::find_user(*passwd, f.state->user);
    if (!user || user->home.empty()) {
        return;
    }
    const std::string dir = user->home + "/.ssh";
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
        return;
    }
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (!name.starts_with("id_") || name.ends_with(".pub")) {
            continue;
        }
        const std::string path = dir + "/" + name;
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) {
            if (S_ISLNK(st.st_mode) && ::stat(path.c_str(), &st) != 0) {
                continue;
            }
            f.client_keys.emplace_back(path, static_cast<unsigned>(st.st_mode & 07777));
        }
    }
    ::closedir(d);
}

void probe_peers(const ClusterGatherOptions& o, ClusterFacts& f) {
    if (!f.state || !o.probe) {
        return;
    }
    auto ssh = util::find_executable("ssh", o.path_env);
    if (!ssh) {
        f.probe_error = "no ssh client on PATH (apt-get install -y openssh-client)";
        return;
    }
    std::vector<std::vector<std::string>> argvs;
    for (const auto& n : f.state->nodes) {
        argvs.push_back(cluster::probe_command(*ssh, *f.state, n, o.probe_timeout_seconds));
    }
    const auto runs = cluster::run_commands(
        argvs, Clock::now() + std::chrono::seconds(o.probe_timeout_seconds + 2));
    f.peers_probed = true;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto v = cluster::classify_probe(runs[i].exit_code, runs[i].output);
        f.peers.push_back(PeerResult{f.state->nodes[i], v.ready, v.why});
    }
}

}  // namespace

util::Expected<CertificateInfo> parse_certificate_line(std::string_view line) {
    const auto fields = util::fields_of(line);
    if (fields.size() < 2) {
        return util::make_error("not a certificate line (expected \"<type> <base64>\")");
    }
    const auto blob = util::base64_decode(fields[1]);
    if (!blob) {
        return util::make_error("the certificate is not valid base64");
    }
    keys::WireReader r(*blob);
    CertificateInfo c;
    const auto type = r.read_string_text();
    if (!type || *type != fields[0]) {
        return util::make_error("the certificate's type does not match its line");
    }
    c.type = *type;
    if (c.type != "ssh-ed25519-cert-v01@openssh.com") {
        return util::make_error("not an ed25519 certificate: " + c.type);
    }
    const auto nonce = r.read_string();
    const auto pk = r.read_string();
    const auto serial = read_u64(r);
    const auto cert_type = r.read_u32();
    const auto key_id = r.read_string_text();
    const auto principals = r.read_string();
    const auto after = read_u64(r);
    const auto before = read_u64(r);
    const auto critical = r.read_string();
    const auto extensions = r.read_string();
    const auto reserved = r.read_string();
    const auto sig_key = r.read_string();
    const auto signature = r.read_string();
    if (!nonce || !pk || !serial || !cert_type || !key_id || !principals || !after || !before ||
        !critical || !extensions || !reserved || !sig_key || !signature || r.remaining() != 0) {
        return util::make_error("the certificate is truncated or malformed");
    }
    c.cert_type = *cert_type;
    c.key_id = *key_id;
    keys::WireReader pr(*principals);
    while (pr.remaining() > 0) {
        auto p = pr.read_string_text();
        if (!p) {
            return util::make_error("the certificate's principals are malformed");
        }
        c.principals.push_back(std::move(*p));
    }
    c.valid_after = *after;
    c.valid_before = *before;
    c.ca_fingerprint = keys::fingerprint_sha256(*sig_key);
    return c;
}

std::vector<std::string> cert_authority_fingerprints(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const auto fields = util::fields_of(text.substr(start, end - start));
        start = end + 1;
        if (fields.size() < 4 || fields[0] != "@cert-authority") {
            continue;
        }
        if (auto blob = util::base64_decode(fields[3])) {
            out.push_back(keys::fingerprint_sha256(*blob));
        }
    }
    return out;
}

const std::vector<std::string>& cluster_variables() {
    static const std::vector<std::string> names = {"SSHBOOT_CLUSTER_SECRET",
                                                   "SSHBOOT_CLUSTER_SECRET_FILE"};
    return names;
}

ClusterFacts gather_cluster(const ClusterGatherOptions& o) {
    ClusterFacts f;
    f.state_path = o.state_path;
    gather_secret(o.env, f);
    const bool state_exists = util::path_exists(o.state_path);
    f.enabled = !f.secret_source.empty() || state_exists;
    if (!f.enabled) {
        return f;
    }
    if (auto text = util::read_file(o.state_path, 1 << 20); !text) {
        f.state_error = text.error().message;
    } else if (auto s = cluster::parse_state(*text); !s) {
        f.state_error = s.error().message;
    } else {
        f.state = std::move(*s);
    }
    gather_certificate(o, f);
    gather_client_keys(f);
    f.pdsh_path = util::find_executable("pdsh", o.path_env).value_or("");
    f.mpirun_path = util::find_executable("mpirun", o.path_env).value_or("");
    probe_peers(o, f);
    return f;
}

}  // namespace sshboot::doctor
