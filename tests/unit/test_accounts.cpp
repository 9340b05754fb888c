#include <gtest/gtest.h>

#include "accounts/passwd.hpp"

using namespace sshboot;

TEST(parse_passwd_line, reads_all_fields) {
    auto e = accounts::parse_passwd_line("alice:x:1000:1001:Alice A:/home/alice:/bin/bash");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->name, "alice");
    EXPECT_EQ(e->uid, 1000u);
    EXPECT_EQ(e->gid, 1001u);
    EXPECT_EQ(e->gecos, "Alice A");
    EXPECT_EQ(e->home, "/home/alice");
    EXPECT_EQ(e->shell, "/bin/bash");
}

TEST(parse_passwd_line, rejects_malformed_lines) {
    EXPECT_FALSE(accounts::parse_passwd_line("alice:x:1000:1001:/home/alice:/bin/bash"));
    EXPECT_FALSE(accounts::parse_passwd_line("alice:x:abc:1001::/home/alice:/bin/bash"));
    EXPECT_FALSE(accounts::parse_passwd_line(":x:1:1::/:/bin/sh"));
    EXPECT_FALSE(accounts::parse_passwd_line(""));
}

TEST(find_user, matches_the_whole_name) {
    const std::string text =
        "root:x:0:0:root:/root:/bin/bash\n"
        "alice2:x:1001:1001::/home/alice2:/bin/sh\n"
        "alice:x:1000:1000::/home/alice:/bin/sh\n";
    auto e = accounts::find_user(text, "alice");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->uid, 1000u);
    EXPECT_EQ(accounts::find_user(text, "root")->home, "/root");
    EXPECT_FALSE(accounts::find_user(text, "bob"));
    EXPECT_FALSE(accounts::find_user(text, "ali"));
}
