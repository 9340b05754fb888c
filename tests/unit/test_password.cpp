#include <gtest/gtest.h>
#include <sodium.h>

#include <crypt.h>

#include <memory>
#include <set>
#include <string>

#include "accounts/password.hpp"
#include "password/live_sshd.hpp"
#include "password/options.hpp"

using namespace sshboot;

namespace {

struct SodiumInit {
    SodiumInit() { EXPECT_GE(sodium_init(), 0); }
};

// Verifies with libcrypt directly, independently of verify_password.
bool crypt_matches(const std::string& plain, const std::string& hash) {
    auto data = std::make_unique<crypt_data>();
    data->initialized = 0;
    const char* out = crypt_r(plain.c_str(), hash.c_str(), data.get());
    return out != nullptr && hash == out;
}

}  // namespace

TEST(generate_password, uses_the_alphabet_without_look_alikes) {
    SodiumInit init;
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto p = accounts::generate_password();
        ASSERT_GE(p.size(), 20u);
        EXPECT_EQ(p.str().find_first_of("0Oo1lI"), std::string::npos) << p.str();
        for (char c : p.str()) {
            EXPECT_NE(accounts::k_password_alphabet.find(c), std::string_view::npos);
        }
        seen.insert(p.str());
    }
    EXPECT_EQ(seen.size(), 200u);
}

TEST(hash_password, sha512_is_verified_by_crypt_r) {
    SodiumInit init;
    const std::string plain = "it's a \"pass\" $word with spaces";
    auto hash = accounts::hash_password(plain, accounts::HashMethod::Sha512);
    ASSERT_TRUE(hash) << hash.error().message;
    EXPECT_EQ(hash->rfind("$6$", 0), 0u);
    EXPECT_TRUE(crypt_matches(plain, *hash));
    EXPECT_FALSE(crypt_matches(plain + "x", *hash));
    EXPECT_TRUE(accounts::verify_password(plain, *hash));
    EXPECT_FALSE(accounts::verify_password("wrong", *hash));
}

TEST(hash_password, yescrypt_is_verified_by_crypt_r) {
    SodiumInit init;
    auto hash = accounts::hash_password("secret pass", accounts::HashMethod::Yescrypt);
    ASSERT_TRUE(hash) << hash.error().message;
    EXPECT_EQ(hash->rfind("$y$", 0), 0u);
    EXPECT_TRUE(crypt_matches("secret pass", *hash));
    EXPECT_FALSE(accounts::verify_password("secret pas", *hash));
}

TEST(hash_password, salts_differ) {
    SodiumInit init;
    auto a = accounts::hash_password("same", accounts::HashMethod::Sha512);
    auto b = accounts::hash_password("same", accounts::HashMethod::Sha512);
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
}

TEST(hash_password, refuses_unusable_passwords) {
    SodiumInit init;
    EXPECT_FALSE(accounts::hash_password("", accounts::HashMethod::Sha512));
    EXPECT_FALSE(accounts::hash_password("a\nb", accounts::HashMethod::Sha512));
    EXPECT_FALSE(accounts::hash_password(std::string("a\0b", 3), accounts::HashMethod::Sha512));
}

TEST(parse_hash_method, accepts_the_two_names) {
    EXPECT_EQ(*accounts::parse_hash_method("sha512"), accounts::HashMethod::Sha512);
    EXPECT_EQ(*accounts::parse_hash_method("yescrypt"), accounts::HashMethod::Yescrypt);
    EXPECT_FALSE(accounts::parse_hash_method("md5"));
}

TEST(is_usable_hash, knows_locked_and_empty_fields) {
    EXPECT_TRUE(accounts::is_usable_hash("$6$abc$def"));
    EXPECT_TRUE(accounts::is_usable_hash("abcdefghijklm"));
    EXPECT_FALSE(accounts::is_usable_hash(""));
    EXPECT_FALSE(accounts::is_usable_hash("*"));
    EXPECT_FALSE(accounts::is_usable_hash("!"));
    EXPECT_FALSE(accounts::is_usable_hash("!$6$abc$def"));
    EXPECT_FALSE(accounts::is_usable_hash("x"));
}

