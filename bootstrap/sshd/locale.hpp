// Which locale SSH sessions get. Every ssh client sends its own (SendEnv LANG
// LC_*: "en_US.UTF-8", macOS's "LC_CTYPE=UTF-8"); an image without that
// locale makes every shell, perl and python warn at start-up, before any rc
// file runs. So the decision is made before sshd starts, from the locales the
// image has:
// - an image with no locale beyond C, POSIX and C.UTF-8 (minimal and CUDA
//   images, the usual case): sshd does not accept the client's LANG/LC_*, and
//   sessions get the container's LANG when the image has it, else C.UTF-8;
// - an image with more locales: the client's LANG/LC_* are accepted, since
//   many of them exist here; the container's own locale variables that name
//   a missing locale are still replaced.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sshboot::sshd {

inline constexpr const char* k_locale_dir = "/usr/lib/locale";
inline constexpr const char* k_fallback_locale = "C.UTF-8";

// glibc's spelling of a locale name for lookups: the codeset lower-cased
// without punctuation ("en_US.UTF-8" -> "en_US.utf8", "C.UTF-8" -> "C.utf8").
std::string normalize_locale(std::string_view name);

// The locale names in a glibc locale-archive; `prefix` holds the file from its
// start at least to the end of its name table and strings. Malformed: empty.
std::vector<std::string> locale_archive_names(std::string_view prefix);

// Effects: the locales of this image: C and POSIX, the names in
// <dir>/locale-archive, the directories <dir>/<name>/ holding LC_CTYPE.
std::vector<std::string> list_locales(const std::string& dir = k_locale_dir);

// `name` can be set here without a warning (C and POSIX always can).
bool has_locale(const std::vector<std::string>& available, std::string_view name);

// Locales other than C, POSIX and C.UTF-8.
bool has_extra_locales(const std::vector<std::string>& available);

struct LocalePlan {
    // "AcceptEnv LANG LC_*" in sshd's config.
    bool accept_client_locale = false;
    // The environment sessions get, with LANG/LC_* that name a missing locale
    // removed and, when the client's are not accepted, LANG set.
    std::vector<std::string> session_env;
    // "LANG=en_US.UTF-8" entries removed, for the log.
    std::vector<std::string> removed;
};

// `session_env`: NAME=VALUE entries.
LocalePlan plan_locale(const std::vector<std::string>& available,
                       std::vector<std::string> session_env);

}  // namespace sshboot::sshd
