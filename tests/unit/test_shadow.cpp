#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "accounts/shadow.hpp"
#include "util/fs.hpp"

using namespace sshboot;

namespace {

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/sshboot-shadow-XXXXXX";
        m_path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(m_path); }
    const std::string& path() const { return m_path; }

  private:
    std::string m_path;
};

const std::string k_shadow =
    "root:*:19000:0:99999:7:::\n"
    "daemon:*:19000:0:99999:7:::\n"
    "alice:!:19000:0:99999:7:::\n"
    "bob:!$6$old$hash:19000:0:99999:7:30::\n"
    "alice2:$6$x$y:19000:0:99999:7:::\n";

}  // namespace

TEST(shadow_password_field, finds_the_whole_name) {
    EXPECT_EQ(*accounts::shadow_password_field(k_shadow, "alice"), "!");
    EXPECT_EQ(*accounts::shadow_password_field(k_shadow, "alice2"), "$6$x$y");
    EXPECT_EQ(*accounts::shadow_password_field(k_shadow, "root"), "*");
    EXPECT_FALSE(accounts::shadow_password_field(k_shadow, "ali"));
    EXPECT_FALSE(accounts::shadow_password_field(k_shadow, ""));
}

TEST(set_shadow_password, changes_only_the_target_line) {
    auto out = accounts::set_shadow_password(k_shadow, "root", "$6$s$h", 20000);
    ASSERT_TRUE(out);
    EXPECT_EQ(*out,
              "root:$6$s$h:20000:0:99999:7:::\n"
              "daemon:*:19000:0:99999:7:::\n"
              "alice:!:19000:0:99999:7:::\n"
              "bob:!$6$old$hash:19000:0:99999:7:30::\n"
              "alice2:$6$x$y:19000:0:99999:7:::\n");
}

TEST(set_shadow_password, unlocks_a_locked_entry_and_keeps_its_other_fields) {
    auto out = accounts::set_shadow_password(k_shadow, "bob", "$6$n$h", 20000);
    ASSERT_TRUE(out);
    EXPECT_NE(out->find("\nbob:$6$n$h:20000:0:99999:7:30::\n"), std::string::npos);
    auto a = accounts::set_shadow_password(k_shadow, "alice", "$6$n$h", 20000);
    ASSERT_TRUE(a);
    EXPECT_EQ(*accounts::shadow_password_field(*a, "alice"), "$6$n$h");
    EXPECT_EQ(*accounts::shadow_password_field(*a, "alice2"), "$6$x$y");
}

TEST(set_shadow_password, appends_a_missing_entry) {
    auto out = accounts::set_shadow_password("root:*:1:0:99999:7:::", "carol", "$6$a$b", 5);
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, "root:*:1:0:99999:7:::\ncarol:$6$a$b:5:0:99999:7:::\n");
    auto empty = accounts::set_shadow_password("", "carol", "$6$a$b", 5);
    EXPECT_EQ(*empty, "carol:$6$a$b:5:0:99999:7:::\n");
}

TEST(set_shadow_password, completes_a_short_line_and_keeps_crlf) {
    auto out = accounts::set_shadow_password("dave:!\r\nroot:*:1::::::\r\n", "dave", "$6$a$b", 7);
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, "dave:$6$a$b:7:0:99999:7:::\r\nroot:*:1::::::\r\n");
}

TEST(set_shadow_password, refuses_colons_and_newlines) {
    EXPECT_FALSE(accounts::set_shadow_password(k_shadow, "root", "a:b", 1));
    EXPECT_FALSE(accounts::set_shadow_password(k_shadow, "root", "a\nb", 1));
    EXPECT_FALSE(accounts::set_shadow_password(k_shadow, "ro:ot", "$6$a$b", 1));
    EXPECT_FALSE(accounts::set_shadow_password(k_shadow, "", "$6$a$b", 1));
}

TEST(set_password_hash, keeps_mode_owner_and_other_lines) {
    TempDir dir;
    const std::string path = dir.path() + "/shadow";
    ASSERT_TRUE(util::write_file_atomic(path, k_shadow, 0640, util::FileOwner{0, 42}));
    ASSERT_TRUE(accounts::set_password_hash("alice", "$6$salt$hash", dir.path()));
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(st.st_gid, 42u);
    auto text = util::read_file(path);
    ASSERT_TRUE(text);
    auto expected = accounts::set_shadow_password(k_shadow, "alice", "$6$salt$hash",
                                                  accounts::days_since_epoch());
    EXPECT_EQ(*text, *expected);
    EXPECT_TRUE(accounts::has_usable_password("alice", dir.path()));
    EXPECT_FALSE(accounts::has_usable_password("bob", dir.path()));
    EXPECT_FALSE(accounts::has_usable_password("nobody", dir.path()));
}

TEST(AccountsLock, waits_for_the_holder_and_times_out) {
    TempDir dir;
    auto first = accounts::AccountsLock::acquire(dir.path());
    ASSERT_TRUE(first);
    // fcntl locks are per process: a child must see the lock held.
    const pid_t child = ::fork();
    if (child == 0) {
        auto second = accounts::AccountsLock::acquire(dir.path(), std::chrono::milliseconds(100));
        ::_exit(second ? 1 : 0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
