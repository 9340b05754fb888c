#include <arpa/inet.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <link.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "sshd/config.hpp"
#include "sshd/listen.hpp"
#include "sshd/version.hpp"
#include "util/fd.hpp"

using namespace sshboot;

namespace {

sshd::ConfigParams base_params() {
    sshd::ConfigParams p;
    p.port = 2222;
    p.host_key_paths = {"/var/lib/sshboot/ssh_host_ed25519_key"};
    return p;
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

// An ELF file of this machine's class with two sections, .comment then
// .rodata, holding the given bytes; `shoff_past_end` breaks its section
// header offset.
std::string elf_with(const std::string& comment, const std::string& rodata,
                     bool shoff_past_end = false) {
    const std::string names = std::string("\0.comment\0.rodata\0.shstrtab\0", 28);
    std::string body = comment + rodata + names;
    while ((sizeof(ElfW(Ehdr)) + body.size()) % 8 != 0) {
        body += '\0';
    }
    ElfW(Ehdr) eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
    eh.e_ident[EI_DATA] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_DYN;
    eh.e_version = EV_CURRENT;
    eh.e_ehsize = sizeof(ElfW(Ehdr));
    eh.e_shentsize = sizeof(ElfW(Shdr));
    eh.e_shnum = 4;
    eh.e_shstrndx = 3;
    eh.e_shoff = shoff_past_end ? 1u << 30 : sizeof(ElfW(Ehdr)) + body.size();
    ElfW(Shdr) sh[4]{};
    const std::size_t start = sizeof(ElfW(Ehdr));
    sh[1] = {1, SHT_PROGBITS, 0, 0, start, comment.size(), 0, 0, 1, 0};
    sh[2] = {10, SHT_PROGBITS, SHF_ALLOC, 0, start + comment.size(), rodata.size(), 0, 0, 1, 0};
    sh[3] = {18,           SHT_STRTAB, 0, 0, start + comment.size() + rodata.size(),
             names.size(), 0,          0, 1, 0};
    std::string out(reinterpret_cast<const char*>(&eh), sizeof eh);
    out += body;
    out.append(reinterpret_cast<const char*>(sh), sizeof sh);
    return out;
}

// read_openssh_version of a file holding `bytes`.
std::optional<sshd::Version> version_of(const std::string& bytes) {
    char tmpl[] = "/tmp/sshboot-version-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd < 0) {
        return std::nullopt;
    }
    const bool written =
        ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
    ::close(fd);
    auto v = written ? sshd::read_openssh_version(tmpl) : std::nullopt;
    ::unlink(tmpl);
    return v;
}

}  // namespace

TEST(render_config, key_only_by_default) {
    auto c = sshd::render_config(base_params());
    ASSERT_TRUE(c);
    EXPECT_TRUE(has_line(*c, "Port 2222"));
    EXPECT_TRUE(has_line(*c, "HostKey /var/lib/sshboot/ssh_host_ed25519_key"));
    EXPECT_TRUE(has_line(*c, "PermitRootLogin prohibit-password"));
    EXPECT_TRUE(has_line(*c, "PasswordAuthentication no"));
    EXPECT_TRUE(has_line(*c, "KbdInteractiveAuthentication no"));
    EXPECT_TRUE(has_line(*c, "PermitEmptyPasswords no"));
    EXPECT_TRUE(has_line(*c, "UsePAM no"));
    EXPECT_TRUE(has_line(*c, "Subsystem sftp internal-sftp"));
    EXPECT_TRUE(has_line(*c, "AllowTcpForwarding yes"));
    EXPECT_TRUE(has_line(*c, "ClientAliveInterval 30"));
    EXPECT_TRUE(has_line(*c, "Include /etc/sshboot/sshd_config.d/*.conf"));
}

TEST(render_config, drop_ins_come_before_sshboot_settings) {
    auto c = sshd::render_config(base_params());
    ASSERT_TRUE(c);
    EXPECT_LT(c->find("Include "), c->find("Port "));
}

TEST(render_config, every_host_key_gets_a_line) {
    auto p = base_params();
    p.host_key_paths.push_back("/s/ssh_host_rsa_key");
    auto c = sshd::render_config(p);
    ASSERT_TRUE(c);
    EXPECT_TRUE(has_line(*c, "HostKey /s/ssh_host_rsa_key"));
}

TEST(render_config, pam_when_the_image_has_it) {
    auto p = base_params();
    p.use_pam = true;
    EXPECT_TRUE(has_line(*sshd::render_config(p), "UsePAM yes"));
}

