#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "hostkeys/openssh_key.hpp"
#include "hostkeys/store.hpp"
#include "keys/fingerprint.hpp"
#include "util/base64.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

namespace hk = sshboot::hostkeys;
namespace util = sshboot::util;

namespace {

const std::string k_ssh_keygen = "/usr/bin/ssh-keygen";
const std::string k_sshd = "/usr/sbin/sshd";

// A temporary directory removed with everything in it.
class HostkeysTempDir {
  public:
    HostkeysTempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "hostkeys-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        m_path = pattern;
    }
    ~HostkeysTempDir() {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    HostkeysTempDir(const HostkeysTempDir&) = delete;
    HostkeysTempDir& operator=(const HostkeysTempDir&) = delete;
    const std::string& path() const { return m_path; }
    std::string file(const std::string& name) const { return m_path + "/" + name; }

  private:
    std::string m_path;
};

// Keeps every directory the store may use inside `dir`, and checks trust only
// below it (the temporary directory lives in the world-writable /tmp).
hk::StoreOptions opts(const HostkeysTempDir& dir) {
    hk::StoreOptions o;
    o.runtime_dir = dir.file("run/hostkeys");
    o.fallback_dir = dir.file("fallback");
    o.trusted_base = dir.path();
    return o;
}

bool have_ssh_keygen() {
    return ::access(k_ssh_keygen.c_str(), X_OK) == 0;
}

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;) {
        out.push_back(w);
    }
    return out;
}

// Runs ssh-keygen and returns its output; fails the test on a non-zero exit.
std::string ssh_keygen(const std::vector<std::string>& args) {
    std::vector<std::string> argv{k_ssh_keygen};
    argv.insert(argv.end(), args.begin(), args.end());
    auto run = util::run_capture(argv);
    EXPECT_TRUE(run.has_value());
    if (!run) {
        return {};
    }
    EXPECT_EQ(run->exit_code, 0) << run->output;
    return run->output;
}

// The "SHA256:..." word of `ssh-keygen -l -f <file>`.
std::string keygen_fingerprint(const std::string& file) {
    const auto w = words(ssh_keygen({"-l", "-f", file}));
    return w.size() >= 2 ? w[1] : std::string();
}

// "<type> <base64>" of `ssh-keygen -y -f <private file>`.
std::string keygen_public(const std::string& file) {
    const auto w = words(ssh_keygen({"-y", "-f", file}));
    return w.size() >= 2 ? w[0] + " " + w[1] : std::string();
}

mode_t file_mode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return 07777;
    }
    return st.st_mode & 07777;
}

std::string read_text(const std::string& path) {
    auto text = util::read_file(path);
    EXPECT_TRUE(text.has_value()) << path;
    return text ? *text : std::string();
}

void write_text(const std::string& path, const std::string& text, mode_t mode) {
    auto st = util::write_file_atomic(path, text, mode);
    ASSERT_TRUE(st.has_value()) << st.error().message;
}

// The decoded openssh-key-v1 bytes of a private key file.
std::vector<std::uint8_t> decode_pem(const std::string& pem) {
    std::istringstream in(pem);
    std::string body;
    for (std::string line; std::getline(in, line);) {
        if (!line.starts_with("-----")) {
            body += line;
        }
    }
    auto bytes = util::base64_decode(body);
    EXPECT_TRUE(bytes.has_value());
    return bytes ? *bytes : std::vector<std::uint8_t>{};
}

}  // namespace

// ---- openssh_key -------------------------------------------------------------

TEST(GenerateEd25519, ProducesDistinctConsistentKeys) {
    auto a = hk::generate_ed25519();
    auto b = hk::generate_ed25519();
    EXPECT_NE(a.public_key, b.public_key);
    // libsodium's secret key ends with the public key.
    EXPECT_TRUE(std::equal(a.public_key.begin(), a.public_key.end(), a.secret_key.begin() + 32));
}

TEST(Ed25519PublicBlob, IsTypeThenKeyInWireFormat) {
    auto key = hk::generate_ed25519();
    const auto blob = hk::ed25519_public_blob(key);
    ASSERT_EQ(blob.size(), 4u + 11u + 4u + 32u);
    EXPECT_EQ(std::string(blob.begin() + 4, blob.begin() + 15), "ssh-ed25519");
    EXPECT_EQ(blob[18], 32);
    EXPECT_TRUE(std::equal(key.public_key.begin(), key.public_key.end(), blob.begin() + 19));
}

TEST(Ed25519PublicLine, FormatsTypeBase64AndComment) {
    auto key = hk::generate_ed25519();
    const std::string b64 = util::base64_encode(hk::ed25519_public_blob(key));
    EXPECT_EQ(hk::ed25519_public_line(key, "host@box"), "ssh-ed25519 " + b64 + " host@box\n");
    EXPECT_EQ(hk::ed25519_public_line(key, ""), "ssh-ed25519 " + b64 + "\n");
    EXPECT_TRUE(b64.starts_with("AAAAC3NzaC1lZDI1NTE5AAAAI"));
}

