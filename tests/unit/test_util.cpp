#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "util/base64.hpp"
#include "util/fs.hpp"
#include "util/idle_memory.hpp"
#include "util/parse.hpp"
#include "util/process.hpp"
#include "util/template.hpp"

using namespace sshboot;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/sshboot-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST(base64_encode, matches_rfc4648_vectors) {
    EXPECT_EQ(util::base64_encode(std::string_view("")), "");
    EXPECT_EQ(util::base64_encode(std::string_view("f")), "Zg==");
    EXPECT_EQ(util::base64_encode(std::string_view("fo")), "Zm8=");
    EXPECT_EQ(util::base64_encode(std::string_view("foo")), "Zm9v");
    EXPECT_EQ(util::base64_encode(std::string_view("foobar")), "Zm9vYmFy");
}

TEST(base64_decode, round_trips_and_rejects_garbage) {
    auto d = util::base64_decode("Zm9vYmE=");
    ASSERT_TRUE(d);
    EXPECT_EQ(std::string(d->begin(), d->end()), "fooba");
    EXPECT_TRUE(util::base64_decode("Zm9vYmE"));  // padding optional
    EXPECT_FALSE(util::base64_decode("Zm9v YmE="));
    EXPECT_FALSE(util::base64_decode("Zm9=vYmE"));
    EXPECT_FALSE(util::base64_decode("Z"));
    EXPECT_FALSE(util::base64_decode("Zh=="));  // non-zero trailing bits
}

TEST(parse_count, accepts_only_whole_numbers_from_0_to_max) {
    EXPECT_EQ(util::parse_count("0", 5), 0);
    EXPECT_EQ(util::parse_count("5", 5), 5);
    EXPECT_EQ(util::parse_count("6", 5), std::nullopt);
    EXPECT_EQ(util::parse_count("-1", 5), std::nullopt);
    EXPECT_EQ(util::parse_count("", 5), std::nullopt);
    EXPECT_EQ(util::parse_count("2x", 5), std::nullopt);
    EXPECT_EQ(util::parse_count(" 2", 5), std::nullopt);
    EXPECT_EQ(util::parse_count("99999999999", 2147483647), std::nullopt);
}

TEST(parse_port, accepts_only_1_to_65535) {
    EXPECT_EQ(util::parse_port("22"), 22);
    EXPECT_EQ(util::parse_port("65535"), 65535);
    EXPECT_FALSE(util::parse_port("0"));
    EXPECT_FALSE(util::parse_port("65536"));
    EXPECT_FALSE(util::parse_port("22\nPermitEmptyPasswords yes"));
    EXPECT_FALSE(util::parse_port("-1"));
    EXPECT_FALSE(util::parse_port(""));
    EXPECT_FALSE(util::parse_port("22 "));
}

TEST(printable, escapes_terminal_controls_and_cuts) {
    EXPECT_EQ(util::printable("\x1b]0;title\x07\x1b[2J"), "\\x1b]0;title\\x07\\x1b[2J");
    EXPECT_EQ(util::printable("\xc2\x9b"
                              "2J"),
              "\\xc2\\x9b2J");  // C1 CSI in UTF-8
    EXPECT_EQ(util::printable("abcdef", 3), "abc...");
    EXPECT_EQ(util::printable("plain text"), "plain text");
}

TEST(quoted_for_log, keeps_a_value_on_one_line) {
    EXPECT_EQ(util::quoted_for_log("22"), "'22'");
    EXPECT_EQ(util::quoted_for_log("22\nPermitEmptyPasswords yes"),
              "'22\\nPermitEmptyPasswords yes'");
    EXPECT_EQ(util::quoted_for_log(std::string("a\tb\r\x01\xff", 6)), "'a\\tb\\r\\x01\\xff'");
    const std::string long_value(100, 'x');
    EXPECT_EQ(util::quoted_for_log(long_value), "'" + std::string(64, 'x') + "...'");
}