TEST(render_config, root_password_login_only_when_asked_for) {
    auto p = base_params();
    p.password_authentication = true;
    auto c = sshd::render_config(p);
    EXPECT_TRUE(has_line(*c, "PasswordAuthentication yes"));
    EXPECT_TRUE(has_line(*c, "PermitRootLogin prohibit-password"));
    p.root_password_login = true;
    EXPECT_TRUE(has_line(*sshd::render_config(p), "PermitRootLogin yes"));
}

TEST(render_config, password_login_brings_brute_force_limits) {
    auto p = base_params();
    auto off = sshd::render_config(p);
    ASSERT_TRUE(off);
    EXPECT_EQ(off->find("\nMaxAuthTries"), std::string::npos);
    EXPECT_EQ(off->find("\nLoginGraceTime"), std::string::npos);
    EXPECT_EQ(off->find("\nPerSourcePenalties"), std::string::npos);
    p.password_authentication = true;
    auto on = sshd::render_config(p);
    ASSERT_TRUE(on);
    EXPECT_TRUE(has_line(*on, "MaxAuthTries 4"));
    EXPECT_TRUE(has_line(*on, "LoginGraceTime 30"));
    EXPECT_EQ(on->find("PerSourcePenalties"), std::string::npos);  // an sshd before 9.8
    EXPECT_TRUE(has_line(*on, "AllowTcpForwarding yes"));
    p.per_source_penalties = true;
    EXPECT_TRUE(has_line(*sshd::render_config(p),
                         "PerSourcePenalties authfail:30s grace-exceeded:30s max:10m min:30s"));
}

TEST(password_limit_lines, one_line_each) {
    EXPECT_EQ(sshd::password_limit_lines(false), "MaxAuthTries 4\nLoginGraceTime 30\n");
    EXPECT_EQ(sshd::password_limit_lines(true),
              "MaxAuthTries 4\nLoginGraceTime 30\n"
              "PerSourcePenalties authfail:30s grace-exceeded:30s max:10m min:30s\n");
}

TEST(has_per_source_penalties, from_openssh_9_8) {
    EXPECT_FALSE(sshd::has_per_source_penalties(std::nullopt));
    EXPECT_FALSE(sshd::has_per_source_penalties(sshd::Version{9, 2}));
    EXPECT_FALSE(sshd::has_per_source_penalties(sshd::Version{9, 7}));
    EXPECT_TRUE(sshd::has_per_source_penalties(sshd::Version{9, 8}));
    EXPECT_TRUE(sshd::has_per_source_penalties(sshd::Version{10, 0}));
}

TEST(read_openssh_version, finds_the_version_in_a_binary_read_in_pieces) {
    // The version string straddles the end of a piece: of the first (8 KiB),
    // of the third (8 + 16 + 32 KiB), of a 64 KiB one after them.
    for (const std::size_t end : {8u << 10, 56u << 10, 184u << 10}) {
        std::string bytes(end - 10, '\0');
        bytes += "OpenSSH_9.8p1 Debian";
        const auto v = version_of(bytes);
        ASSERT_TRUE(v) << end;
        EXPECT_EQ(v->major, 9);
        EXPECT_EQ(v->minor, 8);
    }
    EXPECT_FALSE(sshd::read_openssh_version("/nonexistent/sshd"));
    EXPECT_FALSE(sshd::read_openssh_version(""));
}

TEST(read_openssh_version, looks_in_the_rodata_section_of_an_elf_file_first) {
    // A string elsewhere (a comment, debug text) is not sshd's version.
    const auto v = version_of(elf_with("built with OpenSSH_1.0 headers",
                                       std::string("\0usage\0OpenSSH_9.8p1 Debian-3\0", 30)));
    ASSERT_TRUE(v);
    EXPECT_EQ(v->major, 9);
    EXPECT_EQ(v->minor, 8);
}

TEST(read_openssh_version, reads_the_whole_file_when_rodata_or_the_headers_say_nothing) {
    const auto outside = version_of(elf_with("OpenSSH_10.0p2", "no version here"));
    ASSERT_TRUE(outside);
    EXPECT_EQ(outside->major, 10);
    EXPECT_EQ(outside->minor, 0);
    const auto broken = version_of(elf_with("", "OpenSSH_9.2p1", true));
    ASSERT_TRUE(broken);
    EXPECT_EQ(broken->major, 9);
    EXPECT_EQ(broken->minor, 2);
    EXPECT_FALSE(version_of(elf_with("nothing", "at all")));
    EXPECT_FALSE(
        version_of("\x7f"
                   "ELF"));
}

