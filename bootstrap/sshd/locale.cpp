#include "sshd/locale.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>

#include "util/fd.hpp"

namespace sshboot::sshd {
namespace {

// glibc's locarchive.h: the header's fields in order, native byte order.
constexpr std::uint32_t k_archive_magic = 0xde020109;
constexpr std::size_t k_header_words = 11;
constexpr std::size_t k_namehash_entry = 12;  // hashval, name_offset, locrec_offset
// An archive with every glibc locale has a few thousand names; beyond this
// it is not a locale archive.
constexpr std::uint32_t k_max_names = 1 << 16;
constexpr std::size_t k_max_prefix = 16 << 20;

std::uint32_t word_at(std::string_view s, std::size_t offset) {
    std::uint32_t v = 0;
    std::memcpy(&v, s.data() + offset, sizeof v);
    return v;
}

// How much of the file locale_archive_names needs, from the header; 0 when
// the header is not an archive's.
std::size_t needed_prefix(std::string_view header) {
    if (header.size() < k_header_words * 4 || word_at(header, 0) != k_archive_magic) {
        return 0;
    }
    const std::uint64_t hash_end =
        word_at(header, 8) + std::uint64_t{word_at(header, 16)} * k_namehash_entry;
    const std::uint64_t string_end = std::uint64_t{word_at(header, 20)} + word_at(header, 24);
    const std::uint64_t end = std::max(hash_end, string_end);
    return word_at(header, 16) > k_max_names || end > k_max_prefix ? 0
                                                                   : static_cast<std::size_t>(end);
}

bool is_locale_variable(std::string_view name) {
    return name == "LANG" || name.starts_with("LC_");
}

}  // namespace

std::string normalize_locale(std::string_view name) {
    const auto dot = name.find('.');
    if (dot == std::string_view::npos) {
        return std::string(name);
    }
    const auto at = name.find('@', dot);
    const std::string_view codeset =
        name.substr(dot + 1, at == std::string_view::npos ? std::string_view::npos : at - dot - 1);
    std::string norm;
    bool digits_only = true;
    for (char c : codeset) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) != 0) {
            digits_only = digits_only && std::isdigit(u) != 0;
            norm += static_cast<char>(std::tolower(u));
        }
    }
    if (digits_only && !norm.empty()) {
        norm = "iso" + norm;
    }
    std::string out(name.substr(0, dot + 1));
    out += norm;
    if (at != std::string_view::npos) {
        out += name.substr(at);
    }
    return out;
}

std::vector<std::string> locale_archive_names(std::string_view prefix) {
    std::vector<std::string> out;
    const std::size_t need = needed_prefix(prefix);
    if (need == 0 || prefix.size() < need) {
        return out;
    }
    const std::uint32_t hash_offset = word_at(prefix, 8);
    const std::uint32_t hash_size = word_at(prefix, 16);
    for (std::uint32_t i = 0; i < hash_size; ++i) {
        const std::size_t entry = hash_offset + std::size_t{i} * k_namehash_entry;
        const std::uint32_t name_offset = word_at(prefix, entry + 4);
        const std::uint32_t locrec = word_at(prefix, entry + 8);
        if (locrec == 0 || name_offset == 0 || name_offset >= prefix.size()) {
            continue;  // an empty slot
        }
        const std::string_view rest = prefix.substr(name_offset);
        const auto end = rest.find('\0');
        if (end == std::string_view::npos || end == 0) {
            continue;
        }
        out.emplace_back(rest.substr(0, end));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::string> list_locales(const std::string& dir) {
    std::vector<std::string> out = {"C", "POSIX"};
    const std::string archive = dir + "/locale-archive";
    if (util::UniqueFd fd{::open(archive.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
        fd.get() >= 0) {
        struct stat st {};
        std::array<char, k_header_words * 4> header{};
        if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::pread(fd.get(), header.data(), header.size(), 0) ==
                static_cast<ssize_t>(header.size())) {
            const std::size_t need = needed_prefix({header.data(), header.size()});
            std::string prefix(need, '\0');
            if (need > 0 &&
                ::pread(fd.get(), prefix.data(), need, 0) == static_cast<ssize_t>(need)) {
                for (auto& name : locale_archive_names(prefix)) {
                    out.push_back(std::move(name));
                }
            }
        }
    }
    if (DIR* d = ::opendir(dir.c_str()); d != nullptr) {
        while (const dirent* e = ::readdir(d)) {
            const std::string name = e->d_name;
            if (name == "." || name == "..") {
                continue;
            }
            struct stat st {};
            if (::stat((dir + "/" + name + "/LC_CTYPE").c_str(), &st) == 0) {
                out.push_back(name);
            }
        }
        ::closedir(d);
    }
    return out;
}

bool has_locale(const std::vector<std::string>& available, std::string_view name) {
    if (name.empty() || name == "C" || name == "POSIX") {
        return true;
    }
    if (name.find('/') != std::string_view::npos) {
        return false;  // a path: not a locale this image lists
    }
    const std::string want = normalize_locale(name);
    return std::any_of(available.begin(), available.end(), [&](const std::string& a) {
        return a == name || normalize_locale(a) == want;
    });
}

bool has_extra_locales(const std::vector<std::string>& available) {
    return std::any_of(available.begin(), available.end(), [](const std::string& a) {
        const std::string n = normalize_locale(a);
        return n != "C" && n != "POSIX" && n != "C.utf8";
    });
}

LocalePlan plan_locale(const std::vector<std::string>& available,
                       std::vector<std::string> session_env) {
    LocalePlan plan;
    plan.accept_client_locale = has_extra_locales(available);
    bool has_lang = false;
    for (auto& entry : session_env) {
        const auto eq = entry.find('=');
        const std::string_view name = std::string_view(entry).substr(0, eq);
        if (eq == std::string::npos || !is_locale_variable(name)) {
            plan.session_env.push_back(std::move(entry));
            continue;
        }
        const std::string_view value = std::string_view(entry).substr(eq + 1);
        if (!has_locale(available, value)) {
            plan.removed.push_back(std::move(entry));
            continue;
        }
        has_lang = has_lang || (name == "LANG" && !value.empty());
        plan.session_env.push_back(std::move(entry));
    }
    if (!has_lang && !plan.accept_client_locale) {
        plan.session_env.push_back(std::string("LANG=") + k_fallback_locale);
    }
    return plan;
}

}  // namespace sshboot::sshd