TEST(render_template, substitutes_and_names_a_missing_value) {
    auto r = util::render_template("a {{X}} b {{Y}}", {{"X", "1"}, {"Y", "2"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "a 1 b 2");
    auto missing = util::render_template("{{NOPE}}", {});
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("NOPE"), std::string::npos);
}

TEST(write_file_atomic, writes_mode_and_replaces_content) {
    TempDir dir;
    const std::string path = dir.path + "/f";
    ASSERT_TRUE(util::write_file_atomic(path, "one", 0600));
    ASSERT_TRUE(util::write_file_atomic(path, "two", 0640));
    auto text = util::read_file(path);
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, "two");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    // No temporary left behind.
    int count = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) {
        ++count;
    }
    EXPECT_EQ(count, 1);
}

TEST(write_file_atomic, regenerated_writes_the_same_file_without_a_temporary_left) {
    TempDir dir;
    const std::string path = dir.path + "/config";
    ASSERT_TRUE(util::write_file_atomic(path, "old", 0644));
    ASSERT_TRUE(
        util::write_file_atomic(path, "new", 0600, std::nullopt, util::Durability::Regenerated));
    auto text = util::read_file(path);
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, "new");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    int count = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) {
        ++count;
    }
    EXPECT_EQ(count, 1);
    // A failure still leaves the old file and no temporary.
    EXPECT_FALSE(util::write_file_atomic(dir.path + "/missing/config", "x", 0644, std::nullopt,
                                         util::Durability::Regenerated));
}

TEST(write_file_atomic, regenerated_leaves_a_file_that_already_holds_it_alone) {
    TempDir dir;
    const std::string path = dir.path + "/config";
    auto inode = [&] {
        struct stat st {};
        EXPECT_EQ(::lstat(path.c_str(), &st), 0);
        return st.st_ino;
    };
    const auto regenerate = [&](std::string_view text, mode_t mode) {
        return util::write_file_atomic(path, text, mode, std::nullopt,
                                       util::Durability::Regenerated);
    };
    ASSERT_TRUE(regenerate("same", 0644));
    const auto first = inode();
    ASSERT_TRUE(regenerate("same", 0644));
    EXPECT_EQ(inode(), first);  // not created again
    // Another mode, another content or a longer file: written anew.
    ASSERT_TRUE(regenerate("same", 0600));
    EXPECT_NE(inode(), first);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    const auto second = inode();
    ASSERT_TRUE(regenerate("diff", 0600));
    EXPECT_NE(inode(), second);
    EXPECT_EQ(*util::read_file(path), "diff");
    // A symlink to a file with that content is replaced, never kept.
    const std::string target = dir.path + "/target";
    ASSERT_TRUE(util::write_file_atomic(target, "diff", 0600));
    ASSERT_EQ(::unlink(path.c_str()), 0);
    ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0);
    ASSERT_TRUE(regenerate("diff", 0600));
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    // So is a second hard link of the same content.
    const std::string link = dir.path + "/link";
    ASSERT_EQ(::link(path.c_str(), link.c_str()), 0);
    const auto linked = inode();
    ASSERT_TRUE(regenerate("diff", 0600));
    EXPECT_NE(inode(), linked);
}

TEST(open_subdir_nofollow, refuses_a_symlink) {
    TempDir dir;
    ASSERT_EQ(::symlink("/etc", (dir.path + "/link").c_str()), 0);
    auto parent = util::open_dir(dir.path);
    ASSERT_TRUE(parent);
    auto sub = util::open_subdir_nofollow(parent->get(), "link");
    ASSERT_FALSE(sub);
    EXPECT_NE(sub.error().message.find("symlink"), std::string::npos);
}

TEST(read_file_at, does_not_follow_a_final_symlink) {
    TempDir dir;
    ASSERT_EQ(::symlink("/etc/hostname", (dir.path + "/link").c_str()), 0);
    auto parent = util::open_dir(dir.path);
    ASSERT_TRUE(parent);
    EXPECT_FALSE(util::read_file_at(parent->get(), "link"));
}

