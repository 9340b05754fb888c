#include "hostkeys/store.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>

#include "hostkeys/openssh_key.hpp"
#include "keys/fingerprint.hpp"
#include "keys/wire.hpp"
#include "util/base64.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/parse.hpp"
#include "util/process.hpp"

namespace sshboot::hostkeys {
namespace {

struct TypeInfo {
    std::string_view name;       // short name, as in SSH_HOST_KEY_TYPES and file names
    std::string_view algorithm;  // the key type OpenSSH writes for a new key
    std::string_view bits;       // for ssh-keygen -b; empty when made in process
};

constexpr TypeInfo k_types[] = {
    {"ed25519", "ssh-ed25519", ""},
    {"ecdsa", "ecdsa-sha2-nistp256", "256"},
    {"rsa", "ssh-rsa", "3072"},
};

constexpr std::string_view k_accepted = "ed25519, ecdsa or rsa";
// Where packages put the keys they generate at install time.
constexpr std::string_view k_system_key_dir = "/etc/ssh";

const TypeInfo* find_type(std::string_view name) {
    for (const auto& t : k_types) {
        if (t.name == name || t.algorithm == name) {
            return &t;
        }
    }
    return nullptr;
}

// The key types asked for, resolved once (host_keys_for refuses unknown names).
using TypeList = std::vector<const TypeInfo*>;

// Whether a key of `key_type` may live in the file of `info` (an existing
// ecdsa key may use another curve).
bool type_fits(const TypeInfo& info, std::string_view key_type) {
    if (info.name == "ecdsa") {
        return key_type.starts_with("ecdsa-sha2-nistp");
    }
    return key_type == info.algorithm;
}

// Secret text that is wiped when it goes out of scope.
class SecretString {
  public:
    SecretString() = default;
    explicit SecretString(std::string s) : m_s(std::move(s)) {}
    SecretString(const SecretString&) = delete;
    SecretString& operator=(const SecretString&) = delete;
    ~SecretString() { sodium_memzero(m_s.data(), m_s.size()); }
    const std::string& get() const { return m_s; }