TEST(Secret, move_leaves_the_source_empty) {
    accounts::Secret a(std::string("hunter2 hunter2"));
    accounts::Secret b(std::move(a));
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(b.str(), "hunter2 hunter2");
    b.clear();
    EXPECT_TRUE(b.empty());
}

TEST(parse_options, reads_flags) {
    auto o = password::parse_options({"--generate", "--user", "bob", "--hash=yescrypt"});
    ASSERT_TRUE(o) << o.error().message;
    EXPECT_EQ(o->source, password::Source::Generate);
    EXPECT_EQ(*o->user, "bob");
    EXPECT_EQ(o->hash, accounts::HashMethod::Yescrypt);
    auto d = password::parse_options({});
    ASSERT_TRUE(d);
    EXPECT_EQ(d->source, password::Source::Auto);
    EXPECT_FALSE(d->user);
}

TEST(parse_options, refuses_bad_input_without_echoing_it) {
    EXPECT_FALSE(password::parse_options({"--generate", "--stdin"}));
    EXPECT_FALSE(password::parse_options({"--user", "Bad Name"}));
    EXPECT_FALSE(password::parse_options({"--user"}));
    auto o = password::parse_options({"MySecretPassw0rd"});
    ASSERT_FALSE(o);
    EXPECT_EQ(o.error().message.find("MySecret"), std::string::npos);
}

TEST(included_dropin_dir, finds_debians_include) {
    EXPECT_EQ(*password::included_dropin_dir("# hi\nInclude /etc/ssh/sshd_config.d/*.conf\n"),
              "/etc/ssh/sshd_config.d");
    EXPECT_EQ(*password::included_dropin_dir("include conf.d/*.conf\n", "/etc/ssh"),
              "/etc/ssh/conf.d");
    EXPECT_FALSE(password::included_dropin_dir("#Include /etc/ssh/sshd_config.d/*.conf\n"));
    EXPECT_FALSE(password::included_dropin_dir("Port 22\nMatch user x\nInclude /a/*.conf\n"));
}

TEST(add_password_block, prepends_once_and_removes_cleanly) {
    const std::string orig = "Port 22\nPasswordAuthentication no\n";
    const auto once = password::add_password_block(orig, true);
    EXPECT_EQ(once.rfind(password::k_block_begin, 0), 0u);
    EXPECT_NE(once.find("PermitRootLogin yes\n"), std::string::npos);
    EXPECT_LT(once.find("PasswordAuthentication yes"), once.find("PasswordAuthentication no"));
    const auto twice = password::add_password_block(once, false);
    EXPECT_EQ(twice.find("PermitRootLogin yes"), std::string::npos);
    EXPECT_EQ(password::remove_password_block(twice), orig);
    EXPECT_EQ(password::remove_password_block("a\nb"), "a\nb");
}

TEST(config_path_from_cmdline, reads_dash_f) {
    using std::string_literals::operator""s;
    EXPECT_EQ(password::config_path_from_cmdline("/usr/sbin/sshd\0-D\0-f\0/etc/x/c\0"s),
              "/etc/x/c");
    EXPECT_EQ(password::config_path_from_cmdline(
                  "sshd: /usr/sbin/sshd -D -e -f /etc/sshboot/sshd_config [listener] 0 of 10"),
              "/etc/sshboot/sshd_config");
    EXPECT_EQ(password::config_path_from_cmdline("sshd: /usr/sbin/sshd [listener]"),
              "/etc/ssh/sshd_config");
}

TEST(sshd_t_values, picks_a_keyword) {
    const std::string t = "port 2222\nhostkey /a\nhostkey /b\npasswordauthentication yes\n";
    EXPECT_EQ(password::sshd_t_values(t, "hostkey"), (std::vector<std::string>{"/a", "/b"}));
    EXPECT_EQ(password::sshd_t_values(t, "passwordauthentication").at(0), "yes");
    EXPECT_TRUE(password::sshd_t_values(t, "permitrootlogin").empty());
}