TEST(read_file_at, refuses_a_fifo_without_waiting) {
    TempDir dir;
    ASSERT_EQ(::mkfifo((dir.path + "/fifo").c_str(), 0600), 0);
    auto fd = util::open_dir(dir.path);
    ASSERT_TRUE(fd);
    auto text = util::read_file_at(fd->get(), "fifo");
    ASSERT_FALSE(text);
    EXPECT_NE(text.error().message.find("a FIFO"), std::string::npos) << text.error().message;
    auto by_path = util::read_file(dir.path + "/fifo");
    ASSERT_FALSE(by_path);
    EXPECT_NE(by_path.error().message.find("not a regular file"), std::string::npos);
}

TEST(open_regular_at, names_what_it_found) {
    TempDir dir;
    ASSERT_EQ(::mkdir((dir.path + "/d").c_str(), 0700), 0);
    ASSERT_EQ(::symlink("/etc/passwd", (dir.path + "/link").c_str()), 0);
    auto fd = util::open_dir(dir.path);
    ASSERT_TRUE(fd);
    auto d = util::open_regular_at(fd->get(), "d");
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message.find("a directory"), std::string::npos) << d.error().message;
    auto link = util::open_regular_at(fd->get(), "link");
    ASSERT_FALSE(link);
    EXPECT_NE(link.error().message.find("symlink"), std::string::npos) << link.error().message;
}

TEST(open_trusted_dir, creates_and_checks_each_component) {
    TempDir dir;
    std::optional<util::PathProblem> problem;
    auto made = util::open_trusted_dir(dir.path + "/a/b", 0700, &problem, dir.path);
    ASSERT_TRUE(made) << made.error().message;
    EXPECT_FALSE(problem);
    struct stat st {};
    ASSERT_EQ(::stat((dir.path + "/a/b").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);

    ASSERT_EQ(::chmod((dir.path + "/a").c_str(), 0777), 0);
    auto writable = util::open_trusted_dir(dir.path + "/a/b", 0700, &problem, dir.path);
    ASSERT_FALSE(writable);
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->path, dir.path + "/a");
    EXPECT_EQ(problem->fix, "chmod go-w " + dir.path + "/a");
    EXPECT_NE(problem->message.find("0777"), std::string::npos) << problem->message;

    problem.reset();
    ASSERT_EQ(::symlink((dir.path + "/a").c_str(), (dir.path + "/link").c_str()), 0);
    auto via_link = util::open_trusted_dir(dir.path + "/link/b", 0700, &problem, dir.path);
    ASSERT_FALSE(via_link);
    ASSERT_TRUE(problem);
    EXPECT_NE(problem->message.find("symlink"), std::string::npos) << problem->message;
}

TEST(open_trusted_dir, refuses_a_directory_owned_by_another_uid) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to chown";
    }
    TempDir dir;
    ASSERT_EQ(::mkdir((dir.path + "/theirs").c_str(), 0700), 0);
    ASSERT_EQ(::chown((dir.path + "/theirs").c_str(), 1000, 1000), 0);
    std::optional<util::PathProblem> problem;
    auto fd = util::open_trusted_dir(dir.path + "/theirs", 0700, &problem, dir.path);
    ASSERT_FALSE(fd);
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->message, dir.path + "/theirs is owned by uid 1000");
    EXPECT_EQ(problem->fix, "chown root:root " + dir.path + "/theirs");
}

