#include <gtest/gtest.h>
#include <sodium.h>

#include <crypt.h>

#include <memory>
#include <set>
#include <string>

#include "accounts/hash_method.hpp"
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
    EXPECT_EQ(hash->rfind("$6$rounds=500000$", 0), 0u) << *hash;
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
    EXPECT_FALSE(d->hash);  // auto: what the image verifies
    auto a = password::parse_options({"--hash", "sha512", "--hash=auto"});
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->hash);
    EXPECT_FALSE(password::parse_options({"--hash", "md5"}));
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

namespace {

accounts::HashSupport debian12() {
    accounts::HashSupport s;
    s.libcrypt_path = "/lib/x86_64-linux-gnu/libcrypt.so.1";
    s.libcrypt_has_yescrypt = true;
    s.checkers = {{"/usr/sbin/sshd", true}, {"/lib/x86_64-linux-gnu/security/pam_unix.so", true}};
    return s;
}

}  // namespace

TEST(choose_hash_method, yescrypt_when_every_checker_uses_a_libcrypt_with_it) {
    const auto c = accounts::choose_hash_method(debian12());
    EXPECT_EQ(c.method, accounts::HashMethod::Yescrypt);
    EXPECT_NE(c.reason.find("/lib/x86_64-linux-gnu/libcrypt.so.1 implements yescrypt"),
              std::string::npos)
        << c.reason;
    EXPECT_NE(c.reason.find("pam_unix.so"), std::string::npos) << c.reason;
}

TEST(choose_hash_method, sha512_when_libcrypt_has_no_yescrypt) {
    auto s = debian12();
    s.libcrypt_has_yescrypt = false;  // glibc's own libcrypt (Ubuntu 18.04, CentOS 7)
    const auto c = accounts::choose_hash_method(s);
    EXPECT_EQ(c.method, accounts::HashMethod::Sha512);
    EXPECT_NE(c.reason.find("has no yescrypt"), std::string::npos) << c.reason;
}

TEST(choose_hash_method, sha512_when_a_checker_does_not_use_libcrypt) {
    auto s = debian12();
    s.checkers = {{"/usr/sbin/sshd", false}};  // Alpine: musl's crypt
    const auto c = accounts::choose_hash_method(s);
    EXPECT_EQ(c.method, accounts::HashMethod::Sha512);
    EXPECT_NE(c.reason.find("/usr/sbin/sshd is not linked against libcrypt.so.1"),
              std::string::npos)
        << c.reason;
    // pam_unix.so with yescrypt does not help when sshd checks by itself.
    s.checkers.push_back({"/lib/security/pam_unix.so", true});
    EXPECT_EQ(accounts::choose_hash_method(s).method, accounts::HashMethod::Sha512);
}

TEST(choose_hash_method, sha512_without_libcrypt_or_checkers) {
    auto s = debian12();
    s.libcrypt_path.clear();
    s.libcrypt_has_yescrypt = false;
    EXPECT_EQ(accounts::choose_hash_method(s).method, accounts::HashMethod::Sha512);
    EXPECT_EQ(accounts::choose_hash_method({}).method, accounts::HashMethod::Sha512);
}

TEST(hash_method_label, names_method_and_rounds) {
    EXPECT_EQ(accounts::hash_method_label(accounts::HashMethod::Yescrypt), "yescrypt ($y$)");
    EXPECT_EQ(accounts::hash_method_label(accounts::HashMethod::Sha512),
              "sha512 ($6$, 500000 rounds)");
}

TEST(stored_hash_label, reads_the_scheme_and_rounds) {
    EXPECT_EQ(accounts::stored_hash_label("$y$j9T$abc$def"), "yescrypt");
    EXPECT_EQ(accounts::stored_hash_label("$6$salt$hash"), "sha512 (5000 rounds)");
    EXPECT_EQ(accounts::stored_hash_label("$6$rounds=500000$salt$hash"), "sha512 (500000 rounds)");
    EXPECT_EQ(accounts::stored_hash_label("$1$salt$hash"), "md5");
    EXPECT_EQ(accounts::stored_hash_label("abcdefghijklm"), "DES");
    EXPECT_EQ(accounts::stored_hash_label("$2b$10$x"), "bcrypt");
    EXPECT_EQ(accounts::stored_hash_label("??"), "unknown");
}

TEST(is_weak_hash, below_what_sshboot_writes) {
    EXPECT_TRUE(accounts::is_weak_hash("$6$salt$hash"));
    EXPECT_TRUE(accounts::is_weak_hash("$6$rounds=100000$salt$hash"));
    EXPECT_TRUE(accounts::is_weak_hash("$5$salt$hash"));
    EXPECT_TRUE(accounts::is_weak_hash("$1$salt$hash"));
    EXPECT_TRUE(accounts::is_weak_hash("abcdefghijklm"));
    EXPECT_FALSE(accounts::is_weak_hash("$6$rounds=500000$salt$hash"));
    EXPECT_FALSE(accounts::is_weak_hash("$6$rounds=900000$salt$hash"));
    EXPECT_FALSE(accounts::is_weak_hash("$y$j9T$salt$hash"));
    EXPECT_FALSE(accounts::is_weak_hash("$2b$10$x"));
}

TEST(ByteScanner, finds_needles_across_piece_boundaries) {
    accounts::ByteScanner s({std::string("libcrypt.so.1\0", 14), "$y$"});
    const std::string blob = std::string("xx libcrypt.so.1") + '\0' + " yy $y$ zz";
    for (std::size_t cut = 0; cut <= blob.size(); ++cut) {
        accounts::ByteScanner t({std::string("libcrypt.so.1\0", 14), "$y$"});
        t.feed(std::string_view(blob).substr(0, cut));
        t.feed(std::string_view(blob).substr(cut));
        EXPECT_TRUE(t.all_found()) << cut;
    }
    s.feed("libcrypt.so.1.1.0");  // the file name, not the NUL-ended soname
    s.feed("$");
    s.feed("y");
    EXPECT_FALSE(s.found(0));
    EXPECT_FALSE(s.found(1));
    s.feed("$");
    EXPECT_TRUE(s.found(1));
    EXPECT_FALSE(s.all_found());
}

TEST(detect_hash_support, reads_this_machines_libcrypt) {
    // The build machine is Debian 12: libxcrypt with yescrypt.
    const auto s = accounts::detect_hash_support("");
    ASSERT_FALSE(s.libcrypt_path.empty());
    EXPECT_TRUE(s.libcrypt_has_yescrypt) << s.libcrypt_path;
    // No sshd given, and none under a root that does not exist.
    EXPECT_TRUE(accounts::detect_hash_support("/usr/sbin/sshd", "/nonexistent").checkers.empty());
}