  private:
    std::string m_s;
};

struct PublicKey {
    std::string type;
    std::vector<std::uint8_t> blob;
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return s;
}

// Parses the first line of a .pub file: "<type> <base64> [comment]", with the
// type inside the blob equal to the one in front.
std::optional<PublicKey> parse_public_text(std::string_view text) {
    std::string_view line = trim(text.substr(0, text.find('\n')));
    const auto sp = line.find_first_of(" \t");
    if (sp == std::string_view::npos) {
        return std::nullopt;
    }
    const std::string_view type = line.substr(0, sp);
    std::string_view rest = trim(line.substr(sp));
    const std::string_view b64 = rest.substr(0, rest.find_first_of(" \t"));
    auto blob = util::base64_decode(b64);
    if (!blob) {
        return std::nullopt;
    }
    keys::WireReader r(*blob);
    auto inner = r.read_string_text();
    if (!inner || *inner != type || r.remaining() == 0) {
        return std::nullopt;
    }
    return PublicKey{std::string(type), std::move(*blob)};
}

std::string public_line(const PublicKey& key) {
    return key.type + " " + util::base64_encode(key.blob);
}

HostKey describe(const std::string& private_path, const PublicKey& key, bool generated) {
    HostKey out;
    out.type = key.type;
    out.private_path = private_path;
    out.public_line = public_line(key);
    out.fingerprint = keys::fingerprint_sha256(key.blob);
    out.generated = generated;
    return out;
}

std::string delete_advice(const std::string& path) {
    return "; delete " + path + " and " + path +
           ".pub to have a new host key generated (clients will then see a changed host key)";
}

std::string random_suffix() {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", randombytes_random());
    return buf;
}

// "20261203T125603Z": when a file was set aside.
std::string utc_stamp() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

bool exists_nofollow(int dirfd, const std::string& name) {
    struct stat st {};
    return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

// Renames dirfd/name (whatever it is; rename never follows a symlink) to
// "<name>.<tag>-<UTC time>", and its .pub to "<that>.pub"; returns the new
// name of the private file.
util::Expected<std::string> set_aside(int dirfd, const std::string& dir, const std::string& name,
                                      std::string_view tag) {
    std::string aside = name + "." + std::string(tag) + "-" + utc_stamp();
    if (exists_nofollow(dirfd, aside) || exists_nofollow(dirfd, aside + ".pub")) {
        aside += "-" + random_suffix();
    }
    if (::renameat(dirfd, name.c_str(), dirfd, aside.c_str()) != 0) {
        return util::sys_error("rename " + util::path_join(dir, name) + " to " + aside);
    }
    const std::string pub = name + ".pub";
    if (exists_nofollow(dirfd, pub) &&
        ::renameat(dirfd, pub.c_str(), dirfd, (aside + ".pub").c_str()) != 0) {
        return util::sys_error("rename " + util::path_join(dir, pub) + " to " + aside + ".pub");
    }
    ::fsync(dirfd);
    return aside;
}

// Whether `st` is the same file as the image's own key of that name.
bool is_image_key(const std::string& name, const struct stat& st) {
    struct stat img {};
    const std::string path = util::path_join(k_system_key_dir, name);
    return ::stat(path.c_str(), &img) == 0 && img.st_dev == st.st_dev && img.st_ino == st.st_ino;
}

// Runs `ssh-keygen -y` on a private key: its public key, validated by OpenSSH.
util::Expected<PublicKey> public_from_ssh_keygen(const std::string& ssh_keygen,
                                                 const std::string& private_path,
                                                 const TypeInfo& info) {
    if (ssh_keygen.empty()) {
        return util::make_error("reading the " + std::string(info.name) + " host key " +
                                private_path + " needs ssh-keygen, which was not found");
    }
    auto run = util::run_capture({ssh_keygen, "-y", "-P", "", "-f", private_path});
    if (!run) {
        return run.error();
    }
    if (run->exit_code != 0) {
        return util::make_error(ssh_keygen + " -y -f " + private_path + " failed: " +
                                std::string(trim(run->output)) + delete_advice(private_path));
    }
    auto key = parse_public_text(run->output);
    if (!key) {
        return util::make_error(ssh_keygen + " -y -f " + private_path + " printed no public key" +
                                delete_advice(private_path));
    }
    return std::move(*key);
}

// What the private file says about its public key: the blob when the file is
// in openssh-key-v1 format, nullopt for an (unencrypted) PEM key. Errors for
// anything sshd could not load.
util::Expected<std::optional<PublicKey>> check_private_text(const std::string& text,
                                                            const std::string& path,
                                                            const TypeInfo& info) {
    const std::string_view body = trim(text);
    if (info.name == "ed25519") {
        auto key = parse_ed25519_private_pem(body);
        if (!key) {
            return util::make_error("host key " + path + " " + key.error().message +
                                    delete_advice(path));
        }
        PublicKey pub{std::string(k_ed25519_type), ed25519_public_blob(*key)};
        wipe(*key);
        return std::optional<PublicKey>(std::move(pub));
    }
    if (body.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")) {
        auto parsed = parse_openssh_private(body);
        if (!parsed) {
            return util::make_error("host key " + path + " " + parsed.error().message +
                                    delete_advice(path));
        }
        if (!type_fits(info, parsed->key_type)) {
            return util::make_error("host key " + path + " holds a " + parsed->key_type +
                                    " key, not " + std::string(info.name) + delete_advice(path));
        }
        return std::optional<PublicKey>(
            PublicKey{std::move(parsed->key_type), std::move(parsed->public_blob)});
    }
    const bool pem = body.starts_with("-----BEGIN ") &&
                     body.substr(0, body.find('\n')).ends_with("PRIVATE KEY-----");
    if (!pem) {
        return util::make_error("host key " + path + " is not a private key file" +
                                delete_advice(path));
    }
    if (body.find("ENCRYPTED") != std::string_view::npos) {
        return util::make_error("host key " + path +
                                " is encrypted with a passphrase; sshd needs an unencrypted "
                                "host key" +
                                delete_advice(path));
    }
    return std::optional<PublicKey>();
}

// No fsync: a .pub lost or torn by a crash is rewritten from the private key
// on the next start (reuse_key), and the private key is durable before it.
util::Status write_public(int dirfd, const std::string& pub_name, const PublicKey& key) {
    return util::write_file_atomic_at(dirfd, pub_name, public_line(key) + "\n", 0644, std::nullopt,
                                      util::Durability::Regenerated);
}

// Reuses the key in `name` (known to exist); rewrites a missing or stale .pub.
// `private_fd` is the key file, opened and checked by the caller.
util::Expected<HostKey> reuse_key(int dirfd, const std::string& dir, const std::string& name,
                                  int private_fd, const TypeInfo& info,
                                  const std::string& ssh_keygen) {
    const std::string path = util::path_join(dir, name);
    const std::string pub_name = name + ".pub";
    const std::string pub_path = path + ".pub";
    std::optional<PublicKey> from_private;
    {
        auto text = util::read_fd(private_fd, path, 1 << 20);
        if (!text) {
            return text.error();
        }
        SecretString secret(std::move(*text));
        auto checked = check_private_text(secret.get(), path, info);
        if (!checked) {
            return checked.error();
        }
        from_private = std::move(*checked);
    }

    std::optional<PublicKey> from_pub;
    struct stat pub_st {};
    if (::fstatat(dirfd, pub_name.c_str(), &pub_st, AT_SYMLINK_NOFOLLOW) == 0) {
        auto text = util::read_file_at(dirfd, pub_name, 1 << 20);
        if (text) {
            from_pub = parse_public_text(*text);
        }
        if (!from_pub) {
            log::warn("host key {} cannot be read as a public key; rewriting it", pub_path);
        } else if (!type_fits(info, from_pub->type) ||
                   (from_private && from_private->blob != from_pub->blob)) {
            log::warn("host key {} does not match {}; rewriting it", pub_path, path);
            from_pub.reset();
        }
    } else if (errno != ENOENT) {
        return util::sys_error("stat " + pub_path);
    }
    if (from_pub) {
        return describe(path, *from_pub, false);
    }

    PublicKey key;
    if (info.name == "ed25519") {
        key = std::move(*from_private);
    } else {
        auto derived = public_from_ssh_keygen(ssh_keygen, path, info);
        if (!derived) {
            return derived.error();
        }
        if (!type_fits(info, derived->type) ||
            (from_private && from_private->blob != derived->blob)) {
            return util::make_error("host key " + path + " is corrupt (ssh-keygen reads a " +
                                    "different public key from it)" + delete_advice(path));
        }
        key = std::move(*derived);
    }
    if (auto st = write_public(dirfd, pub_name, key); !st) {
        return util::make_error("write " + pub_path + ": " + st.error().message);
    }
    log::info("rewrote {} from its private key", pub_path);
    return describe(path, key, false);
}

util::Expected<HostKey> generate_ed25519_key(int dirfd, const std::string& dir,
                                             const std::string& name) {
    const std::string path = util::path_join(dir, name);
    Ed25519Key key = generate_ed25519();
    PublicKey pub{std::string(k_ed25519_type), ed25519_public_blob(key)};
    util::Status st = util::ok();
    {
        SecretString pem(ed25519_private_pem(key, ""));
        wipe(key);
        st = util::write_file_atomic_at(dirfd, name, pem.get(), 0600);
    }
    if (!st) {
        return util::make_error("write host key " + path + ": " + st.error().message);
    }
    if (auto pst = write_public(dirfd, name + ".pub", pub); !pst) {
        return util::make_error("write " + path + ".pub: " + pst.error().message);
    }
    return describe(path, pub, true);
}

util::Status fsync_file(int dirfd, const std::string& name) {
    util::UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
        return util::sys_error("open " + name);
    }
    if (::fsync(fd.get()) != 0) {
        return util::sys_error("fsync " + name);
    }
    return util::ok();
}

util::Expected<HostKey> generate_with_ssh_keygen(int dirfd, const std::string& dir,
                                                 const std::string& name, const TypeInfo& info,
                                                 const std::string& ssh_keygen) {
    const std::string path = util::path_join(dir, name);
    if (ssh_keygen.empty()) {
        return util::make_error("creating the " + std::string(info.name) + " host key " + path +
                                " needs ssh-keygen, which was not found (install openssh-client "
                                "or serve only ed25519 host keys)");
    }
    const std::string tmp_name = "." + name + ".new-" + random_suffix();
    const std::string tmp_pub_name = tmp_name + ".pub";
    const std::string tmp_path = util::path_join(dir, tmp_name);
    auto cleanup = [&] {
        ::unlinkat(dirfd, tmp_name.c_str(), 0);
        ::unlinkat(dirfd, tmp_pub_name.c_str(), 0);
    };
    auto run = util::run_capture({ssh_keygen, "-q", "-t", std::string(info.name), "-b",
                                  std::string(info.bits), "-N", "", "-C", "", "-f", tmp_path});
    if (!run) {
        cleanup();
        return run.error();
    }
    if (run->exit_code != 0 || run->term_signal != 0) {
        cleanup();
        const int status = run->term_signal != 0 ? run->term_signal : run->exit_code << 8;
        return util::make_error(ssh_keygen + " -t " + std::string(info.name) + " for " + path +
                                " " + util::describe_wait_status(status) + ": " +
                                std::string(trim(run->output)));
    }
    auto pub_text = util::read_file_at(dirfd, tmp_pub_name, 1 << 20);
    std::optional<PublicKey> pub;
    if (pub_text) {
        pub = parse_public_text(*pub_text);
    }
    if (!pub || !type_fits(info, pub->type)) {
        cleanup();
        return util::make_error(ssh_keygen + " -t " + std::string(info.name) +
                                " wrote no usable public key for " + path);
    }
    util::Status st = util::ok();
    if (::fchmodat(dirfd, tmp_name.c_str(), 0600, 0) != 0) {
        st = util::sys_error("chmod 0600 " + tmp_path);
    } else if (::fchmodat(dirfd, tmp_pub_name.c_str(), 0644, 0) != 0) {
        st = util::sys_error("chmod 0644 " + tmp_path + ".pub");
    }
    if (st) {
        st = fsync_file(dirfd, tmp_name);
    }
    if (st) {
        st = fsync_file(dirfd, tmp_pub_name);
    }
    if (st && ::renameat(dirfd, tmp_name.c_str(), dirfd, name.c_str()) != 0) {
        st = util::sys_error("rename " + tmp_path + " to " + path);
    }
    if (st && ::renameat(dirfd, tmp_pub_name.c_str(), dirfd, (name + ".pub").c_str()) != 0) {
        st = util::sys_error("rename " + tmp_path + ".pub to " + path + ".pub");
    }
    if (!st) {
        cleanup();
        return st.error();
    }
    ::fsync(dirfd);
    return describe(path, *pub, true);
}

util::Expected<std::string> absolute_dir(const std::string& dir) {
    if (dir.empty()) {
        return util::make_error("the host key state directory is empty");
    }
    if (dir.front() == '/') {
        return dir;
    }
    char buf[4096];
    if (::getcwd(buf, sizeof buf) == nullptr) {
        return util::sys_error("getcwd");
    }
    return util::path_join(buf, dir);
}

// Whether files in the directory keep mode 0600. Network and FUSE volumes
// often refuse chmod (ENOSYS, EPERM) or report a fixed mode such as 0644.
bool holds_private_files(int dirfd) {
    const std::string name = ".sshboot-mode-probe-" + random_suffix();
    util::UniqueFd fd(
        ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
        return true;  // the real write reports why
    }
    struct stat st {};
    const bool ok =
        ::fchmod(fd.get(), 0600) == 0 && ::fstat(fd.get(), &st) == 0 && (st.st_mode & 077) == 0;
    ::unlinkat(dirfd, name.c_str(), 0);
    return ok;
}

// Whether every key of `types` is already in the directory, private (no group
// or other bits) and ours, with its .pub: the directory then evidently keeps
// mode 0600, and holds_private_files need not create a file to find out.
bool keys_kept_private(int dirfd, const TypeList& types) {
    for (const TypeInfo* info : types) {
        const std::string name = host_key_file_name(info->name);
        struct stat st {};
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            (st.st_mode & 077) != 0 || st.st_uid != ::geteuid() ||
            ::fstatat(dirfd, (name + ".pub").c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode)) {
            return false;
        }
    }
    return true;
}

// Writes `content` to dirfd/name on such a volume: a temporary file, fsync,
// rename. No chmod (it would fail); the mode is what the volume gives.
util::Status persist_file(int dirfd, const std::string& dir, const std::string& name,
                          std::string_view content) {
    const std::string tmp = "." + name + ".new-" + random_suffix();
    const std::string path = util::path_join(dir, name);
    util::UniqueFd fd(
        ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
        return util::sys_error("create " + util::path_join(dir, tmp));
    }
    auto fail = [&](util::Error e) -> util::Status {
        ::unlinkat(dirfd, tmp.c_str(), 0);
        return e;
    };
    while (!content.empty()) {
        const ssize_t n = ::write(fd.get(), content.data(), content.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return fail(util::sys_error("write " + path));
        }
        content.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::fsync(fd.get()) != 0) {
        return fail(util::sys_error("fsync " + path));
    }
    if (::close(fd.release()) != 0) {
        return fail(util::sys_error("close " + path));
    }
    if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) {
        return fail(util::sys_error("rename " + tmp + " to " + path));
    }
    ::fsync(dirfd);
    return util::ok();
}

