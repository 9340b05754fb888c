#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cluster/apply.hpp"
#include "cluster/certificate.hpp"
#include "cluster/derive.hpp"
#include "cluster/secret.hpp"
#include "hostkeys/openssh_key.hpp"
#include "keys/fingerprint.hpp"
#include "keys/wire.hpp"
#include "util/base64.hpp"
#include "util/process.hpp"

namespace cluster = sshboot::cluster;
namespace hk = sshboot::hostkeys;
namespace util = sshboot::util;

namespace {

const std::string k_ssh_keygen = "/usr/bin/ssh-keygen";
const std::string k_secret = "sshboot-cluster-v1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY";

class ClusterTempDir {
  public:
    ClusterTempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "cluster-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        m_path = pattern;
    }
    ~ClusterTempDir() {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    ClusterTempDir(const ClusterTempDir&) = delete;
    ClusterTempDir& operator=(const ClusterTempDir&) = delete;
    std::string file(const std::string& name) const { return m_path + "/" + name; }

  private:
    std::string m_path;
};

// ssh-keygen is part of the test dependencies: under CI its absence fails.
bool need_ssh_keygen() {
    if (::access(k_ssh_keygen.c_str(), X_OK) == 0) {
        return true;
    }
    const char* ci = std::getenv("CI");
    EXPECT_FALSE(ci != nullptr && std::string(ci) == "true") << "ssh-keygen is not installed";
    return false;
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

cluster::HostCertificateRequest sample_request(const hk::Ed25519Key& host) {
    cluster::HostCertificateRequest req;
    req.host_public_key = host.public_key;
    req.key_id = "sshboot-cluster node-1";
    req.principals = {"node-1", "10.0.0.2", "worker-1.svc"};
    req.serial = 7;
    return req;
}

}  // namespace

TEST(GenerateSecret, HasThePrefixAndPassesValidation) {
    const std::string a = cluster::generate_secret();
    const std::string b = cluster::generate_secret();
    EXPECT_NE(a, b);
    EXPECT_TRUE(a.starts_with(cluster::k_secret_prefix));
    EXPECT_EQ(a.size(), cluster::k_secret_prefix.size() + 43);
    EXPECT_EQ(a.find_first_of(" \t\n\"'$=+/"), std::string::npos);
    EXPECT_TRUE(cluster::validate_secret(a, "SSHBOOT_CLUSTER_SECRET").has_value());
    EXPECT_GE(cluster::estimate_secret_bits(a), cluster::k_min_secret_bits);
    EXPECT_LE(cluster::estimate_secret_bits(a), 256.0);
}

TEST(NormalizeSecret, TrimsWhatFilesAndPastesAdd) {
    EXPECT_EQ(cluster::normalize_secret("  abc\r\n"), "abc");
    EXPECT_EQ(cluster::normalize_secret("abc\n\n"), "abc");
    EXPECT_EQ(cluster::normalize_secret("a b"), "a b");
}

TEST(ValidateSecret, AcceptsRandomTextFromCommonTools) {
    // openssl rand -base64 32, openssl rand -hex 32
    EXPECT_TRUE(cluster::validate_secret("q0V7m1xXo5Jb1g5yS8Lh2pF9rT3kW6zC+dNe4uQaYvI=", "S"));
    EXPECT_TRUE(cluster::validate_secret(
        "9f2c4e1a7b3d8e6f0a5c2b9d4e7f1a3c6b8d0e2f4a6c8e0b2d4f6a8c0e2b4d6f", "S"));
}

TEST(ValidateSecret, RefusesWeakSecretsAndSaysHowToMakeOne) {
    const std::vector<std::string> weak = {
        "",
        "password",
        "hunter2hunter2hunter2",
        std::string(64, 'a'),
        "abababababababababababababababababababababab",
        "0123456789012345678901234567890123456789",
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
        "correct horse battery staple",
        "9f2c4e1a7b3d8e6f",  // 64 random bits
    };
    for (const auto& s : weak) {
        auto st = cluster::validate_secret(s, "SSHBOOT_CLUSTER_SECRET");
        ASSERT_FALSE(st.has_value()) << s;
        EXPECT_NE(st.error().message.find("SSHBOOT_CLUSTER_SECRET"), std::string::npos);
        EXPECT_NE(st.error().message.find("sshboot cluster secret"), std::string::npos);
        if (!s.empty()) {
            EXPECT_EQ(st.error().message.find(s), std::string::npos) << "echoes the secret";
        }
    }
}

TEST(ValidateSecret, RefusesTheTemplatesPlaceholderWithOrWithoutThePrefix) {
    for (const std::string s :
         {"replace-with-the-output-of-sshboot-cluster-secret",
          "sshboot-cluster-v1:replace-with-the-output-of-sshboot-cluster-secret",
          "REPLACE-WITH-THE-OUTPUT-OF-SSHBOOT-CLUSTER-SECRET"}) {
        EXPECT_TRUE(cluster::is_known_placeholder(s)) << s;
        auto st = cluster::validate_secret(s, "SSHBOOT_CLUSTER_SECRET_FILE /etc/x");
        ASSERT_FALSE(st.has_value()) << s;
        EXPECT_NE(st.error().message.find("placeholder"), std::string::npos);
        EXPECT_NE(st.error().message.find("sshboot cluster secret"), std::string::npos);
        EXPECT_EQ(st.error().message.find(s), std::string::npos) << "echoes the secret";
    }
    EXPECT_FALSE(cluster::is_known_placeholder(cluster::generate_secret()));
}

TEST(ValidateSecret, RefusesThePrefixFollowedByLowEntropyText) {
    // Each decodes to 32 bytes: the form alone says nothing of the entropy.
    const std::string prefix(cluster::k_secret_prefix);
    const std::vector<std::string> weak = {
        prefix + std::string(43, 'A'),
        prefix + std::string(42, '_') + "w",
        prefix + "correcthorsebatterystaplecorrecthorsebatteg",
        prefix + "thisisthepasswordofourtrainingclusterokay1A",
        prefix + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        prefix + "Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7Xy7A",
        prefix + "q0V7m1xXo5Jbq0V7m1xXo5Jbq0V7m1xXo5Jbq0V7m1A",
        prefix + "ourclustersecretforthetrainingjobinthelab0w",
    };
    for (const auto& s : weak) {
        ASSERT_EQ(s.size(), prefix.size() + 43) << s;
        EXPECT_LT(cluster::estimate_secret_bits(s), cluster::k_min_secret_bits) << s;
        auto st = cluster::validate_secret(s, "SSHBOOT_CLUSTER_SECRET");
        ASSERT_FALSE(st.has_value()) << s;
        EXPECT_NE(st.error().message.find("too weak"), std::string::npos) << st.error().message;
        EXPECT_NE(st.error().message.find("sshboot cluster secret"), std::string::npos);
        EXPECT_EQ(st.error().message.find(s.substr(prefix.size())), std::string::npos);
    }
}

TEST(ValidateSecret, RefusesPhrasesAndRepeatsWithoutThePrefix) {
    for (const std::string s : {
             "the quick brown fox jumps over the lazy dog",
             "Our-Cluster-Secret-For-The-Training-Job-2024!",
             "mysupersecretclusterpasswordmysupersecretclusterpassword",
             "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3",
         }) {
        EXPECT_FALSE(cluster::validate_secret(s, "S").has_value()) << s;
    }
}

TEST(EstimateSecretBits, APhraseSaidAgainAcrossACapitalStaysWeak) {
    // Said twice, the seam ("secretAAAsshboot") has enough capitals inside
    // words that the whole text no longer reads like words; the repeat must
    // still cost only a few bits.
    const std::string once = "AAsshboot cluster secretA";
    const double one = cluster::estimate_text_bits(once);
    EXPECT_LT(cluster::estimate_text_bits(once + once), one + 16.0);
    EXPECT_FALSE(cluster::validate_secret(once + once + once, "S").has_value());
    EXPECT_FALSE(cluster::validate_secret("sshboot-cluster-v1:" + once + once, "S").has_value());
}

TEST(EstimateSecretBits, EveryGeneratedSecretIsWellAboveTheThreshold) {
    double lowest = 1e9;
    for (int i = 0; i < 20000; ++i) {
        const std::string s = cluster::generate_secret();
        lowest = std::min(lowest, cluster::estimate_secret_bits(s));
        ASSERT_TRUE(cluster::validate_secret(s, "S").has_value()) << s;
    }
    // A margin: a generated secret is never refused by chance.
    EXPECT_GT(lowest, cluster::k_min_secret_bits + 20) << lowest;
}

TEST(EstimateSecretBits, StaysBoundedOnLongText) {
    const std::string long_text(1 << 20, 'a');
    EXPECT_LT(cluster::estimate_text_bits(long_text), 64.0);
    EXPECT_EQ(cluster::estimate_text_bits(""), 0.0);
}

TEST(ValidateSecret, RefusesACutOffGeneratedSecretAndControlCharacters) {
    const std::string full = cluster::generate_secret();
    auto cut = cluster::validate_secret(full.substr(0, full.size() - 5), "S");
    ASSERT_FALSE(cut.has_value());
    EXPECT_NE(cut.error().message.find("not a complete secret"), std::string::npos);
    auto ctl = cluster::validate_secret(full + "\x01", "S");
    ASSERT_FALSE(ctl.has_value());
    EXPECT_NE(ctl.error().message.find("control character"), std::string::npos);
}

TEST(DeriveEd25519, IsDeterministicAndDomainSeparated) {
    const auto c1 = cluster::derive_client_key(k_secret);
    const auto c2 = cluster::derive_client_key(k_secret);
    const auto ca = cluster::derive_host_ca(k_secret);
    EXPECT_EQ(c1.public_key, c2.public_key);
    EXPECT_EQ(c1.secret_key, c2.secret_key);
    EXPECT_NE(c1.public_key, ca.public_key);
    EXPECT_NE(c1.secret_key, ca.secret_key);
    const auto other = cluster::derive_client_key(k_secret + "x");
    EXPECT_NE(other.public_key, c1.public_key);
    // A valid libsodium key pair: the secret key's tail is the public key.
    EXPECT_TRUE(std::equal(c1.public_key.begin(), c1.public_key.end(), c1.secret_key.begin() + 32));
}

TEST(DeriveEd25519, MatchesTheDocumentedConstruction) {
    // master = BLAKE2b-256(key="sshboot-cluster-v1/master", msg=secret);
    // seed = BLAKE2b-256(key=master, msg=label).
    const std::string master_key = "sshboot-cluster-v1/master";
    std::array<unsigned char, 32> master{};
    crypto_generichash(master.data(), 32, reinterpret_cast<const unsigned char*>(k_secret.data()),
                       k_secret.size(), reinterpret_cast<const unsigned char*>(master_key.data()),
                       master_key.size());
    std::array<unsigned char, 32> seed{};
    const std::string_view label = cluster::k_label_host_ca;
    crypto_generichash(seed.data(), 32, reinterpret_cast<const unsigned char*>(label.data()),
                       label.size(), master.data(), master.size());
    std::array<unsigned char, 32> pk{};
    std::array<unsigned char, 64> sk{};
    crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
    EXPECT_TRUE(
        std::equal(pk.begin(), pk.end(), cluster::derive_host_ca(k_secret).public_key.begin()));
}

TEST(DeriveEd25519, PrivateKeyIsReadBySshKeygen) {
    if (!need_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    ClusterTempDir dir;
    const auto key = cluster::derive_client_key(k_secret);
    const std::string path = dir.file("id_ed25519");
    write_text(path, hk::ed25519_private_pem(key, "cluster"));
    ::chmod(path.c_str(), 0600);
    auto run = util::run_capture({k_ssh_keygen, "-y", "-f", path});
    ASSERT_TRUE(run.has_value());
    EXPECT_EQ(run->exit_code, 0) << run->output;
    EXPECT_EQ(
        run->output.substr(0, run->output.find(" cluster")),
        hk::ed25519_public_line(key, "").substr(0, hk::ed25519_public_line(key, "").size() - 1));
}

TEST(SignHostCertificate, SignatureVerifiesOverTheBody) {
    const auto ca = cluster::derive_host_ca(k_secret);
    const auto host = hk::generate_ed25519();
    const auto blob = cluster::sign_host_certificate(sample_request(host), ca);

    // Walk the fields of PROTOCOL.certkeys.
    sshboot::keys::WireReader r(blob);
    EXPECT_EQ(r.read_string_text(), std::string(cluster::k_ed25519_cert_type));
    EXPECT_EQ(r.read_string()->size(), 32u);  // nonce
    auto pk = r.read_string();
    ASSERT_TRUE(pk.has_value());
    EXPECT_TRUE(std::equal(pk->begin(), pk->end(), host.public_key.begin()));
    EXPECT_EQ(r.read_u32(), 0u);  // serial, high half
    EXPECT_EQ(r.read_u32(), 7u);
    EXPECT_EQ(r.read_u32(), cluster::k_cert_type_host);
    EXPECT_EQ(r.read_string_text(), std::string("sshboot-cluster node-1"));
    auto principals = r.read_string();
    ASSERT_TRUE(principals.has_value());
    sshboot::keys::WireReader pr(*principals);
    EXPECT_EQ(pr.read_string_text(), std::string("node-1"));
    EXPECT_EQ(pr.read_string_text(), std::string("10.0.0.2"));
    EXPECT_EQ(pr.read_string_text(), std::string("worker-1.svc"));
    EXPECT_EQ(pr.remaining(), 0u);
    for (int i = 0; i < 4; ++i) {
        r.read_u32();  // valid after, valid before
    }
    EXPECT_EQ(r.read_string()->size(), 0u);  // critical options
    EXPECT_EQ(r.read_string()->size(), 0u);  // extensions
    EXPECT_EQ(r.read_string()->size(), 0u);  // reserved
    auto sig_key = r.read_string();
    ASSERT_TRUE(sig_key.has_value());
    EXPECT_EQ(std::vector<std::uint8_t>(sig_key->begin(), sig_key->end()),
              hk::ed25519_public_blob(ca));
    const std::size_t signed_len = blob.size() - r.remaining();
    auto sig_blob = r.read_string();
    ASSERT_TRUE(sig_blob.has_value());
    EXPECT_EQ(r.remaining(), 0u);
    sshboot::keys::WireReader sr(*sig_blob);
    EXPECT_EQ(sr.read_string_text(), std::string("ssh-ed25519"));
    auto sig = sr.read_string();
    ASSERT_TRUE(sig.has_value());
    ASSERT_EQ(sig->size(), 64u);
    EXPECT_EQ(
        crypto_sign_verify_detached(sig->data(), blob.data(), signed_len, ca.public_key.data()), 0);
    // Another CA's key does not verify it.
    const auto other = cluster::derive_host_ca(k_secret + "x");
    EXPECT_NE(
        crypto_sign_verify_detached(sig->data(), blob.data(), signed_len, other.public_key.data()),
        0);
}

TEST(SignHostCertificate, SshKeygenReadsAndVerifiesIt) {
    if (!need_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    ClusterTempDir dir;
    const auto ca = cluster::derive_host_ca(k_secret);
    const auto host = hk::generate_ed25519();
    const auto blob = cluster::sign_host_certificate(sample_request(host), ca);
    const std::string path = dir.file("ssh_host_ed25519_key-cert.pub");
    write_text(path, cluster::certificate_line(blob, "node-1"));

    auto run = util::run_capture({k_ssh_keygen, "-L", "-f", path});
    ASSERT_TRUE(run.has_value());
    ASSERT_EQ(run->exit_code, 0) << run->output;
    const std::string& out = run->output;
    EXPECT_NE(out.find("Type: ssh-ed25519-cert-v01@openssh.com host certificate"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("Public key: ED25519-CERT " +
                       sshboot::keys::fingerprint_sha256(hk::ed25519_public_blob(host))),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("Signing CA: ED25519 " +
                       sshboot::keys::fingerprint_sha256(hk::ed25519_public_blob(ca))),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("Key ID: \"sshboot-cluster node-1\""), std::string::npos) << out;
    EXPECT_NE(out.find("Serial: 7"), std::string::npos) << out;
    EXPECT_NE(out.find("Valid: forever"), std::string::npos) << out;
    EXPECT_NE(out.find("                node-1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("                10.0.0.2\n"), std::string::npos) << out;
    EXPECT_NE(out.find("                worker-1.svc\n"), std::string::npos) << out;

    // ssh-keygen checks the CA's signature when it loads a certificate: a
    // certificate whose signed part was changed is refused.
    auto tampered = blob;
    tampered[tampered.size() - 10] ^= 0x01;  // inside the signature
    write_text(path, cluster::certificate_line(tampered, "node-1"));
    auto bad = util::run_capture({k_ssh_keygen, "-L", "-f", path});
    ASSERT_TRUE(bad.has_value());
    EXPECT_NE(bad->exit_code, 0) << bad->output;
}

TEST(CertAuthorityLine, IsOneKnownHostsLine) {
    const auto ca = cluster::derive_host_ca(k_secret);
    const std::string line = cluster::cert_authority_line(ca, "*", "sshboot-cluster");
    EXPECT_TRUE(line.starts_with("@cert-authority * ssh-ed25519 AAAA")) << line;
    EXPECT_TRUE(line.ends_with(" sshboot-cluster")) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(SecretFileProblem, RefusesWhatOthersCanReadWriteOrOwn) {
    EXPECT_EQ(cluster::secret_file_problem(S_IFREG | 0600, 0, 0), "");
    EXPECT_EQ(cluster::secret_file_problem(S_IFREG | 0400, 1000, 1000), "");
    // A Kubernetes Secret volume's default (root-owned 0644), and 0440 (what
    // fsGroup makes of defaultMode: 0400) are refused with the fix.
    for (mode_t mode : {0644, 0640, 0604, 0440}) {
        const auto problem = cluster::secret_file_problem(S_IFREG | mode, 0, 0);
        EXPECT_NE(problem.find("readable by other users"), std::string::npos) << problem;
        EXPECT_NE(problem.find("defaultMode: 0400"), std::string::npos) << problem;
        EXPECT_NE(problem.find("chmod 0400"), std::string::npos) << problem;
    }
    EXPECT_NE(cluster::secret_file_problem(S_IFREG | 0666, 0, 0).find("writable by other users"),
              std::string::npos);
    EXPECT_NE(cluster::secret_file_problem(S_IFREG | 0620, 0, 0), "");
    EXPECT_NE(cluster::secret_file_problem(S_IFREG | 0600, 1001, 0).find("uid 1001"),
              std::string::npos);
    EXPECT_NE(cluster::secret_file_problem(S_IFREG | 0600, 1001, 1000), "");
    EXPECT_NE(cluster::secret_file_problem(S_IFDIR | 0700, 0, 0), "");
}

TEST(ReadSecretFile, ChecksModeAndContent) {
    ClusterTempDir dir;
    const std::string path = dir.file("secret");
    write_text(path, k_secret + "\n");
    ::chmod(path.c_str(), 0600);
    auto ok = cluster::read_secret_file(path);
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
    EXPECT_EQ(*ok, k_secret);
    ::chmod(path.c_str(), 0644);
    auto readable = cluster::read_secret_file(path);
    ASSERT_FALSE(readable.has_value());
    EXPECT_NE(readable.error().message.find("is mode 0644"), std::string::npos);
    ::chmod(path.c_str(), 0666);
    auto bad = cluster::read_secret_file(path);
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message.find("SSHBOOT_CLUSTER_SECRET_FILE " + path), std::string::npos);
    ::chmod(path.c_str(), 0600);
    write_text(path, "short\n");
    auto weak = cluster::read_secret_file(path);
    ASSERT_FALSE(weak.has_value());
    EXPECT_NE(weak.error().message.find("too weak"), std::string::npos);
    EXPECT_FALSE(cluster::read_secret_file(dir.file("missing")).has_value());
}

TEST(SignHostCertificate, SameRequestSameBytesAndTheNonceFollowsTheRequest) {
    const auto ca = cluster::derive_host_ca(k_secret);
    const auto host = hk::generate_ed25519();
    auto req = sample_request(host);
    const auto a = cluster::sign_host_certificate(req, ca);
    EXPECT_EQ(a, cluster::sign_host_certificate(req, ca));
    req.principals.push_back("extra");
    const auto b = cluster::sign_host_certificate(req, ca);
    sshboot::keys::WireReader ra(a);
    sshboot::keys::WireReader rb(b);
    ra.read_string();
    rb.read_string();
    auto na = ra.read_string();
    auto nb = rb.read_string();
    ASSERT_TRUE(na && nb);
    EXPECT_FALSE(std::equal(na->begin(), na->end(), nb->begin(), nb->end()));
}

TEST(PlanCluster, ResolvesTheNodesAndRefusesBadInputBeforeWriting) {
    cluster::ClusterOptions options;
    options.secret = k_secret + "\n";
    options.rank = "1";
    options.hosts = "10.0.0.1:2201,10.0.0.2:2202";
    options.hostname = "trainer-1";
    auto plan = cluster::plan_cluster(options);
    ASSERT_TRUE(plan.has_value()) << plan.error().message;
    EXPECT_EQ(plan->secret(), k_secret);
    EXPECT_EQ(plan->topology().rank, 1);
    EXPECT_EQ(plan->topology().self().host, "10.0.0.2");
    EXPECT_EQ(cluster::client_public_line(*plan), [] {
        auto k = cluster::derive_client_key(k_secret);
        auto line = hk::ed25519_public_line(k, "sshboot-cluster");
        line.pop_back();
        return line;
    }());
    const auto kh = cluster::known_hosts_lines(*plan);
    ASSERT_EQ(kh.size(), 1u);
    // The cluster's names only, never "*".
    EXPECT_TRUE(
        kh[0].starts_with("@cert-authority node-*,[10.0.0.1]:2201,[10.0.0.2]:2202,"
                          "[trainer-1]:2202 ssh-ed25519 "))
        << kh[0];

    auto weak = options;
    weak.secret = "password1";
    auto w = cluster::plan_cluster(weak);
    ASSERT_FALSE(w.has_value());
    EXPECT_NE(w.error().message.find("SSHBOOT_CLUSTER_SECRET"), std::string::npos);

    auto bad_hosts = options;
    bad_hosts.hosts = "10.0.0.1:99999";
    auto b = cluster::plan_cluster(bad_hosts);
    ASSERT_FALSE(b.has_value());
    EXPECT_NE(b.error().message.find("SSHBOOT_CLUSTER_HOSTS"), std::string::npos);

    auto missing_file = options;
    missing_file.secret.clear();
    missing_file.secret_file = "/nonexistent/sshboot-cluster-secret";
    auto m = cluster::plan_cluster(missing_file);
    ASSERT_FALSE(m.has_value());
    EXPECT_NE(m.error().message.find("SSHBOOT_CLUSTER_SECRET_FILE"), std::string::npos);
}
