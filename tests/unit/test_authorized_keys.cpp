#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "keys/authorized_keys.hpp"

namespace sshboot::keys {
namespace {

const std::string k_begin(k_block_begin);
const std::string k_end(k_block_end);

std::string block(const std::vector<std::string>& lines) {
    std::string out = k_begin + "\n";
    for (const auto& l : lines) {
        out += l + "\n";
    }
    return out + k_end + "\n";
}

const std::vector<std::string> k_two = {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA a@b",
                                        "restrict ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB c@d"};

TEST(merge_managed_block, AppendsToEmptyFile) {
    EXPECT_EQ(merge_managed_block("", k_two), block(k_two));
}

TEST(merge_managed_block, AppendsAfterUserLinesKeepingThem) {
    const std::string user = "# mine\nssh-ed25519 AAAAuser me@home\n";
    EXPECT_EQ(merge_managed_block(user, k_two), user + block(k_two));
}

TEST(merge_managed_block, AddsNewlineWhenFileLacksOne) {
    const std::string user = "ssh-ed25519 AAAAuser me@home";
    EXPECT_EQ(merge_managed_block(user, k_two), user + "\n" + block(k_two));
}

TEST(merge_managed_block, IsIdempotent) {
    for (const std::string_view user : {"", "x", "a\nb\n", "a\r\nb\r\n", "a\n\n\n"}) {
        const std::string once = merge_managed_block(user, k_two);
        EXPECT_EQ(merge_managed_block(once, k_two), once);
    }
}

TEST(merge_managed_block, ReplacesTheBlockInPlaceWithoutDuplicating) {
    const std::string before = "# top\r\nssh-ed25519 AAAAtop\r\n";
    const std::string after = "ssh-rsa AAAAbottom last-line-without-newline";
    const std::string existing = before + block({"ssh-ed25519 AAAAold old@x"}) + after;
    const std::string merged = merge_managed_block(existing, k_two);
    EXPECT_EQ(merged, before + block(k_two) + after);
    EXPECT_EQ(merged.find("old@x"), std::string::npos);
    EXPECT_EQ(merged.find(k_begin), merged.rfind(k_begin));
}

TEST(merge_managed_block, EmptyLinesRemoveTheBlock) {
    const std::string before = "a\n";
    const std::string after = "b\n";
    EXPECT_EQ(merge_managed_block(before + block(k_two) + after, {}), before + after);
    EXPECT_EQ(merge_managed_block(block(k_two), {}), "");
    // No block, nothing to add: the file is untouched, even without a final newline.
    EXPECT_EQ(merge_managed_block("a\r\nb", {}), "a\r\nb");
}

TEST(merge_managed_block, CrlfUserFileIsPreservedByteForByte) {
    const std::string user = "# mine\r\nssh-ed25519 AAAAuser me@home\r\n";
    const std::string merged = merge_managed_block(user, k_two);
    EXPECT_EQ(merged.substr(0, user.size()), user);
    // Marker lines with CRLF endings (an editor converted the file) are still found.
    std::string crlf_block = k_begin + "\r\nssh-ed25519 AAAAold\r\n" + k_end + "\r\n";
    EXPECT_EQ(merge_managed_block(user + crlf_block + "tail\r\n", k_two),
              user + block(k_two) + "tail\r\n");
}

TEST(merge_managed_block, UserCopiesOfManagedKeysStayOutsideTheBlock) {
    const std::string user = k_two[0] + "\n";
    const std::string merged = merge_managed_block(user, k_two);
    EXPECT_EQ(merged, user + block(k_two));
    EXPECT_EQ(merge_managed_block(merged, {}), user);
}

TEST(merge_managed_block, BeginWithoutEndIsKeptAsUserLine) {
    const std::string user = "a\n" + k_begin + "\nb\n";
    const std::string merged = merge_managed_block(user, k_two);
    EXPECT_EQ(merged, user + block(k_two));
    EXPECT_EQ(merge_managed_block(merged, k_two), merged);
    EXPECT_EQ(merge_managed_block(merged, {}), user);
    // An end marker with no begin is a user line too.
    const std::string stray_end = "a\n" + k_end + "\n";
    EXPECT_EQ(merge_managed_block(stray_end, k_two), stray_end + block(k_two));
}

TEST(merge_managed_block, SeveralBlocksBecomeOne) {
    const std::string existing = "a\n" + block({"x"}) + "b\n" + block({"y"}) + "c\n";
    EXPECT_EQ(merge_managed_block(existing, k_two), "a\n" + block(k_two) + "b\nc\n");
}

TEST(merge_managed_block, MarkersNestAndStrayOnesNeverPairLater) {
    // Found by fuzz_authorized_keys: a stray begin, a block, then a stray end.
    // Pairing the end with the nearest begin left the outer two unpaired;
    // once the block was replaced they paired on the next start and the user
    // lines between them were lost. Now the outer pair is the block.
    const std::string existing = "a\n" + k_begin + "\nw\n" + block({"y"}) + "z\n" + k_end + "\nc\n";
    const std::string merged = merge_managed_block(existing, k_two);
    EXPECT_EQ(merged, "a\n" + block(k_two) + "c\n");
    EXPECT_EQ(merge_managed_block(merged, k_two), merged);
    // The fuzzer's input itself: merging twice is merging once.
    const std::string found = "x\n" + block({"y"}) + "z\n" + k_begin + "\nw\n# <<<x\n" +
                              block({"y"}) + "z\n# >>> sshboot managed keyst\ny\n" + k_end +
                              "\nz\n";
    const std::string once = merge_managed_block(found, k_two);
    EXPECT_EQ(merge_managed_block(once, k_two), once);
    EXPECT_EQ(merge_managed_block(once, {}), merge_managed_block(found, {}));
    // Strays on their own stay: an end with nothing open before a begin
    // never closed.
    const std::string strays = k_end + "\nu\n" + k_begin + "\nv\n";
    const std::string with_block = merge_managed_block(strays, k_two);
    EXPECT_EQ(with_block, strays + block(k_two));
    EXPECT_EQ(merge_managed_block(with_block, k_two), with_block);
    EXPECT_EQ(merge_managed_block(with_block, {}), strays);
}

// Its speed is a benchmark target (build/bench_merge, tests/bench/startup.sh),
// not a timed test: under emulation or load a time limit says little.
TEST(merge_managed_block, TenThousandKeysMergeOnceAndStay) {
    std::vector<std::string> lines;
    std::string user;
    for (int i = 0; i < 10000; ++i) {
        lines.push_back("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + std::to_string(i) + " k" +
                        std::to_string(i));
        user += "ssh-rsa AAAAuser" + std::to_string(i) + "\n";
    }
    const std::string once = merge_managed_block(user, lines);
    EXPECT_EQ(once, user + block(lines));
    EXPECT_EQ(merge_managed_block(once, lines), once);
}

}  // namespace
}  // namespace sshboot::keys