TEST(run_capture, returns_output_and_exit_code) {
    auto r = util::run_capture({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 3);
    EXPECT_EQ(r->output, "out\nerr\n");
}

TEST(run_capture, reports_127_for_a_missing_program) {
    auto r = util::run_capture({"/nonexistent/program"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 127);
}

namespace {

// The wait status of a child spawn started.
int wait_status(pid_t pid) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    return status;
}

int exit_code_of(const std::vector<std::string>& argv, const util::SpawnOptions& options = {}) {
    auto pid = util::spawn(argv, options);
    EXPECT_TRUE(pid);
    if (!pid) {
        return -1;
    }
    const int status = wait_status(*pid);
    EXPECT_TRUE(WIFEXITED(status)) << util::describe_wait_status(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST(spawn, runs_the_program_with_only_the_given_environment) {
    util::SpawnOptions options;
    options.env = std::vector<std::string>{"X=yes"};
    EXPECT_EQ(
        exit_code_of({"/bin/sh", "-c", R"(test "$X" = yes && test -z "$HOME" && exit 5)"}, options),
        5);
    // A name without a slash is looked up on PATH.
    EXPECT_EQ(exit_code_of({"sh", "-c", "exit 4"}), 4);
}

TEST(spawn, a_failed_exec_exits_127_or_126_as_a_shell_does) {
    TempDir dir;
    EXPECT_EQ(exit_code_of({dir.path + "/missing"}), 127);
    EXPECT_EQ(exit_code_of({"no-such-program-here"}), 127);
    const std::string plain = dir.path + "/plain";
    ASSERT_TRUE(util::write_file_atomic(plain, "exit 0\n", 0644));
    EXPECT_EQ(exit_code_of({plain}), 126);
}

TEST(spawn, runs_a_script_without_an_interpreter_line_with_sh) {
    TempDir dir;
    const std::string script = dir.path + "/script";
    ASSERT_TRUE(util::write_file_atomic(script, "exit 9\n", 0755));
    EXPECT_EQ(exit_code_of({script}), 9);
}

TEST(spawn, clears_the_signal_mask_and_restores_default_dispositions) {
    sigset_t term;
    sigset_t old_mask;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    ASSERT_EQ(::sigprocmask(SIG_BLOCK, &term, &old_mask), 0);
    const auto old_usr1 = ::signal(SIGUSR1, SIG_IGN);

    auto ignored = util::spawn({"/bin/sh", "-c", "kill -USR1 $$; exit 0"});
    auto blocked = util::spawn({"/bin/sh", "-c", "kill -TERM $$; exit 0"});

    ::signal(SIGUSR1, old_usr1);
    ASSERT_EQ(::sigprocmask(SIG_SETMASK, &old_mask, nullptr), 0);
    ASSERT_TRUE(ignored);
    ASSERT_TRUE(blocked);
    const int a = wait_status(*ignored);
    const int b = wait_status(*blocked);
    EXPECT_TRUE(WIFSIGNALED(a) && WTERMSIG(a) == SIGUSR1) << util::describe_wait_status(a);
    EXPECT_TRUE(WIFSIGNALED(b) && WTERMSIG(b) == SIGTERM) << util::describe_wait_status(b);
}

TEST(spawn, starts_a_new_process_group_when_asked) {
    util::SpawnOptions options;
    options.new_process_group = true;
    auto pid = util::spawn({"/bin/sleep", "30"}, options);
    ASSERT_TRUE(pid);
    EXPECT_EQ(::getpgid(*pid), *pid);
    ::kill(*pid, SIGKILL);
    wait_status(*pid);

    auto same = util::spawn({"/bin/sleep", "30"});
    ASSERT_TRUE(same);
    EXPECT_EQ(::getpgid(*same), ::getpgrp());
    ::kill(*same, SIGKILL);
    wait_status(*same);
}

TEST(find_executable, searches_the_path_list) {
    EXPECT_EQ(util::find_executable("sh", "/nonexistent:/bin"), "/bin/sh");
    EXPECT_FALSE(util::find_executable("no-such-program-here", "/bin:/usr/bin"));
}

TEST(fields_of, splits_on_spaces_tabs_and_line_ends) {
    using V = std::vector<std::string_view>;
    EXPECT_EQ(util::fields_of("  0: 0100007F:0016 00000000:0000 0A  "),
              (V{"0:", "0100007F:0016", "00000000:0000", "0A"}));
    EXPECT_EQ(util::fields_of("Anonymous:\t  8 kB\r\n"), (V{"Anonymous:", "8", "kB"}));
    EXPECT_TRUE(util::fields_of("").empty());
    EXPECT_TRUE(util::fields_of(" \t \r\n").empty());
}

namespace {

const char* const k_smaps =
    "00400000-00401000 r--p 00000000 fd:01 42                         /usr/local/bin/sshboot\n"
    "Size:                  4 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd mr mw me dw sd\n"
    "00401000-00ade000 r-xp 00001000 fd:01 42                         /usr/local/bin/sshboot\n"
    "Size:               7028 kB\n"
    "Anonymous:             0 kB\n"
    "00cba000-00d28000 r--p 008b9000 fd:01 42                         /usr/local/bin/sshboot\n"
    "Anonymous:             8 kB\n"
    "00d28000-00d31000 rw-p 00927000 fd:01 42                         /usr/local/bin/sshboot\n"
    "Anonymous:            36 kB\n"
    "01000000-01021000 rw-p 00000000 00:00 0                          [heap]\n"
    "Anonymous:           132 kB\n"
    "7f0000000000-7f0000001000 r--p 00000000 fd:01 77                 "
    "/usr/lib/locale/C.utf8/LC_CTYPE\n"
    "Anonymous:             0 kB\n"
    "7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                  [vdso]\n"
    "Anonymous:             0 kB\n";

}  // namespace

TEST(idle_memory, read_only_file_mappings_of_the_program) {
    const std::vector<util::AddressRange> segments = {
        {0x400000, 0x401000}, {0x401000, 0xade000}, {0xcb9000, 0xd43000}};
    const auto got = util::program_read_only_mappings(k_smaps, segments);
    // Not the writable one, the heap, a file outside the program or the vDSO.
    const std::vector<util::ReadOnlyMapping> want = {
        {{0x400000, 0x401000}, false}, {{0x401000, 0xade000}, false}, {{0xcba000, 0xd28000}, true}};
    EXPECT_EQ(got, want);
    EXPECT_TRUE(util::program_read_only_mappings(k_smaps, {}).empty());
    EXPECT_TRUE(util::program_read_only_mappings("", segments).empty());
    // A mapping without its Anonymous line counts as written.
    const auto bare = util::program_read_only_mappings(
        "00400000-00401000 r--p 00000000 fd:01 42 /x\nSize: 4 kB\n", segments);
    ASSERT_EQ(bare.size(), 1U);
    EXPECT_TRUE(bare[0].has_written_pages);
    EXPECT_TRUE(util::program_read_only_mappings("garbage-line r--p\nzz-yy r--p 0 0 1\n", segments)
                    .empty());
}

TEST(idle_memory, file_page_runs_keep_written_and_swapped_pages) {
    constexpr std::uint64_t present = 1ULL << 63;
    constexpr std::uint64_t swapped = 1ULL << 62;
    constexpr std::uint64_t file = 1ULL << 61;
    const util::AddressRange range{0x10000, 0x10000 + 6 * 0x1000};
    // file page, anonymous page, not mapped, swapped out, file page, file page
    const std::vector<std::uint64_t> entries = {present | file, present,        0,
                                                swapped,        present | file, present | file};
    const std::vector<util::AddressRange> want = {
        {0x10000, 0x11000}, {0x12000, 0x13000}, {0x14000, 0x16000}};
    EXPECT_EQ(util::file_page_runs(range, entries, 0x1000), want);
    // Entries missing for the tail: those pages are kept.
    const std::vector<util::AddressRange> head = {{0x10000, 0x11000}};
    EXPECT_EQ(util::file_page_runs(range, std::span(entries).first(2), 0x1000), head);
}

TEST(idle_memory, release_unmaps_the_programs_pages_and_the_program_goes_on) {
    const auto rss_file = [] {
        auto status = util::read_file("/proc/self/status");
        EXPECT_TRUE(status.has_value());
        const auto at = status->find("RssFile:");
        return at == std::string::npos ? 0L : std::strtol(status->c_str() + at + 8, nullptr, 10);
    };
    const auto idle = util::IdleMemory::of_this_program();
    ASSERT_FALSE(idle.ranges().empty());
    // Much of the binary's constants and code is mapped: the tests so far
    // used it.
    const long before = rss_file();
    idle.release();
    const long after = rss_file();
    EXPECT_LT(after, before);
    // Code and constants come back on use, and a second release works too.
    EXPECT_EQ(util::base64_encode("hello"), "aGVsbG8=");
    idle.release();
    EXPECT_EQ(util::base64_encode("hello"), "aGVsbG8=");
}
