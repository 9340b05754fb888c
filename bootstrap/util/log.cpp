#include "util/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

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
    spdlog::log(to_spdlog(level), "{}", message);
}

}  // namespace sshboot::log