// Reuses or creates each key of `types` in dir (open as dirfd).
util::Expected<std::vector<HostKey>> ensure_in_dir(const std::string& dir, int dirfd,
                                                   const TypeList& types,
                                                   const std::string& ssh_keygen_path) {
    std::vector<HostKey> out;
    for (const TypeInfo* info : types) {
        const std::string name = host_key_file_name(info->name);
        const std::string path = util::path_join(dir, name);
        struct stat st {};
        util::Expected<HostKey> key = util::make_error("");
        bool present = false;
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            present = true;
            struct stat opened {};
            auto fd = util::open_regular_at(dirfd, name, &opened);
            std::string refused;
            if (!fd) {
                if (S_ISREG(st.st_mode)) {
                    return util::make_error("host key " + util::path_join(dir, fd.error().message));
                }
                refused = "is " + util::file_kind(st.st_mode);
            } else if (is_image_key(name, opened)) {
                refused = "is the image's own " + util::path_join(k_system_key_dir, name) +
                          " (a hard link), shared by every container made from the image";
            }
            if (!refused.empty()) {
                auto aside = set_aside(dirfd, dir, name, "refused");
                if (!aside) {
                    return aside.error();
                }
                log::warn(
                    "host key {} {}; not followed or served: set aside as {}, and a new "
                    "host key is generated",
                    path, refused, util::path_join(dir, *aside));
                present = false;
            } else if ((opened.st_mode & 077) != 0) {
                // Whoever could read it may have; nobody else need from now
                // on. On the descriptor held: the name may change under us.
                if (::fchmod(fd->get(), opened.st_mode & 0700) != 0) {
                    log::warn("host key {}: fchmod to {:04o}: {}", path,
                              static_cast<unsigned>(opened.st_mode & 0700), std::strerror(errno));
                }
                auto aside = set_aside(dirfd, dir, name, "exposed");
                if (!aside) {
                    return aside.error();
                }
                log::warn(
                    "host key {} is mode {:04o}, readable by others: treated as exposed (anyone "
                    "who read it can impersonate this server), set aside as {}, and replaced by "
                    "a new host key; clients will see a changed host key",
                    path, static_cast<unsigned>(opened.st_mode & 07777),
                    util::path_join(dir, *aside));
                present = false;
            } else {
                key = reuse_key(dirfd, dir, name, fd->get(), *info, ssh_keygen_path);
            }
        } else if (errno != ENOENT) {
            return util::sys_error("stat " + path);
        }
        if (!present) {
            if (info->name == "ed25519") {
                key = generate_ed25519_key(dirfd, dir, name);
            } else {
                key = generate_with_ssh_keygen(dirfd, dir, name, *info, ssh_keygen_path);
            }
            if (key) {
                log::info("generated {} host key {}", info->name, key->private_path);
            }
        }
        if (!key) {
            return key.error();
        }
        out.push_back(std::move(*key));
    }
    return out;
}

