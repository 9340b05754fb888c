#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sshd/config.hpp"
#include "sshd/locale.hpp"

namespace sshboot::sshd {
namespace {

class TempDir {
  public:
    TempDir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "sshboot-locale-XXXXXX").string();
        m_path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() { std::filesystem::remove_all(m_path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return m_path; }

  private:
    std::string m_path;
};

void put_word(std::string& s, std::size_t offset, std::uint32_t v) {
    if (s.size() < offset + 4) {
        s.resize(offset + 4);
    }
    std::memcpy(s.data() + offset, &v, 4);
}

// A locale-archive as glibc lays it out: header, name hash table (with empty
// slots), strings; the locale data itself is not read.
std::string archive(const std::vector<std::string>& names) {
    const std::uint32_t hash_offset = 44;
    const std::uint32_t hash_size = static_cast<std::uint32_t>(names.size() * 2 + 1);
    const std::uint32_t string_offset = hash_offset + hash_size * 12;
    std::string strings;
    std::vector<std::uint32_t> offsets;
    for (const auto& n : names) {
        offsets.push_back(string_offset + static_cast<std::uint32_t>(strings.size()));
        strings += n + '\0';
    }
    std::string out;
    put_word(out, 0, 0xde020109);
    put_word(out, 4, 0);
    put_word(out, 8, hash_offset);
    put_word(out, 12, static_cast<std::uint32_t>(names.size()));
    put_word(out, 16, hash_size);
    put_word(out, 20, string_offset);
    put_word(out, 24, static_cast<std::uint32_t>(strings.size()));
    put_word(out, 28, static_cast<std::uint32_t>(strings.size()));
    put_word(out, 32, 0);
    put_word(out, 36, 0);
    put_word(out, 40, 0);
    out.resize(string_offset);
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::size_t slot = hash_offset + (i * 2 + 1) * 12;  // every other slot
        put_word(out, slot, 1234);
        put_word(out, slot + 4, offsets[i]);
        put_word(out, slot + 8, 4096);
    }
    return out + strings + std::string(64, 'x');
}

TEST(normalize_locale, LowersTheCodesetAndDropsPunctuation) {
    EXPECT_EQ(normalize_locale("en_US.UTF-8"), "en_US.utf8");
    EXPECT_EQ(normalize_locale("C.UTF-8"), "C.utf8");
    EXPECT_EQ(normalize_locale("de_DE.ISO-8859-15@euro"), "de_DE.iso885915@euro");
    EXPECT_EQ(normalize_locale("en_US"), "en_US");
    EXPECT_EQ(normalize_locale("UTF-8"), "UTF-8");  // macOS's LC_CTYPE: no codeset part
}

TEST(locale_archive_names, ReadsTheNameTable) {
    EXPECT_EQ(locale_archive_names(archive({"en_US.utf8", "de_DE.utf8"})),
              (std::vector<std::string>{"de_DE.utf8", "en_US.utf8"}));
    EXPECT_TRUE(locale_archive_names(archive({})).empty());
}

TEST(locale_archive_names, MalformedIsEmpty) {
    EXPECT_TRUE(locale_archive_names("").empty());
    EXPECT_TRUE(locale_archive_names(std::string(44, '\0')).empty());
    auto a = archive({"en_US.utf8"});
    EXPECT_TRUE(locale_archive_names(a.substr(0, 60)).empty());  // cut inside the table
    put_word(a, 16, 0xffffffff);                                 // a table beyond any file
    EXPECT_TRUE(locale_archive_names(a).empty());
}

TEST(list_locales, ArchiveAndDirectories) {
    TempDir dir;
    { std::ofstream(dir.path() + "/locale-archive", std::ios::binary) << archive({"en_US.utf8"}); }
    std::filesystem::create_directories(dir.path() + "/C.utf8");
    std::ofstream(dir.path() + "/C.utf8/LC_CTYPE") << "x";
    std::filesystem::create_directories(dir.path() + "/empty");
    const auto found = list_locales(dir.path());
    EXPECT_TRUE(has_locale(found, "en_US.UTF-8"));
    EXPECT_TRUE(has_locale(found, "C.UTF-8"));
    EXPECT_TRUE(has_locale(found, "C.utf8"));
    EXPECT_TRUE(has_locale(found, "POSIX"));
    EXPECT_FALSE(has_locale(found, "empty"));
    EXPECT_FALSE(has_locale(found, "de_DE.UTF-8"));
    EXPECT_TRUE(has_extra_locales(found));

    EXPECT_EQ(list_locales(dir.path() + "/missing"), (std::vector<std::string>{"C", "POSIX"}));
}

TEST(plan_locale, MinimalImageGetsItsOwnLangOrCUtf8AndRefusesTheClients) {
    const std::vector<std::string> minimal = {"C", "POSIX", "C.utf8"};
    EXPECT_FALSE(has_extra_locales(minimal));

    auto p = plan_locale(minimal, {"PATH=/bin", "LANG=en_US.UTF-8", "LC_ALL=de_DE.UTF-8"});
    EXPECT_FALSE(p.accept_client_locale);
    EXPECT_EQ(p.session_env, (std::vector<std::string>{"PATH=/bin", "LANG=C.UTF-8"}));
    EXPECT_EQ(p.removed, (std::vector<std::string>{"LANG=en_US.UTF-8", "LC_ALL=de_DE.UTF-8"}));

    p = plan_locale(minimal, {"LANG=C.UTF-8", "LC_CTYPE=C.utf8"});
    EXPECT_EQ(p.session_env, (std::vector<std::string>{"LANG=C.UTF-8", "LC_CTYPE=C.utf8"}));
    EXPECT_TRUE(p.removed.empty());

    p = plan_locale(minimal, {});
    EXPECT_EQ(p.session_env, (std::vector<std::string>{"LANG=C.UTF-8"}));
}

TEST(plan_locale, ImageWithMoreLocalesAcceptsTheClients) {
    const std::vector<std::string> more = {"C", "POSIX", "C.utf8", "en_US.utf8"};
    auto p = plan_locale(more, {"LANG=en_US.UTF-8", "LC_CTYPE=UTF-8"});
    EXPECT_TRUE(p.accept_client_locale);
    EXPECT_EQ(p.session_env, (std::vector<std::string>{"LANG=en_US.UTF-8"}));
    EXPECT_EQ(p.removed, (std::vector<std::string>{"LC_CTYPE=UTF-8"}));
    // No LANG of its own: the client's LANG is not overridden.
    EXPECT_TRUE(plan_locale(more, {}).session_env.empty());
}

TEST(render_config, AcceptEnvFollowsTheLocalePlan) {
    ConfigParams p;
    p.host_key_paths = {"/etc/ssh/ssh_host_ed25519_key"};
    auto with = render_config(p);
    ASSERT_TRUE(with);
    EXPECT_NE(with->find("\nAcceptEnv LANG LC_* COLORTERM\n"), std::string::npos);
    p.accept_client_locale = false;
    auto without = render_config(p);
    ASSERT_TRUE(without);
    EXPECT_NE(without->find("\nAcceptEnv COLORTERM\n"), std::string::npos);
    EXPECT_EQ(without->find("AcceptEnv LANG"), std::string::npos);
}

}  // namespace
}  // namespace sshboot::sshd