TEST(render_config, refuses_a_path_that_would_inject_a_line) {
    auto p = base_params();
    p.host_key_paths = {"/x\nPermitEmptyPasswords yes"};
    EXPECT_FALSE(sshd::render_config(p));
    p.host_key_paths = {"/a b"};
    EXPECT_FALSE(sshd::render_config(p));
    p.host_key_paths = {};
    EXPECT_FALSE(sshd::render_config(p));
}

TEST(parse_listening, keeps_listen_rows_with_port_and_inode) {
    const std::string text =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 00000000:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
        "0 12345 1 0000000000000000 100 0 0 10 0\n"
        "   1: 0100007F:0016 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        "
        "0 999 1 0000000000000000 20 4 30 10 -1\n";
    auto rows = sshd::parse_listening(text);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].port, 2222);
    EXPECT_EQ(rows[0].inode, 12345u);
}

TEST(parse_listening, handles_ipv6_rows_and_garbage) {
    const std::string text =
        "header\n"
        "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A "
        "00000000:00000000 00:00000000 00000000     0        0 777 1 0 100 0 0 10 0\n"
        "garbage line\n";
    auto rows = sshd::parse_listening(text);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].port, 22);
    EXPECT_EQ(rows[0].inode, 777u);
}

namespace {

// A socket of this process listening on a free loopback port; its port.
std::uint16_t listen_on_loopback(util::UniqueFd& fd, int family) {
    fd = util::UniqueFd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&addr);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    }
    if (fd.get() < 0 || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd.get(), 1) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        return 0;
    }
    return ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                   : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

}  // namespace

TEST(listening_sockets, sees_this_process_listen_on_ipv4_and_ipv6) {
    for (int family : {AF_INET, AF_INET6}) {
        util::UniqueFd fd;
        const std::uint16_t port = listen_on_loopback(fd, family);
        if (port == 0) {
            GTEST_SKIP() << "cannot listen on loopback here";
        }
        EXPECT_TRUE(sshd::port_in_use(port)) << port;
        EXPECT_TRUE(sshd::process_listens_on(::getpid(), port)) << port;
        fd = util::UniqueFd();
        EXPECT_FALSE(sshd::port_in_use(port)) << port;
    }
}

TEST(render_config, host_certificates_get_a_line_each) {
    auto p = base_params();
    p.host_certificate_paths = {"/var/lib/sshboot/ssh_host_ed25519_key-cert.pub"};
    auto c = sshd::render_config(p);
    ASSERT_TRUE(c);
    EXPECT_TRUE(has_line(*c, "HostCertificate /var/lib/sshboot/ssh_host_ed25519_key-cert.pub"));
    auto none = sshd::render_config(base_params());
    ASSERT_TRUE(none);
    EXPECT_EQ(none->find("\nHostCertificate "), std::string::npos);
    p.host_certificate_paths = {"/a b"};
    EXPECT_FALSE(sshd::render_config(p));
}

TEST(render_config, restricted_variables_go_in_a_match_block_for_the_login_user_last) {
    auto p = base_params();
    p.set_env = "SetEnv \"PATH=/usr/bin\"";
    p.user_set_env = "SetEnv \"HF_TOKEN=hf_x\" \"PATH=/usr/bin\"";
    p.set_env_user = "alice";
    auto c = sshd::render_config(p);
    ASSERT_TRUE(c);
    EXPECT_TRUE(has_line(*c, "SetEnv \"PATH=/usr/bin\""));
    const auto match =
        c->find("\nMatch User alice\n\tSetEnv \"HF_TOKEN=hf_x\" \"PATH=/usr/bin\"\n");
    ASSERT_NE(match, std::string::npos) << *c;
    // Nothing but comments and blank lines after it: a Match block applies
    // to every keyword after it.
    const auto end = c->find('\n', c->find("\tSetEnv", match));
    EXPECT_EQ(c->find_first_not_of(" \t\n", end), std::string::npos) << *c;
    EXPECT_EQ(c->find("HF_TOKEN"), c->rfind("HF_TOKEN"));
    EXPECT_LT(c->find("SetEnv \"PATH"), match);
}

TEST(render_config, no_match_block_without_restricted_variables) {
    auto p = base_params();
    p.set_env = "SetEnv \"PATH=/usr/bin\"";
    p.set_env_user = "alice";
    auto c = sshd::render_config(p);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->find("Match"), std::string::npos);
}

TEST(render_config, refuses_a_user_name_that_is_a_pattern) {
    auto p = base_params();
    p.user_set_env = "SetEnv \"HF_TOKEN=hf_x\"";
    for (const char* user : {"*", "a,b", "!root", "a b", "", "a\nMatch all"}) {
        p.set_env_user = user;
        EXPECT_FALSE(sshd::render_config(p)) << user;
    }
}