// Copies dirfd/name to to_fd/name with `mode`, when it exists.
util::Status copy_if_present(int from_fd, const std::string& from_dir, int to_fd,
                             const std::string& name, mode_t mode) {
    struct stat st {};
    if (::fstatat(from_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return errno == ENOENT ? util::ok()
                               : util::sys_error("stat " + util::path_join(from_dir, name));
    }
    if (!S_ISREG(st.st_mode)) {
        log::warn("host key {} is {}; not followed or copied (a new key replaces it)",
                  util::path_join(from_dir, name), util::file_kind(st.st_mode));
        return util::ok();
    }
    auto text = util::read_file_at(from_fd, name, 1 << 20);
    if (!text) {
        return text.error();
    }
    SecretString secret(std::move(*text));
    return util::write_file_atomic_at(to_fd, name, secret.get(), mode);
}

// The warning for a state directory that cannot hold 0600 files.
void warn_no_private_files(const std::string& state_dir, const std::string& runtime_dir) {
    log::warn(
        "host key directory {} cannot hold files only root can read (chmod 0600 fails or has no "
        "effect there: a network or FUSE volume?), and sshd refuses such private keys. The keys "
        "are kept in {} and copied to {} for sshd",
        state_dir, state_dir, runtime_dir);
}

// The directory of the copies sshd reads, created when missing, mode 0700.
util::Expected<util::UniqueFd> open_runtime_dir(const std::string& runtime_dir) {
    if (auto st = util::make_dirs(runtime_dir, 0700); !st) {
        return st.error();
    }
    auto fd = util::open_dir(runtime_dir);
    if (!fd) {
        return fd.error();
    }
    if (::fchmod(fd->get(), 0700) != 0) {
        return util::sys_error("chmod 0700 " + runtime_dir);
    }
    return fd;
}

// The keys for a state directory that cannot hold 0600 files: kept there,
// served from copies in runtime_dir.
util::Expected<std::vector<HostKey>> ensure_via_runtime_dir(const std::string& state_dir,
                                                            int state_fd, const TypeList& types,
                                                            const std::string& ssh_keygen_path,
                                                            const std::string& runtime_dir) {
    warn_no_private_files(state_dir, runtime_dir);
    auto runtime_fd = open_runtime_dir(runtime_dir);
    if (!runtime_fd) {
        return runtime_fd.error();
    }
    for (const TypeInfo* info : types) {
        const std::string name = host_key_file_name(info->name);
        for (const std::string& file : {name, name + ".pub"}) {
            if (::unlinkat(runtime_fd->get(), file.c_str(), 0) != 0 && errno != ENOENT) {
                return util::sys_error("remove " + util::path_join(runtime_dir, file));
            }
        }
        if (auto st = copy_if_present(state_fd, state_dir, runtime_fd->get(), name, 0600); !st) {
            return st.error();
        }
        if (auto st = copy_if_present(state_fd, state_dir, runtime_fd->get(), name + ".pub", 0644);
            !st) {
            return st.error();
        }
    }
    auto keys = ensure_in_dir(runtime_dir, runtime_fd->get(), types, ssh_keygen_path);
    if (!keys) {
        return keys.error();
    }
    // New keys and rewritten public keys go back to the volume.
    for (const auto& key : *keys) {
        const std::string name = util::split_path(key.private_path).second;
        std::vector<std::string> files = {name + ".pub"};
        if (key.generated) {
            files.insert(files.begin(), name);
        }
        for (const auto& file : files) {
            auto text = util::read_file_at(runtime_fd->get(), file, 1 << 20);
            if (!text) {
                return text.error();
            }
            SecretString secret(std::move(*text));
            auto old = util::read_file_at(state_fd, file, 1 << 20);
            if (old && *old == secret.get()) {
                continue;
            }
            if (auto st = persist_file(state_fd, state_dir, file, secret.get()); !st) {
                return st.error();
            }
        }
    }
    return keys;
}

}  // namespace

