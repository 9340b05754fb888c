#include "util/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "util/parse.hpp"

namespace sshboot::log {
namespace {

spdlog::level::level_enum to_spdlog(Level level) {
    switch (level) {
        case Level::debug:
            return spdlog::level::debug;
        case Level::info:
            return spdlog::level::info;
        case Level::warn:
            return spdlog::level::warn;
        case Level::error:
            break;
    }
    return spdlog::level::err;
}

}  // namespace

void init(bool verbose) {
    static bool done = false;
    if (!done) {
        auto logger = spdlog::stderr_logger_st("sshboot");
        logger->set_pattern("sshboot: %l: %v");
        spdlog::set_default_logger(logger);
        done = true;
    }
    spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
}

bool enabled(Level level) {
    return spdlog::should_log(to_spdlog(level));
}

void write(Level level, std::string_view message) {
    // Callers quote the values they echo (util::quoted_for_log); this is the
    // last guard: no control byte or escape sequence reaches the terminal,
    // and an event stays on one line.
    const bool clean = std::all_of(message.begin(), message.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u < 0x7f;
    });
    if (clean) {
        spdlog::log(to_spdlog(level), "{}", message);
    } else {
        spdlog::log(to_spdlog(level), "{}", util::printable(message, message.size()));
    }
}

}  // namespace sshboot::log
