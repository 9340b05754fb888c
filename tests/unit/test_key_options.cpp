#include <gtest/gtest.h>

#include <string>

#include "keys/options.hpp"
#include "keys/parse.hpp"

namespace sshboot::keys {
namespace {

constexpr std::string_view k_ed25519 =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMgtNKN5nYjfdfL+L9QNHAIxmW24KZGNeiWpAXExJwAg alice@laptop";

}  // namespace

TEST(split_key_options, FlagsAndQuotedValues) {
    const auto o = split_key_options("command=\"echo forced\",no-pty,from=\"10.0.0.0/8,::1\"");
    ASSERT_EQ(o.size(), 3u);
    EXPECT_EQ(o[0].name, "command");
    EXPECT_EQ(o[0].value, "echo forced");
    EXPECT_EQ(o[1].name, "no-pty");
    EXPECT_FALSE(o[1].value);
    EXPECT_EQ(o[2].name, "from");
    EXPECT_EQ(o[2].value, "10.0.0.0/8,::1");  // the comma belongs to the value
}

TEST(split_key_options, UndoesEscapedQuotesAndLowersNames) {
    const auto o = split_key_options(R"(Command="echo \"hi\", there \\ ok",RESTRICT)");
    ASSERT_EQ(o.size(), 2u);
    EXPECT_EQ(o[0].name, "command");
    EXPECT_EQ(o[0].value, R"(echo "hi", there \\ ok)");
    EXPECT_EQ(o[1].name, "restrict");
}

TEST(split_key_options, EmptyAndBrokenLists) {
    EXPECT_TRUE(split_key_options("").empty());
    // What comes before the first bad character is kept.
    const auto open_quote = split_key_options("no-pty,command=\"never closed");
    ASSERT_EQ(open_quote.size(), 1u);
    EXPECT_EQ(open_quote[0].name, "no-pty");
    EXPECT_EQ(split_key_options("command=unquoted").size(), 0u);
    EXPECT_EQ(split_key_options(",no-pty").size(), 0u);
    EXPECT_EQ(split_key_options("no-pty x").size(), 1u);
}

TEST(forced_command, IsTheLastCommandOption) {
    EXPECT_FALSE(forced_command(split_key_options("no-pty,restrict")));
    EXPECT_EQ(forced_command(split_key_options("command=\"a\",command=\"b\"")), "b");
    EXPECT_EQ(forced_command(split_key_options("command=\"\"")), "");
}

TEST(option_label, NamesTheForcedCommandAndQuotesValuesForTheLog) {
    EXPECT_EQ(option_label({"command", "echo forced"}), "forced command 'echo forced'");
    EXPECT_EQ(option_label({"from", "10.0.0.1"}), "from '10.0.0.1'");
    EXPECT_EQ(option_label({"no-pty", std::nullopt}), "no-pty");
    // A terminal escape in a value never reaches the log raw.
    EXPECT_EQ(option_label({"command", "echo \x1b]0;owned\x07"}),
              "forced command 'echo \\x1b]0;owned\\x07'");
}

TEST(option_effect, DescribesEveryOptionSshdKnows) {
    for (const char* name : {"agent-forwarding",
                             "cert-authority",
                             "command",
                             "environment",
                             "expiry-time",
                             "from",
                             "no-agent-forwarding",
                             "no-port-forwarding",
                             "no-pty",
                             "no-touch-required",
                             "no-user-rc",
                             "no-x11-forwarding",
                             "permitlisten",
                             "permitopen",
                             "port-forwarding",
                             "principals",
                             "pty",
                             "restrict",
                             "tunnel",
                             "user-rc",
                             "verify-required",
                             "x11-forwarding"}) {
        EXPECT_EQ(option_effect({name, std::nullopt}).find("does not describe"), std::string::npos)
            << name;
    }
    EXPECT_NE(option_effect({"command", "x"}).find("never a shell"), std::string::npos);
    EXPECT_NE(option_effect({"bogus", std::nullopt}).find("does not describe"), std::string::npos);
}

TEST(options_summary, JoinsLabels) {
    EXPECT_EQ(options_summary(split_key_options("command=\"echo forced\",no-pty")),
              "forced command 'echo forced', no-pty");
    EXPECT_EQ(options_summary({}), "");
}

TEST(options_change_login, OnlyForOptionsThatChangeWhatALoginDoes) {
    EXPECT_TRUE(options_change_login(split_key_options("command=\"x\"")));
    EXPECT_TRUE(options_change_login(split_key_options("cert-authority")));
    EXPECT_TRUE(options_change_login(split_key_options("from=\"10.0.0.1\"")));
    EXPECT_TRUE(options_change_login(split_key_options("restrict,pty")));
    EXPECT_FALSE(options_change_login(split_key_options("no-agent-forwarding,no-x11-forwarding")));
    EXPECT_FALSE(options_change_login({}));
}

TEST(split_key_options, ReadsWhatParseKeysKeeps) {
    const auto r = parse_keys("command=\"echo \\\"hi\\\"\",no-pty " + std::string(k_ed25519));
    ASSERT_EQ(r.keys.size(), 1u);
    const auto o = split_key_options(r.keys[0].options);
    ASSERT_EQ(o.size(), 2u);
    EXPECT_EQ(forced_command(o), "echo \"hi\"");
    EXPECT_EQ(o[1].name, "no-pty");
}

}  // namespace sshboot::keys