util::Expected<std::vector<std::string>> parse_host_key_types(std::string_view csv) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < csv.size()) {
        const auto end = csv.find_first_of(", \t\r\n", pos);
        const std::string_view raw =
            csv.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        pos = end == std::string_view::npos ? csv.size() : end + 1;
        if (raw.empty()) {
            continue;
        }
        std::string lower(raw);
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        const TypeInfo* info = find_type(lower);
        if (info == nullptr) {
            return util::make_error("unknown host key type " + util::quoted_for_log(raw) +
                                    " (use " + std::string(k_accepted) + ", separated by commas)");
        }
        const std::string name(info->name);
        if (std::find(out.begin(), out.end(), name) == out.end()) {
            out.push_back(name);
        }
    }
    if (out.empty()) {
        return util::make_error("no host key type given (use " + std::string(k_accepted) + ")");
    }
    return out;
}

std::string host_key_file_name(std::string_view type) {
    return "ssh_host_" + std::string(type) + "_key";
}

// Builds UnsavedKeys (its members are private to the header's readers).
struct UnsavedKeysBuilder {
    // Makes a new ed25519 key for each of `types`, writes it and its .pub to
    // runtime_dir for sshd (no fsync), and keeps it in `unsaved` for `dir`.
    static util::Expected<std::vector<HostKey>> generate(const std::string& dir,
                                                         const TypeList& types,
                                                         const StoreOptions& options,
                                                         UnsavedKeys& unsaved) {
        auto runtime_fd = open_runtime_dir(options.runtime_dir);
        if (!runtime_fd) {
            return runtime_fd.error();
        }
        unsaved.m_dir = dir;
        unsaved.m_runtime_dir = options.runtime_dir;
        unsaved.m_trusted_base = options.trusted_base;
        std::vector<HostKey> out;
        for (const TypeInfo* info : types) {
            const std::string name = host_key_file_name(info->name);
            Ed25519Key key = generate_ed25519();
            PublicKey pub{std::string(k_ed25519_type), ed25519_public_blob(key)};
            UnsavedKeys::Key entry{name, ed25519_private_pem(key, ""), public_line(pub) + "\n"};
            wipe(key);
            const std::string copy = util::path_join(options.runtime_dir, name);
            // Rewritten on every first start, and the saved key is durable.
            auto st = util::write_file_atomic_at(runtime_fd->get(), name, entry.pem, 0600,
                                                 std::nullopt, util::Durability::Regenerated);
            if (st) {
                st = write_public(runtime_fd->get(), name + ".pub", pub);
            }
            unsaved.m_keys.push_back(std::move(entry));
            if (!st) {
                return util::make_error("write host key " + copy + ": " + st.error().message);
            }
            log::info("generated ed25519 host key {} (sshd reads it from {} while it is saved)",
                      util::path_join(dir, name), copy);
            out.push_back(describe(copy, pub, true));
        }
        return out;
    }
};

