// Logging: one line per event on stderr ("sshboot: <level>: message"),
// written through spdlog.
//
// Only log.cpp includes spdlog: its header-only build costs every file that
// includes it several seconds of compiling, so the rest of the code formats
// with fmt and hands the finished line over.
#pragma once

#include <fmt/format.h>

#include <string_view>
#include <utility>

namespace sshboot::log {

enum class Level { debug, info, warn, error };

// Sets up the stderr logger; `verbose` adds debug lines. Idempotent.
void init(bool verbose = false);

// Whether lines of `level` are written (debug only when verbose).
bool enabled(Level level);

// Writes one finished line; control characters and bytes outside ASCII in
// it are shown escaped (util::printable), so it stays one line and sends no
// escape sequence to a terminal.
void write(Level level, std::string_view message);

template <typename... Args>
void emit(Level level, fmt::format_string<Args...> format, Args&&... args) {
    if (enabled(level)) {
        write(level, fmt::format(format, std::forward<Args>(args)...));
    }
}

template <typename... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
    emit(Level::debug, format, std::forward<Args>(args)...);
}
template <typename... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
    emit(Level::info, format, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
    emit(Level::warn, format, std::forward<Args>(args)...);
}
template <typename... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
    emit(Level::error, format, std::forward<Args>(args)...);
}

}  // namespace sshboot::log