TEST(Ed25519PrivatePem, HasArmourAndSeventyColumnLines) {
    auto key = hk::generate_ed25519();
    const std::string pem = hk::ed25519_private_pem(key, "a comment");
    EXPECT_TRUE(pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    EXPECT_TRUE(pem.ends_with("\n-----END OPENSSH PRIVATE KEY-----\n"));
    std::istringstream in(pem);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    ASSERT_GE(lines.size(), 4u);
    for (std::size_t i = 1; i + 2 < lines.size(); ++i) {
        EXPECT_EQ(lines[i].size(), 70u) << "line " << i;
    }
    EXPECT_LE(lines[lines.size() - 2].size(), 70u);
    EXPECT_GT(lines[lines.size() - 2].size(), 0u);
}

TEST(Ed25519PrivatePem, LayoutMatchesSshKeygenByteForByte) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    HostkeysTempDir dir;
    const std::string path = dir.file("ref");
    ssh_keygen({"-q", "-t", "ed25519", "-N", "", "-C", "someone@example", "-f", path});
    const std::string reference = read_text(path);
    auto key = hk::parse_ed25519_private_pem(reference);
    ASSERT_TRUE(key.has_value()) << key.error().message;
    const std::string ours = hk::ed25519_private_pem(*key, "someone@example");

    auto ref_bytes = decode_pem(reference);
    auto our_bytes = decode_pem(ours);
    ASSERT_EQ(ref_bytes.size(), our_bytes.size());
    // Everything but the two random check values is determined by the key.
    const std::size_t check_at = 15 + 8 + 8 + 4 + 4 + (4 + 51) + 4;
    ASSERT_GT(ref_bytes.size(), check_at + 8);
    EXPECT_TRUE(std::equal(our_bytes.begin() + check_at, our_bytes.begin() + check_at + 4,
                           our_bytes.begin() + check_at + 4));
    std::fill(ref_bytes.begin() + check_at, ref_bytes.begin() + check_at + 8, 0);
    std::fill(our_bytes.begin() + check_at, our_bytes.begin() + check_at + 8, 0);
    EXPECT_EQ(ref_bytes, our_bytes);
    // Same line structure too.
    EXPECT_EQ(ours.size(), reference.size());
}

TEST(Ed25519PrivatePem, SshKeygenReadsItWithOurFingerprintAndPublicKey) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    HostkeysTempDir dir;
    for (const std::string comment : {"", "c", "root@container-1234", "seven!!"}) {
        auto key = hk::generate_ed25519();
        const std::string path = dir.file("key");
        write_text(path, hk::ed25519_private_pem(key, comment), 0600);
        const auto blob = hk::ed25519_public_blob(key);
        EXPECT_EQ(keygen_fingerprint(path), sshboot::keys::fingerprint_sha256(blob));
        const std::string ours = hk::ed25519_public_line(key, comment);
        EXPECT_EQ(keygen_public(path) + (comment.empty() ? "" : " " + comment) + "\n", ours);
        const auto listed = words(ssh_keygen({"-l", "-f", path}));
        ASSERT_FALSE(listed.empty());
        EXPECT_EQ(listed.front(), "256");
        EXPECT_EQ(listed.back(), "(ED25519)");
        if (!comment.empty()) {
            EXPECT_EQ(listed[2], comment);
        }
    }
}

TEST(ParseEd25519PrivatePem, RoundTripsOurOwnOutput) {
    auto key = hk::generate_ed25519();
    auto parsed = hk::parse_ed25519_private_pem(hk::ed25519_private_pem(key, "x"));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->public_key, key.public_key);
    EXPECT_EQ(parsed->secret_key, key.secret_key);
}

TEST(ParseEd25519PrivatePem, AcceptsCrlfLineEnds) {
    auto key = hk::generate_ed25519();
    std::string pem = hk::ed25519_private_pem(key, "");
    std::string crlf;
    for (char c : pem) {
        if (c == '\n') {
            crlf += '\r';
        }
        crlf += c;
    }
    auto parsed = hk::parse_ed25519_private_pem(crlf);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->public_key, key.public_key);
}

TEST(ParseEd25519PrivatePem, RefusesGarbageAndTruncation) {
    auto key = hk::generate_ed25519();
    const std::string pem = hk::ed25519_private_pem(key, "");
    EXPECT_FALSE(hk::parse_ed25519_private_pem("").has_value());
    EXPECT_FALSE(hk::parse_ed25519_private_pem("hello").has_value());
    EXPECT_FALSE(hk::parse_ed25519_private_pem(pem.substr(0, pem.size() / 2)).has_value());
    auto missing_end = hk::parse_ed25519_private_pem(pem.substr(0, pem.find("-----END")));
    ASSERT_FALSE(missing_end.has_value());
    EXPECT_NE(missing_end.error().message.find("truncated"), std::string::npos);
}

