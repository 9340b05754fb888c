// Times what sshboot does with N keys from the environment: parse them,
// merge them into the managed block of an authorized_keys file that holds N
// other keys and lines of the user's own, and write the file as a start does.
// Prints the median, min and max of each step.
//
//   bench_merge [N] [RUNS]      defaults: 10000 keys, 21 runs
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "accounts/ssh_dir.hpp"
#include "keys/authorized_keys.hpp"
#include "keys/parse.hpp"
#include "util/base64.hpp"

namespace {

// An ed25519 public key line whose 32 key bytes encode `n` (the wire format
// is valid, so parse_keys accepts it).
std::string key_line(unsigned n, const char* comment) {
    std::string blob = std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19);
    for (int i = 0; i < 32; ++i) {
        blob.push_back(static_cast<char>((n >> ((i % 4) * 8)) & 0xff));
    }
    return "ssh-ed25519 " + sshboot::util::base64_encode(blob) + " " + comment + std::to_string(n);
}

// Median, min and max of `runs` timings of `f`, in milliseconds.
template <typename F>
std::string timed(int runs, F&& f) {
    std::vector<double> ms;
    for (int r = 0; r < runs; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        const auto t1 = std::chrono::steady_clock::now();
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    char buf[128];
    std::snprintf(buf, sizeof buf, "median %.2f ms (min %.2f, max %.2f)", ms[ms.size() / 2],
                  ms.front(), ms.back());
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace sshboot;
    const unsigned n = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : 10000;
    const int runs = argc > 2 ? std::atoi(argv[2]) : 21;
    if (n == 0 || runs <= 0) {
        std::fprintf(stderr, "usage: bench_merge [KEYS] [RUNS]\n");
        return 2;
    }
    std::vector<std::string> old_lines;
    std::string env_text;  // what SSH_PUBLIC_KEY would hold: one key a line
    for (unsigned i = 0; i < n; ++i) {
        old_lines.push_back(key_line(i, "old-"));
        env_text += key_line(i + n, "new-") + "\n";
    }
    std::vector<std::string> new_lines;
    for (const auto& key : keys::parse_keys(env_text).keys) {
        new_lines.push_back(key.line());
    }
    // The keys must be ones the parser accepts, or this measures nothing real.
    if (new_lines.size() != n) {
        std::fprintf(stderr, "bench_merge: %zu of %u generated keys parse\n", new_lines.size(), n);
        return 1;
    }
    const std::string user =
        "# my own keys\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGuser me@laptop\n";
    const std::string existing = user + keys::merge_managed_block("", old_lines) + user;

    // A home of our own for the file: install_authorized_keys writes it as
    // sshboot does (atomically, with fsync, modes fixed along the path).
    char home_template[] = "/tmp/bench_merge.XXXXXX";
    const char* home = ::mkdtemp(home_template);
    if (home == nullptr) {
        std::perror("bench_merge: mkdtemp");
        return 1;
    }
    accounts::PasswdEntry entry{"bench", "x", ::getuid(), ::getgid(), "", home, "/bin/sh"};

    std::size_t size = 0;
    const auto parse = timed(runs, [&] { size = keys::parse_keys(env_text).keys.size(); });
    const auto merge =
        timed(runs, [&] { size = keys::merge_managed_block(existing, new_lines).size(); });
    bool ok = true;
    const auto install = timed(
        runs, [&] { ok = accounts::install_authorized_keys(entry, new_lines).has_value() && ok; });
    std::filesystem::remove_all(home);
    if (!ok) {
        std::fprintf(stderr, "bench_merge: install_authorized_keys failed\n");
        return 1;
    }
    std::printf("%u keys, %d runs each (authorized_keys %zu bytes)\n", n, runs, size);
    std::printf("  parse the environment's keys:      %s\n", parse.c_str());
    std::printf("  merge into the managed block:      %s\n", merge.c_str());
    std::printf("  write authorized_keys (fsync+mv):  %s\n", install.c_str());
    return 0;
}
