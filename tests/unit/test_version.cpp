#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "cli/version.hpp"

namespace sshboot {
namespace {

TEST(version_line, is_one_line_with_version_commit_architecture_and_build_facts) {
    const std::string line = cli::version_line();
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const std::regex shape(
        "sshboot [0-9]+\\.[0-9]+\\.[0-9]+\\S* commit=([0-9a-f]{7,40}(-dirty)?|unknown)"
        " arch=\\S+ compiler=(gcc|clang)-[0-9.]+ libc=glibc-[0-9.]+ link=(static|dynamic)"
        " libsodium=[0-9.]+");
    EXPECT_TRUE(std::regex_match(line, shape)) << line;
}

TEST(version_line, names_the_architecture_it_was_compiled_for) {
    const std::string line = cli::version_line();
#if defined(__x86_64__)
    EXPECT_NE(line.find(" arch=x86_64 "), std::string::npos) << line;
#elif defined(__aarch64__)
    EXPECT_NE(line.find(" arch=aarch64 "), std::string::npos) << line;
#endif
}

}  // namespace
}  // namespace sshboot