UnsavedKeys::UnsavedKeys(UnsavedKeys&& other) noexcept
    : m_dir(std::move(other.m_dir)),
      m_runtime_dir(std::move(other.m_runtime_dir)),
      m_trusted_base(std::move(other.m_trusted_base)),
      m_keys(std::move(other.m_keys)) {
    other.m_keys.clear();
}

UnsavedKeys& UnsavedKeys::operator=(UnsavedKeys&& other) noexcept {
    if (this != &other) {
        wipe_keys();
        m_dir = std::move(other.m_dir);
        m_runtime_dir = std::move(other.m_runtime_dir);
        m_trusted_base = std::move(other.m_trusted_base);
        m_keys = std::move(other.m_keys);
        other.m_keys.clear();
    }
    return *this;
}

UnsavedKeys::~UnsavedKeys() {
    wipe_keys();
}

void UnsavedKeys::wipe_keys() {
    for (auto& key : m_keys) {
        sodium_memzero(key.pem.data(), key.pem.size());
    }
    m_keys.clear();
}

util::Status UnsavedKeys::save() {
    if (m_keys.empty()) {
        return util::ok();
    }
    std::optional<util::PathProblem> problem;
    auto dirfd = util::open_trusted_dir(m_dir, 0700, &problem, m_trusted_base);
    if (!dirfd) {
        return util::make_error(problem ? problem->message + ". Fix: " + problem->fix
                                        : dirfd.error().message);
    }
    const bool private_files = holds_private_files(dirfd->get());
    if (!private_files) {
        warn_no_private_files(m_dir, m_runtime_dir);
    }
    // On a volume that cannot hold 0600 files: as ensure_host_keys keeps
    // keys there. The .pub needs no fsync: it is rewritten from the key.
    auto write = [&](const std::string& name, const std::string& content, mode_t mode,
                     util::Durability durability) {
        return private_files ? util::write_file_atomic_at(dirfd->get(), name, content, mode,
                                                          std::nullopt, durability)
                             : persist_file(dirfd->get(), m_dir, name, content);
    };
    for (const auto& key : m_keys) {
        const std::string path = util::path_join(m_dir, key.name);
        if (exists_nofollow(dirfd->get(), key.name)) {
            log::warn(
                "host key {} appeared while this start made a new one (another container on the "
                "same volume?): it is kept, and the next start serves it",
                path);
            continue;
        }
        if (auto st = write(key.name, key.pem, 0600, util::Durability::Durable); !st) {
            return util::make_error("write host key " + path + ": " + st.error().message);
        }
        if (auto st = write(key.name + ".pub", key.pub, 0644, util::Durability::Regenerated); !st) {
            return util::make_error("write " + path + ".pub: " + st.error().message);
        }
        log::info("saved host key {}", path);
    }
    wipe_keys();
    return util::ok();
}