TEST(ParseEd25519PrivatePem, DetectsEveryFlippedByte) {
    auto key = hk::generate_ed25519();
    const std::string pem = hk::ed25519_private_pem(key, "");
    auto bytes = decode_pem(pem);
    // Every byte of the container matters except the comment bytes (there are none
    // here) and the key bytes' own high bits: flip each byte and expect a refusal.
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        auto changed = bytes;
        changed[i] ^= 0x01;
        const std::string text = "-----BEGIN OPENSSH PRIVATE KEY-----\n" +
                                 util::base64_encode(changed) +
                                 "\n-----END OPENSSH PRIVATE KEY-----\n";
        auto parsed = hk::parse_ed25519_private_pem(text);
        EXPECT_FALSE(parsed.has_value()) << "byte " << i << " flipped was accepted";
    }
}

TEST(ParseEd25519PrivatePem, RefusesEncryptedKeyByName) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    HostkeysTempDir dir;
    const std::string path = dir.file("enc");
    ssh_keygen({"-q", "-t", "ed25519", "-N", "a passphrase", "-a", "2", "-f", path});
    auto parsed = hk::parse_ed25519_private_pem(read_text(path));
    ASSERT_FALSE(parsed.has_value());
    EXPECT_NE(parsed.error().message.find("encrypted"), std::string::npos)
        << parsed.error().message;
}

TEST(ParseEd25519PrivatePem, ReadsSshKeygenKeysAndRefusesOtherTypes) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    HostkeysTempDir dir;
    const std::string ed = dir.file("ed");
    ssh_keygen({"-q", "-t", "ed25519", "-N", "", "-f", ed});
    auto parsed = hk::parse_ed25519_private_pem(read_text(ed));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(words(hk::ed25519_public_line(*parsed, ""))[1], words(read_text(ed + ".pub"))[1]);

    const std::string ec = dir.file("ec");
    ssh_keygen({"-q", "-t", "ecdsa", "-N", "", "-f", ec});
    auto wrong = hk::parse_ed25519_private_pem(read_text(ec));
    ASSERT_FALSE(wrong.has_value());
    EXPECT_NE(wrong.error().message.find("ecdsa-sha2-nistp256"), std::string::npos);
}

TEST(ParseOpensshPrivate, ReadsPublicBlobOfEveryType) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    HostkeysTempDir dir;
    for (const std::string type : {"ed25519", "ecdsa", "rsa"}) {
        const std::string path = dir.file(type);
        ssh_keygen({"-q", "-t", type, "-N", "", "-C", "comment " + type, "-f", path});
        auto info = hk::parse_openssh_private(read_text(path));
        ASSERT_TRUE(info.has_value()) << type << ": " << info.error().message;
        const auto pub = words(read_text(path + ".pub"));
        EXPECT_EQ(info->key_type, pub[0]);
        EXPECT_EQ(util::base64_encode(info->public_blob), pub[1]);
    }
}

TEST(ParseOpensshPrivate, RefusesPemAndPublicKeys) {
    auto pub = hk::parse_openssh_private("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 x\n");
    ASSERT_FALSE(pub.has_value());
    EXPECT_NE(pub.error().message.find("not an OpenSSH private key"), std::string::npos);
    auto pem = hk::parse_openssh_private(
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
    EXPECT_FALSE(pem.has_value());
}

// ---- store -------------------------------------------------------------------

TEST(ParseHostKeyTypes, AcceptsShortAndAlgorithmNames) {
    auto one = hk::parse_host_key_types("ed25519");
    ASSERT_TRUE(one.has_value());
    EXPECT_EQ(*one, (std::vector<std::string>{"ed25519"}));

    auto all = hk::parse_host_key_types(" ed25519, ECDSA ,rsa ");
    ASSERT_TRUE(all.has_value()) << all.error().message;
    EXPECT_EQ(*all, (std::vector<std::string>{"ed25519", "ecdsa", "rsa"}));

    auto algs = hk::parse_host_key_types("ssh-rsa ssh-ed25519,ecdsa-sha2-nistp256");
    ASSERT_TRUE(algs.has_value()) << algs.error().message;
    EXPECT_EQ(*algs, (std::vector<std::string>{"rsa", "ed25519", "ecdsa"}));

    auto dup = hk::parse_host_key_types("rsa,rsa,ssh-rsa,,ed25519");
    ASSERT_TRUE(dup.has_value());
    EXPECT_EQ(*dup, (std::vector<std::string>{"rsa", "ed25519"}));
}

TEST(ParseHostKeyTypes, RefusesUnknownNamesNamingThem) {
    for (const std::string bad : {"dsa", "ed448", "ed25519,rsa4096", "ecdsa-sha2-nistp384x"}) {
        auto r = hk::parse_host_key_types(bad);
        ASSERT_FALSE(r.has_value()) << bad;
        const std::string culprit =
            bad.substr(bad.find(',') == std::string::npos ? 0 : bad.find(',') + 1);
        EXPECT_NE(r.error().message.find("'" + culprit + "'"), std::string::npos)
            << r.error().message;
        EXPECT_NE(r.error().message.find("ed25519, ecdsa or rsa"), std::string::npos);
    }
    // Escape sequences in the value are shown escaped, never raw.
    auto r = hk::parse_host_key_types("ed25519,\x1b]0;t\x07\x1b[2J");
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("'\\x1b]0;t\\x07\\x1b[2J'"), std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().message.find('\x1b'), std::string::npos);
    EXPECT_FALSE(hk::parse_host_key_types("").has_value());
    EXPECT_FALSE(hk::parse_host_key_types(" , ").has_value());
}

