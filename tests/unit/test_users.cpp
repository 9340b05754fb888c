#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "accounts/passwd.hpp"
#include "accounts/shadow.hpp"
#include "accounts/users.hpp"
#include "cli/settings.hpp"
#include "util/fs.hpp"

using namespace sshboot;

namespace {

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/sshboot-users-XXXXXX";
        m_path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(m_path); }
    const std::string& path() const { return m_path; }

  private:
    std::string m_path;
};

const std::string k_passwd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "alice:x:1000:1000::/home/alice:/bin/bash\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const std::string k_group = "root:x:0:\nalice:x:1000:\nusers:x:100:\nlate:x:1001:\n";

}  // namespace

TEST(is_valid_user_name, accepts_the_portable_set_only) {
    EXPECT_TRUE(cli::is_valid_user_name("bob"));
    EXPECT_TRUE(cli::is_valid_user_name("_svc-1"));
    EXPECT_FALSE(cli::is_valid_user_name(""));
    EXPECT_FALSE(cli::is_valid_user_name("Bob"));
    EXPECT_FALSE(cli::is_valid_user_name("1bob"));
    EXPECT_FALSE(cli::is_valid_user_name("bo:b"));
    EXPECT_FALSE(cli::is_valid_user_name("bob\n"));
    EXPECT_FALSE(cli::is_valid_user_name("../etc"));
    EXPECT_FALSE(cli::is_valid_user_name(std::string(33, 'a')));
}

TEST(next_free_id, skips_uids_and_gids) {
    EXPECT_EQ(*accounts::next_free_id(k_passwd, k_group), 1002u);
    EXPECT_EQ(*accounts::next_free_id("", ""), 1000u);
    EXPECT_FALSE(accounts::next_free_id(k_passwd, k_group, 1000, 1001));
}

TEST(format_passwd_line, round_trips_through_parse_passwd_line) {
    accounts::PasswdEntry e{"bob", "x", 1002, 1002, "", "/home/bob", "/bin/sh"};
    const auto line = accounts::format_passwd_line(e);
    EXPECT_EQ(line, "bob:x:1002:1002::/home/bob:/bin/sh");
    auto back = accounts::parse_passwd_line(line);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->home, "/home/bob");
}

TEST(append_line, adds_a_missing_newline_first) {
    EXPECT_EQ(accounts::append_line("a", "b"), "a\nb\n");
    EXPECT_EQ(accounts::append_line("a\n", "b"), "a\nb\n");
    EXPECT_EQ(accounts::append_line("", "b"), "b\n");
}

TEST(plan_new_user, adds_passwd_group_shadow_and_gshadow_lines) {
    accounts::AccountFiles files{k_passwd, k_group, "root:*:1:0:99999:7:::\n",
                                 std::string("root:*::\n")};
    auto plan = accounts::plan_new_user("bob", files, "/home", "/bin/bash", 20000);
    ASSERT_TRUE(plan) << plan.error().message;
    EXPECT_EQ(plan->files.passwd, k_passwd + "bob:x:1002:1002::/home/bob:/bin/bash\n");
    EXPECT_EQ(plan->files.group, k_group + "bob:x:1002:\n");
    EXPECT_EQ(plan->files.shadow, "root:*:1:0:99999:7:::\nbob:*:20000:0:99999:7:::\n");
    EXPECT_EQ(*plan->files.gshadow, "root:*::\nbob:!::\n");
    EXPECT_EQ(plan->entry.uid, 1002u);
}

TEST(plan_new_user, refuses_invalid_or_existing_names) {
    accounts::AccountFiles files{k_passwd, k_group, "", std::nullopt};
    EXPECT_FALSE(accounts::plan_new_user("Bob", files, "/home", "/bin/sh", 1));
    EXPECT_FALSE(accounts::plan_new_user("bo:b", files, "/home", "/bin/sh", 1));
    EXPECT_FALSE(accounts::plan_new_user("alice", files, "/home", "/bin/sh", 1));
    EXPECT_FALSE(accounts::plan_new_user("users", files, "/home", "/bin/sh", 1));
    auto ok = accounts::plan_new_user("carol", files, "/home", "/bin/sh", 1);
    ASSERT_TRUE(ok);
    EXPECT_FALSE(ok->files.gshadow);
}

TEST(ensure_user, creates_the_user_with_a_home_from_skel) {
    TempDir dir;
    const std::string etc = dir.path() + "/etc";
    ASSERT_TRUE(util::make_dirs(etc + "/skel/.config", 0755));
    ASSERT_TRUE(util::write_file_atomic(etc + "/skel/.bashrc", "# rc\n", 0644));
    ASSERT_TRUE(util::write_file_atomic(etc + "/passwd", k_passwd, 0644));
    ASSERT_TRUE(util::write_file_atomic(etc + "/group", k_group, 0644));
    ASSERT_TRUE(util::write_file_atomic(etc + "/shadow", "root:*:1:0:99999:7:::\n", 0640));
    accounts::UserPaths paths{etc, dir.path() + "/home", etc + "/skel", dir.path()};
    auto made = accounts::ensure_user("bob", paths);
    ASSERT_TRUE(made) << made.error().message;
    EXPECT_TRUE(made->created);
    EXPECT_EQ(made->entry.shell, "/bin/sh");  // no bin/bash under the temp root
    EXPECT_EQ(made->entry.home, dir.path() + "/home/bob");
    struct stat st {};
    ASSERT_EQ(::stat((made->entry.home + "/.bashrc").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1002u);
    ASSERT_EQ(::stat((made->entry.home + "/.config").c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(*accounts::read_shadow_password("bob", etc), std::optional<std::string>("*"));
    auto again = accounts::ensure_user("bob", paths);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->created);
    EXPECT_EQ(again->entry.uid, 1002u);
}

TEST(sudoers_text, grants_without_password_only_when_asked) {
    EXPECT_EQ(accounts::sudoers_text("bob", true),
              "# Written by sshboot (SSH_SUDO=1).\nbob ALL=(ALL:ALL) NOPASSWD: ALL\n");
    EXPECT_NE(accounts::sudoers_text("bob", false).find("bob ALL=(ALL:ALL) ALL\n"),
              std::string::npos);
}
