#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "accounts/ssh_dir.hpp"

using namespace sshboot;

namespace {

constexpr const char* k_key =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test";

// A home directory of the calling user in a private temporary directory.
class TempHome {
  public:
    TempHome() {
        char tmpl[] = "/tmp/sshboot-ssh-dir-XXXXXX";
        m_root = ::mkdtemp(tmpl);
        m_user.name = "tester";
        m_user.uid = ::geteuid();
        m_user.gid = ::getegid();
        m_user.home = m_root + "/home";
        ::mkdir(m_user.home.c_str(), 0755);
    }
    ~TempHome() {
        std::error_code ec;
        std::filesystem::remove_all(m_root, ec);
    }
    TempHome(const TempHome&) = delete;
    TempHome& operator=(const TempHome&) = delete;

    const accounts::PasswdEntry& user() const { return m_user; }
    std::string path(const std::string& rel) const { return m_user.home + "/" + rel; }
    std::string outside(const std::string& rel) const { return m_root + "/" + rel; }

  private:
    std::string m_root;
    accounts::PasswdEntry m_user;
};

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST(install_authorized_keys, writes_the_managed_block_with_strict_modes) {
    TempHome h;
    auto r = accounts::install_authorized_keys(h.user(), {k_key});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->refused.empty()) << r->refused;
    EXPECT_TRUE(contains(read_text(h.path(".ssh/authorized_keys")), k_key));
    struct stat st {};
    ASSERT_EQ(::stat(h.path(".ssh").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::stat(h.path(".ssh/authorized_keys").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(install_authorized_keys, refuses_a_fifo_without_waiting_on_it) {
    TempHome h;
    ASSERT_EQ(::mkdir(h.path(".ssh").c_str(), 0700), 0);
    ASSERT_EQ(::mkfifo(h.path(".ssh/authorized_keys").c_str(), 0600), 0);
    auto r = accounts::install_authorized_keys(h.user(), {k_key});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(contains(r->refused, h.path(".ssh/authorized_keys") + " is a FIFO")) << r->refused;
    EXPECT_TRUE(contains(r->refused, "Fix:")) << r->refused;
    struct stat st {};
    ASSERT_EQ(::lstat(h.path(".ssh/authorized_keys").c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(install_authorized_keys, refuses_a_directory_in_place_of_the_file) {
    TempHome h;
    ASSERT_EQ(::mkdir(h.path(".ssh").c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(h.path(".ssh/authorized_keys").c_str(), 0700), 0);
    auto r = accounts::install_authorized_keys(h.user(), {k_key});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(contains(r->refused, "is a directory")) << r->refused;
}

TEST(install_authorized_keys, does_not_follow_or_touch_a_symlink) {
    TempHome h;
    const std::string target = h.outside("target");
    write_text(target, "someone else's file\n");
    ASSERT_EQ(::chmod(target.c_str(), 0644), 0);
    ASSERT_EQ(::mkdir(h.path(".ssh").c_str(), 0700), 0);
    ASSERT_EQ(::symlink(target.c_str(), h.path(".ssh/authorized_keys").c_str()), 0);
    auto r = accounts::install_authorized_keys(h.user(), {k_key});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(contains(r->refused, "is a symlink")) << r->refused;
    EXPECT_EQ(read_text(target), "someone else's file\n");
    struct stat st {};
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST(install_authorized_keys, refuses_a_hard_linked_file) {
    TempHome h;
    const std::string other = h.outside("other");
    write_text(other, "# not keys\n");
    ASSERT_EQ(::mkdir(h.path(".ssh").c_str(), 0700), 0);
    ASSERT_EQ(::link(other.c_str(), h.path(".ssh/authorized_keys").c_str()), 0);
    auto r = accounts::install_authorized_keys(h.user(), {k_key});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(contains(r->refused, "2 hard links")) << r->refused;
    EXPECT_EQ(read_text(other), "# not keys\n");
}

TEST(install_authorized_keys, refuses_a_dot_ssh_that_is_not_a_directory) {
    TempHome h;
    ASSERT_EQ(::mkfifo(h.path(".ssh").c_str(), 0600), 0);
    auto fifo = accounts::install_authorized_keys(h.user(), {k_key});
    ASSERT_TRUE(fifo) << fifo.error().message;
    EXPECT_TRUE(contains(fifo->refused, h.path(".ssh") + " is a FIFO")) << fifo->refused;
    ASSERT_EQ(::unlink(h.path(".ssh").c_str()), 0);

    const std::string elsewhere = h.outside("elsewhere");
    ASSERT_EQ(::mkdir(elsewhere.c_str(), 0755), 0);
    ASSERT_EQ(::symlink(elsewhere.c_str(), h.path(".ssh").c_str()), 0);
    auto link = accounts::install_authorized_keys(h.user(), {k_key});
    ASSERT_TRUE(link) << link.error().message;
    EXPECT_TRUE(contains(link->refused, h.path(".ssh") + " is a symlink")) << link->refused;
    EXPECT_FALSE(std::filesystem::exists(elsewhere + "/authorized_keys"));
    struct stat st {};
    ASSERT_EQ(::stat(elsewhere.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
}