namespace {

// The ed25519 copies a first start made in runtime_dir for sshd: while the
// private copy (ours, 0600) holds the key just read from the state directory
// and its .pub says the same, sshd goes on reading it, so its config stays as
// it was; copies that differ are removed.
void serve_matching_copies(const std::string& runtime_dir, std::vector<HostKey>& keys) {
    util::UniqueFd fd(::open(runtime_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat dir_st {};
    if (!fd.valid() || ::fstat(fd.get(), &dir_st) != 0 || dir_st.st_uid != ::geteuid() ||
        (dir_st.st_mode & 077) != 0) {
        return;
    }
    const TypeInfo& info = *find_type("ed25519");
    auto holds = [&](const std::string& name, const HostKey& key) {
        const std::string path = util::path_join(runtime_dir, name);
        struct stat st {};
        auto copy = util::open_regular_at(fd.get(), name, &st);
        if (!copy || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
            return false;
        }
        auto text = util::read_fd(copy->get(), path, 1 << 20);
        if (!text) {
            return false;
        }
        SecretString secret(std::move(*text));
        auto from_private = check_private_text(secret.get(), path, info);
        if (!from_private || !*from_private || public_line(**from_private) != key.public_line) {
            return false;
        }
        auto pub = util::read_file_at(fd.get(), name + ".pub", 1 << 20);
        const auto from_pub = pub ? parse_public_text(*pub) : std::nullopt;
        return from_pub && public_line(*from_pub) == key.public_line;
    };
    for (auto& key : keys) {
        const std::string name = util::split_path(key.private_path).second;
        if (holds(name, key)) {
            key.private_path = util::path_join(runtime_dir, name);
            continue;
        }
        for (const std::string& file : {name, name + ".pub", name + "-cert.pub"}) {
            ::unlinkat(fd.get(), file.c_str(), 0);
        }
    }
}

// Whether no key file of `types` is in the directory.
bool no_key_files(int dirfd, const TypeList& types) {
    return std::none_of(types.begin(), types.end(), [&](const TypeInfo* info) {
        return exists_nofollow(dirfd, host_key_file_name(info->name));
    });
}

util::Expected<PreparedHostKeys> host_keys_for(const std::string& state_dir,
                                               const std::vector<std::string>& type_names,
                                               const std::string& ssh_keygen_path,
                                               const StoreOptions& options, bool defer_save) {
    ensure_sodium();
    auto dir = absolute_dir(state_dir);
    if (!dir) {
        return dir.error();
    }
    TypeList types;
    for (const auto& name : type_names) {
        const TypeInfo* info = find_type(name);
        if (info == nullptr) {
            return util::make_error("unknown host key type \"" + name + "\" (use " +
                                    std::string(k_accepted) + ")");
        }
        types.push_back(info);
    }
    // A first start may leave the state directory to UnsavedKeys::save:
    // ed25519 keys are made in process, so sshd can read a copy at once.
    defer_save = defer_save && std::all_of(types.begin(), types.end(), [](const TypeInfo* info) {
                     return info->name == "ed25519";
                 });
    PreparedHostKeys out;
    auto first_start = [&](const std::string& in_dir) -> util::Expected<PreparedHostKeys> {
        auto keys = UnsavedKeysBuilder::generate(in_dir, types, options, out.unsaved);
        if (!keys) {
            return keys.error();
        }
        out.keys = std::move(*keys);
        return std::move(out);
    };
    std::optional<util::PathProblem> problem;
    bool missing = false;
    auto open = [&](const std::string& path) {
        const bool runtime = path == options.runtime_dir;
        return util::open_trusted_dir(
            path, defer_save && !runtime ? std::nullopt : std::optional<mode_t>(0700), &problem,
            options.trusted_base, &missing);
    };
    auto dirfd = open(*dir);
    // A directory others control costs the host key's persistence, never SSH.
    for (const std::string& fallback : {options.fallback_dir, options.runtime_dir}) {
        if (dirfd || !problem) {
            break;
        }
        if (fallback == *dir) {
            continue;
        }
        log::warn(
            "host key directory {} is not safe for private keys: {}, so whoever controls it "
            "could plant, swap or read host keys. Host keys are kept in {} instead (a new "
            "container gets a new host key). Fix: {}, or set SSHBOOT_STATE_DIR to a directory "
            "only root can write",
            *dir, problem->message, fallback, problem->fix);
        problem.reset();
        *dir = fallback;
        dirfd = open(*dir);
    }
    if (!dirfd && missing) {
        return first_start(*dir);
    }
    if (!dirfd && problem) {
        return util::make_error("host key directory " + *dir + " is not safe for private keys: " +
                                problem->message + ". Fix: " + problem->fix);
    }
    if (!dirfd) {
        return dirfd.error();
    }
    struct stat dir_st {};
    struct stat system_st {};
    if (::fstat(dirfd->get(), &dir_st) == 0 &&
        ::stat(std::string(k_system_key_dir).c_str(), &system_st) == 0 &&
        dir_st.st_dev == system_st.st_dev && dir_st.st_ino == system_st.st_ino) {
        return util::make_error("the host key state directory " + *dir + " is " +
                                std::string(k_system_key_dir) +
                                ": keys installed there with an image are shared by every "
                                "container made from it and are never served; choose "
                                "another directory");
    }
    const bool runtime = *dir == options.runtime_dir;
    if (defer_save && !runtime && no_key_files(dirfd->get(), types)) {
        return first_start(*dir);
    }
    if (!keys_kept_private(dirfd->get(), types) && !holds_private_files(dirfd->get())) {
        auto keys =
            ensure_via_runtime_dir(*dir, dirfd->get(), types, ssh_keygen_path, options.runtime_dir);
        if (!keys) {
            return keys.error();
        }
        out.keys = std::move(*keys);
        return out;
    }
    auto keys = ensure_in_dir(*dir, dirfd->get(), types, ssh_keygen_path);
    if (!keys) {
        return keys.error();
    }
    if (defer_save && !runtime) {
        serve_matching_copies(options.runtime_dir, *keys);
    }
    out.keys = std::move(*keys);
    return out;
}

}  // namespace

util::Expected<std::vector<HostKey>> ensure_host_keys(const std::string& state_dir,
                                                      const std::vector<std::string>& types,
                                                      const std::string& ssh_keygen_path,
                                                      const StoreOptions& options) {
    auto prepared = host_keys_for(state_dir, types, ssh_keygen_path, options, false);
    if (!prepared) {
        return prepared.error();
    }
    return std::move(prepared->keys);
}

util::Expected<PreparedHostKeys> prepare_host_keys(const std::string& state_dir,
                                                   const std::vector<std::string>& types,
                                                   const std::string& ssh_keygen_path,
                                                   const StoreOptions& options) {
    return host_keys_for(state_dir, types, ssh_keygen_path, options, true);
}

}  // namespace sshboot::hostkeys