TEST(HostKeyFileName, FollowsOpensshNaming) {
    EXPECT_EQ(hk::host_key_file_name("ed25519"), "ssh_host_ed25519_key");
    EXPECT_EQ(hk::host_key_file_name("rsa"), "ssh_host_rsa_key");
}

TEST(EnsureHostKeys, CreatesEd25519InNewStateDirAndReusesIt) {
    HostkeysTempDir dir;
    const std::string state = dir.file("a/b/state");
    auto first = hk::ensure_host_keys(state, {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(first.has_value()) << first.error().message;
    ASSERT_EQ(first->size(), 1u);
    const auto& key = first->front();
    EXPECT_TRUE(key.generated);
    EXPECT_EQ(key.type, "ssh-ed25519");
    EXPECT_EQ(key.private_path, state + "/ssh_host_ed25519_key");
    EXPECT_TRUE(key.public_line.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
    EXPECT_EQ(words(key.public_line).size(), 2u);
    EXPECT_TRUE(key.fingerprint.starts_with("SHA256:"));
    EXPECT_EQ(file_mode(state), 0700u);
    EXPECT_EQ(file_mode(key.private_path), 0600u);
    EXPECT_EQ(file_mode(key.private_path + ".pub"), 0644u);
    EXPECT_EQ(read_text(key.private_path + ".pub"), key.public_line + "\n");

    auto second = hk::ensure_host_keys(state, {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(second.has_value()) << second.error().message;
    ASSERT_EQ(second->size(), 1u);
    EXPECT_FALSE(second->front().generated);
    EXPECT_EQ(second->front().fingerprint, key.fingerprint);
    EXPECT_EQ(second->front().public_line, key.public_line);

    if (have_ssh_keygen()) {
        EXPECT_EQ(keygen_fingerprint(key.private_path), key.fingerprint);
        EXPECT_EQ(keygen_public(key.private_path), key.public_line);
    }
}

TEST(EnsureHostKeys, RelativeStateDirGivesAbsolutePaths) {
    HostkeysTempDir dir;
    const auto old_cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir.path());
    auto keys = hk::ensure_host_keys("rel", {"ed25519"}, "", opts(dir));
    std::filesystem::current_path(old_cwd);
    ASSERT_TRUE(keys.has_value()) << keys.error().message;
    EXPECT_EQ(keys->front().private_path, dir.path() + "/rel/ssh_host_ed25519_key");
}

// The names in `dir` that start with `prefix`.
std::vector<std::string> names_starting(const std::string& dir, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name.starts_with(prefix)) {
            out.push_back(name);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(EnsureHostKeys, ExposedPrivateKeyIsSetAsideAndReplaced) {
    HostkeysTempDir dir;
    auto first = hk::ensure_host_keys(dir.path(), {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(first.has_value()) << first.error().message;
    const std::string priv = first->front().private_path;
    ASSERT_EQ(::chmod(priv.c_str(), 0644), 0);
    const std::string old_text = read_text(priv);
    auto second = hk::ensure_host_keys(dir.path(), {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(second.has_value()) << second.error().message;
    EXPECT_TRUE(second->front().generated);
    EXPECT_NE(second->front().fingerprint, first->front().fingerprint);
    EXPECT_EQ(file_mode(priv), 0600u);
    const auto aside = names_starting(dir.path(), "ssh_host_ed25519_key.exposed-");
    ASSERT_EQ(aside.size(), 2u);  // the key and its .pub
    EXPECT_EQ(read_text(dir.file(aside[0])), old_text);
    EXPECT_TRUE(aside[1].ends_with(".pub"));
    // Its read bits are taken away; the public half may stay readable.
    EXPECT_EQ(file_mode(dir.file(aside[0])), 0600u);
    EXPECT_EQ(file_mode(dir.file(aside[1])), 0644u);
}

TEST(EnsureHostKeys, SymlinkInPlaceOfAKeyIsSetAsideNotFollowed) {
    HostkeysTempDir dir;
    const std::string target = dir.file("target");
    write_text(target, "not yours\n", 0644);
    const std::string state = dir.file("state");
    ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
    ASSERT_EQ(::symlink(target.c_str(), (state + "/ssh_host_ed25519_key").c_str()), 0);
    auto keys = hk::ensure_host_keys(state, {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(keys.has_value()) << keys.error().message;
    EXPECT_TRUE(keys->front().generated);
    EXPECT_EQ(file_mode(target), 0644u);
    EXPECT_EQ(read_text(target), "not yours\n");
    const auto aside = names_starting(state, "ssh_host_ed25519_key.refused-");
    ASSERT_EQ(aside.size(), 1u);
    struct stat st {};
    ASSERT_EQ(::lstat((state + "/" + aside[0]).c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(EnsureHostKeys, StateDirOthersCanWriteIsNotUsed) {
    HostkeysTempDir dir;
    const std::string shared = dir.file("shared");
    ASSERT_EQ(::mkdir(shared.c_str(), 0777), 0);
    ASSERT_EQ(::chmod(shared.c_str(), 0777), 0);
    auto keys = hk::ensure_host_keys(shared + "/.sshboot", {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(keys.has_value()) << keys.error().message;
    EXPECT_EQ(keys->front().private_path, dir.file("fallback/ssh_host_ed25519_key"));
    EXPECT_FALSE(util::path_exists(shared + "/.sshboot"));
}

TEST(EnsureHostKeys, StateDirOwnedByAnotherUidIsNotUsed) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to chown";
    }
    HostkeysTempDir dir;
    const std::string state = dir.file("state");
    ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
    ASSERT_EQ(::chown(state.c_str(), 1000, 1000), 0);
    auto keys = hk::ensure_host_keys(state, {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(keys.has_value()) << keys.error().message;
    EXPECT_EQ(keys->front().private_path, dir.file("fallback/ssh_host_ed25519_key"));
    EXPECT_FALSE(util::path_exists(state + "/ssh_host_ed25519_key"));
}

TEST(EnsureHostKeys, RewritesMissingOrStalePublicFile) {
    HostkeysTempDir dir;
    auto first = hk::ensure_host_keys(dir.path(), {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(first.has_value()) << first.error().message;
    const std::string pub = first->front().private_path + ".pub";

    ASSERT_EQ(::unlink(pub.c_str()), 0);
    auto again = hk::ensure_host_keys(dir.path(), {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(again.has_value()) << again.error().message;
    EXPECT_FALSE(again->front().generated);
    EXPECT_EQ(again->front().fingerprint, first->front().fingerprint);
    EXPECT_EQ(read_text(pub), first->front().public_line + "\n");
    EXPECT_EQ(file_mode(pub), 0644u);

    // A .pub of some other key is replaced by the private key's own.
    auto other = hk::generate_ed25519();
    write_text(pub, hk::ed25519_public_line(other, "other"), 0644);
    auto stale = hk::ensure_host_keys(dir.path(), {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(stale.has_value()) << stale.error().message;
    EXPECT_EQ(stale->front().fingerprint, first->front().fingerprint);
    EXPECT_EQ(read_text(pub), first->front().public_line + "\n");
}

TEST(EnsureHostKeys, ReusesKeyMadeBySshKeygen) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    HostkeysTempDir dir;
    const std::string priv = dir.file("ssh_host_ed25519_key");
    ssh_keygen({"-q", "-t", "ed25519", "-N", "", "-C", "root@image", "-f", priv});
    const std::string fp = keygen_fingerprint(priv);
    auto keys = hk::ensure_host_keys(dir.path(), {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(keys.has_value()) << keys.error().message;
    EXPECT_FALSE(keys->front().generated);
    EXPECT_EQ(keys->front().fingerprint, fp);
}

TEST(EnsureHostKeys, CorruptPrivateKeyIsAnErrorNotAnOverwrite) {
    HostkeysTempDir dir;
    auto first = hk::ensure_host_keys(dir.path(), {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(first.has_value()) << first.error().message;
    const std::string priv = first->front().private_path;
    std::string text = read_text(priv);
    text[60] = text[60] == 'A' ? 'B' : 'A';
    write_text(priv, text, 0600);

    auto again = hk::ensure_host_keys(dir.path(), {"ed25519"}, "", opts(dir));
    ASSERT_FALSE(again.has_value());
    EXPECT_NE(again.error().message.find(priv), std::string::npos) << again.error().message;
    EXPECT_NE(again.error().message.find("delete"), std::string::npos) << again.error().message;
    EXPECT_EQ(read_text(priv), text);

    write_text(priv, "not a key at all\n", 0600);
    auto garbage = hk::ensure_host_keys(dir.path(), {"ed25519"}, "", opts(dir));
    ASSERT_FALSE(garbage.has_value());
    EXPECT_NE(garbage.error().message.find(priv), std::string::npos);
    EXPECT_EQ(read_text(priv), "not a key at all\n");
}

TEST(EnsureHostKeys, EncryptedPrivateKeyIsAnError) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    HostkeysTempDir dir;
    const std::string priv = dir.file("ssh_host_ed25519_key");
    ssh_keygen({"-q", "-t", "ed25519", "-N", "secret phrase", "-a", "2", "-f", priv});
    const std::string before = read_text(priv);
    auto keys = hk::ensure_host_keys(dir.path(), {"ed25519"}, "", opts(dir));
    ASSERT_FALSE(keys.has_value());
    EXPECT_NE(keys.error().message.find("encrypted"), std::string::npos) << keys.error().message;
    EXPECT_NE(keys.error().message.find(priv), std::string::npos);
    EXPECT_EQ(read_text(priv), before);
}

TEST(EnsureHostKeys, CreatesAllThreeTypesWithSshKeygen) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    HostkeysTempDir dir;
    auto keys =
        hk::ensure_host_keys(dir.path(), {"ed25519", "ecdsa", "rsa"}, k_ssh_keygen, opts(dir));
    ASSERT_TRUE(keys.has_value()) << keys.error().message;
    ASSERT_EQ(keys->size(), 3u);
    const std::vector<std::string> types{"ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"};
    const std::vector<std::string> sizes{"256", "256", "3072"};
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& key = (*keys)[i];
        EXPECT_EQ(key.type, types[i]);
        EXPECT_TRUE(key.generated);
        EXPECT_EQ(file_mode(key.private_path), 0600u) << key.private_path;
        EXPECT_EQ(file_mode(key.private_path + ".pub"), 0644u) << key.private_path;
        EXPECT_EQ(keygen_fingerprint(key.private_path), key.fingerprint) << key.private_path;
        EXPECT_EQ(keygen_public(key.private_path), key.public_line);
        EXPECT_EQ(words(ssh_keygen({"-l", "-f", key.private_path})).front(), sizes[i]);
    }
    // No temporary files are left behind.
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) {
        ++entries;
    }
    EXPECT_EQ(entries, 6u);

    // Second start: same keys; a missing rsa .pub is recovered with ssh-keygen -y.
    ASSERT_EQ(::unlink(((*keys)[2].private_path + ".pub").c_str()), 0);
    auto again =
        hk::ensure_host_keys(dir.path(), {"ed25519", "ecdsa", "rsa"}, k_ssh_keygen, opts(dir));
    ASSERT_TRUE(again.has_value()) << again.error().message;
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_FALSE((*again)[i].generated);
        EXPECT_EQ((*again)[i].fingerprint, (*keys)[i].fingerprint);
    }
    EXPECT_EQ(words(read_text((*keys)[2].private_path + ".pub"))[1],
              words((*keys)[2].public_line)[1]);
}

TEST(EnsureHostKeys, ReusesPemRsaKeyAndRecoversItsPublicFile) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    HostkeysTempDir dir;
    const std::string priv = dir.file("ssh_host_rsa_key");
    ssh_keygen({"-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", priv});
    ASSERT_TRUE(read_text(priv).starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    const std::string fp = keygen_fingerprint(priv);
    ASSERT_EQ(::unlink((priv + ".pub").c_str()), 0);

    auto keys = hk::ensure_host_keys(dir.path(), {"rsa"}, k_ssh_keygen, opts(dir));
    ASSERT_TRUE(keys.has_value()) << keys.error().message;
    EXPECT_FALSE(keys->front().generated);
    EXPECT_EQ(keys->front().type, "ssh-rsa");
    EXPECT_EQ(keys->front().fingerprint, fp);
    EXPECT_EQ(read_text(priv + ".pub"), keys->front().public_line + "\n");
    EXPECT_EQ(file_mode(priv + ".pub"), 0644u);

    // Without ssh-keygen the missing .pub cannot be recovered: a clear error.
    ASSERT_EQ(::unlink((priv + ".pub").c_str()), 0);
    auto no_keygen = hk::ensure_host_keys(dir.path(), {"rsa"}, "", opts(dir));
    ASSERT_FALSE(no_keygen.has_value());
    EXPECT_NE(no_keygen.error().message.find("ssh-keygen"), std::string::npos);
}

TEST(EnsureHostKeys, NeedsSshKeygenOnlyForOtherTypes) {
    HostkeysTempDir dir;
    auto keys = hk::ensure_host_keys(dir.path(), {"ecdsa"}, "", opts(dir));
    ASSERT_FALSE(keys.has_value());
    EXPECT_NE(keys.error().message.find("ssh-keygen"), std::string::npos) << keys.error().message;
    EXPECT_FALSE(util::path_exists(dir.file("ssh_host_ecdsa_key")));
}

TEST(EnsureHostKeys, RefusesUnknownType) {
    HostkeysTempDir dir;
    auto keys = hk::ensure_host_keys(dir.path(), {"dsa"}, k_ssh_keygen, opts(dir));
    ASSERT_FALSE(keys.has_value());
    EXPECT_NE(keys.error().message.find("dsa"), std::string::npos);
}

TEST(EnsureHostKeys, WrongKeyTypeInFileIsAnError) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "ssh-keygen is not installed";
    }
    HostkeysTempDir dir;
    const std::string priv = dir.file("ssh_host_rsa_key");
    ssh_keygen({"-q", "-t", "ed25519", "-N", "", "-f", priv});
    auto keys = hk::ensure_host_keys(dir.path(), {"rsa"}, k_ssh_keygen, opts(dir));
    ASSERT_FALSE(keys.has_value());
    EXPECT_NE(keys.error().message.find("ssh-ed25519"), std::string::npos) << keys.error().message;
}

TEST(EnsureHostKeys, NeverUsesEtcSsh) {
    // Only where /etc/ssh already holds an ed25519 key, so nothing could be written there.
    if (!util::path_exists("/etc/ssh/ssh_host_ed25519_key")) {
        GTEST_SKIP() << "/etc/ssh holds no ed25519 key";
    }
    HostkeysTempDir dir;
    hk::StoreOptions o = opts(dir);
    o.trusted_base = "/";
    auto direct = hk::ensure_host_keys("/etc/ssh", {"ed25519"}, "", o);
    ASSERT_FALSE(direct.has_value());
    EXPECT_NE(direct.error().message.find("/etc/ssh"), std::string::npos);

    // A symlink to it is never followed: the keys go to the fallback directory.
    const std::string link = dir.file("state");
    ASSERT_EQ(::symlink("/etc/ssh", link.c_str()), 0);
    auto via_link = hk::ensure_host_keys(link + "/", {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(via_link.has_value()) << via_link.error().message;
    EXPECT_EQ(via_link->front().private_path, dir.file("fallback/ssh_host_ed25519_key"));
    EXPECT_TRUE(via_link->front().generated);
}

TEST(EnsureHostKeys, SshdAcceptsGeneratedKey) {
    if (::access(k_sshd.c_str(), X_OK) != 0) {
        GTEST_SKIP() << k_sshd << " is not installed";
    }
    HostkeysTempDir dir;
    auto keys = hk::ensure_host_keys(dir.file("state"), {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(keys.has_value()) << keys.error().message;
    const std::string config = dir.file("sshd_config");
    write_text(config, "", 0644);

    // sshd -t insists on its privilege separation directory; when the machine
    // has none, give sshd a private /run in its own mount namespace.
    auto sshd_test = [&](const std::string& host_key) {
        std::vector<std::string> argv;
        if (util::path_exists("/run/sshd")) {
            argv = {k_sshd, "-t", "-f", config, "-h", host_key};
        } else {
            argv = {"/usr/bin/unshare",
                    "--mount",
                    "/bin/sh",
                    "-c",
                    "mount -t tmpfs tmpfs /run && mkdir -m 0755 /run/sshd && exec \"$0\" -t -f "
                    "\"$1\" -h \"$2\"",
                    k_sshd,
                    config,
                    host_key};
        }
        return util::run_capture(argv);
    };
    if (!util::path_exists("/run/sshd") &&
        (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0)) {
        GTEST_SKIP() << "no /run/sshd and no way to make a private one";
    }
    auto good = sshd_test(keys->front().private_path);
    ASSERT_TRUE(good.has_value()) << good.error().message;
    EXPECT_EQ(good->exit_code, 0) << good->output;

    // The same check fails on a file that is no key, so the pass above means something.
    const std::string bogus = dir.file("bogus_key");
    write_text(bogus, "not a key\n", 0600);
    auto bad = sshd_test(bogus);
    ASSERT_TRUE(bad.has_value()) << bad.error().message;
    EXPECT_NE(bad->exit_code, 0) << bad->output;
}

// ---- prepare_host_keys: a first start's key saved while sshd loads ---------

TEST(PrepareHostKeys, FirstStartServesACopyThenSavesTheKeyDurably) {
    HostkeysTempDir dir;
    const auto o = opts(dir);
    const std::string state = dir.file("a/state");
    auto prepared = hk::prepare_host_keys(state, {"ed25519"}, "", o);
    ASSERT_TRUE(prepared.has_value()) << prepared.error().message;
    ASSERT_EQ(prepared->keys.size(), 1u);
    const auto key = prepared->keys.front();
    EXPECT_TRUE(key.generated);
    const std::string copy = o.runtime_dir + "/ssh_host_ed25519_key";
    EXPECT_EQ(key.private_path, copy);
    EXPECT_EQ(file_mode(o.runtime_dir), 0700u);
    EXPECT_EQ(file_mode(copy), 0600u);
    EXPECT_EQ(read_text(copy + ".pub"), key.public_line + "\n");
    // Nothing is in the state directory until it is saved.
    EXPECT_FALSE(util::path_exists(state));
    EXPECT_FALSE(prepared->unsaved.empty());
    EXPECT_EQ(prepared->unsaved.dir(), state);

    auto saved = prepared->unsaved.save();
    ASSERT_TRUE(saved.has_value()) << saved.error().message;
    EXPECT_TRUE(prepared->unsaved.empty());
    EXPECT_EQ(file_mode(state), 0700u);
    EXPECT_EQ(file_mode(state + "/ssh_host_ed25519_key"), 0600u);
    EXPECT_EQ(file_mode(state + "/ssh_host_ed25519_key.pub"), 0644u);
    EXPECT_EQ(read_text(state + "/ssh_host_ed25519_key"), read_text(copy));
    EXPECT_EQ(read_text(state + "/ssh_host_ed25519_key.pub"), key.public_line + "\n");
    EXPECT_TRUE(names_starting(state, ".").empty()) << "a temporary file was left";
    if (have_ssh_keygen()) {
        EXPECT_EQ(keygen_fingerprint(state + "/ssh_host_ed25519_key"), key.fingerprint);
    }

    // The next start reuses the saved key, and sshd keeps reading the copy
    // while it is the same key (its config does not change).
    auto again = hk::prepare_host_keys(state, {"ed25519"}, "", o);
    ASSERT_TRUE(again.has_value()) << again.error().message;
    EXPECT_TRUE(again->unsaved.empty());
    ASSERT_EQ(again->keys.size(), 1u);
    EXPECT_FALSE(again->keys.front().generated);
    EXPECT_EQ(again->keys.front().fingerprint, key.fingerprint);
    EXPECT_EQ(again->keys.front().private_path, copy);
}

TEST(PrepareHostKeys, AnEmptyExistingStateDirIsAFirstStartToo) {
    HostkeysTempDir dir;
    const std::string state = dir.file("state");
    ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
    auto prepared = hk::prepare_host_keys(state, {"ed25519"}, "", opts(dir));
    ASSERT_TRUE(prepared.has_value()) << prepared.error().message;
    EXPECT_FALSE(prepared->unsaved.empty());
    EXPECT_FALSE(util::path_exists(state + "/ssh_host_ed25519_key"));
    ASSERT_TRUE(prepared->unsaved.save().has_value());
    EXPECT_EQ(file_mode(state + "/ssh_host_ed25519_key"), 0600u);
}

TEST(PrepareHostKeys, ACopyThatIsNotTheSavedKeyIsRemovedAndTheStateDirServed) {
    HostkeysTempDir dir;
    const auto o = opts(dir);
    auto first = hk::prepare_host_keys(dir.file("state"), {"ed25519"}, "", o);
    ASSERT_TRUE(first.has_value()) << first.error().message;
    ASSERT_TRUE(first->unsaved.save().has_value());
    // The saved key is replaced (restored from a backup, say).
    auto other = hk::ensure_host_keys(dir.file("other"), {"ed25519"}, "", o);
    ASSERT_TRUE(other.has_value()) << other.error().message;
    for (const std::string f : {"ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"}) {
        write_text(dir.file("state/") + f, read_text(dir.file("other/") + f),
                   f.ends_with(".pub") ? 0644 : 0600);
    }
    auto next = hk::prepare_host_keys(dir.file("state"), {"ed25519"}, "", o);
    ASSERT_TRUE(next.has_value()) << next.error().message;
    EXPECT_EQ(next->keys.front().private_path, dir.file("state/ssh_host_ed25519_key"));
    EXPECT_EQ(next->keys.front().fingerprint, other->front().fingerprint);
    EXPECT_FALSE(util::path_exists(o.runtime_dir + "/ssh_host_ed25519_key"));
    EXPECT_FALSE(util::path_exists(o.runtime_dir + "/ssh_host_ed25519_key.pub"));
}

TEST(PrepareHostKeys, AKeyThatAppearedMeanwhileIsKeptNotOverwritten) {
    HostkeysTempDir dir;
    const auto o = opts(dir);
    auto prepared = hk::prepare_host_keys(dir.file("state"), {"ed25519"}, "", o);
    ASSERT_TRUE(prepared.has_value()) << prepared.error().message;
    // Another container on the same volume saved its key first.
    auto theirs = hk::ensure_host_keys(dir.file("state"), {"ed25519"}, "", o);
    ASSERT_TRUE(theirs.has_value()) << theirs.error().message;
    const std::string their_text = read_text(dir.file("state/ssh_host_ed25519_key"));
    ASSERT_TRUE(prepared->unsaved.save().has_value());
    EXPECT_EQ(read_text(dir.file("state/ssh_host_ed25519_key")), their_text);
}

TEST(PrepareHostKeys, AStateDirThatBecameUnsafeIsNotWrittenAndTheCopyStays) {
    HostkeysTempDir dir;
    const auto o = opts(dir);
    const std::string state = dir.file("state");
    ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
    auto prepared = hk::prepare_host_keys(state, {"ed25519"}, "", o);
    ASSERT_TRUE(prepared.has_value()) << prepared.error().message;
    ASSERT_EQ(::chmod(state.c_str(), 0777), 0);
    auto saved = prepared->unsaved.save();
    ASSERT_FALSE(saved.has_value());
    EXPECT_NE(saved.error().message.find("0777"), std::string::npos) << saved.error().message;
    EXPECT_NE(saved.error().message.find("chmod go-w"), std::string::npos);
    EXPECT_FALSE(util::path_exists(state + "/ssh_host_ed25519_key"));
    EXPECT_EQ(file_mode(o.runtime_dir + "/ssh_host_ed25519_key"), 0600u);
}

TEST(PrepareHostKeys, OtherTypesAreMadeInTheStateDirBeforeSshdStarts) {
    if (!have_ssh_keygen()) {
        GTEST_SKIP() << "needs " << k_ssh_keygen;
    }
    HostkeysTempDir dir;
    const std::string state = dir.file("state");
    auto prepared = hk::prepare_host_keys(state, {"ed25519", "ecdsa"}, k_ssh_keygen, opts(dir));
    ASSERT_TRUE(prepared.has_value()) << prepared.error().message;
    EXPECT_TRUE(prepared->unsaved.empty());
    ASSERT_EQ(prepared->keys.size(), 2u);
    EXPECT_EQ(prepared->keys[0].private_path, state + "/ssh_host_ed25519_key");
    EXPECT_EQ(file_mode(state + "/ssh_host_ecdsa_key"), 0600u);
}
