#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "keys/check_report.hpp"
#include "keys/parse.hpp"
#include "util/json.hpp"

namespace sshboot::keys {
namespace {

// Made with ssh-keygen (OpenSSH 9.2); the fingerprints are what
// `ssh-keygen -l -f` printed for them.
constexpr std::string_view k_ed25519 =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMgtNKN5nYjfdfL+L9QNHAIxmW24KZGNeiWpAXExJwAg alice@laptop";
constexpr std::string_view k_ed25519_keygen =
    "256 SHA256:UPGSAiLJakKfTok542ELhH7V/JorVAz/sqG8h9vCedY alice@laptop (ED25519)";
constexpr std::string_view k_ecdsa_no_comment =
    "ecdsa-sha2-nistp256 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJfUUl638QY/delVqrkzKjqkHcG31PQXlmSZL8Pgt"
    "KZNJTbujrHYOuapJz8mYJ/LtefUjpYE0wdaiXFOhCNg0jQ=";
constexpr std::string_view k_ecdsa_keygen =
    "256 SHA256:GTRlLOQY09e63wOjMq+CtFJt9qcRVpxdnfOccAkz7P8 no comment (ECDSA)";
constexpr std::string_view k_dsa =
    "ssh-dss "
    "AAAAB3NzaC1kc3MAAACBAPP71e8lYx0g6Q2Q8JmZUxRj4SJx7bRHOraN8/otT2c80RxbIxAtXHzfZGRBvmgpw1kWSajYk"
    "gXpw9lw797PVLwZCuoX9FIB7bhvfqhk00xdfvs4PtJRp3bPK6ouBJZ1NF6tyzLXVmBAnvRQKUrGaxmcURz8iuf9ZMbhtOC"
    "SiVUZAAAAFQCuNcBI7Yt3sYb0JvYm4i/f841n+wAAAIEAjIxrChJtyZjkslypkqnymWwTcAW4Z0pVhnIVNJ1TgKLXkLiJ"
    "rZZERKeXi+/TLSmNcWq/EJxmNi8m58HTlBmyoMjKtX3cqTswwebFyy7cQYlKnWM7Y6WEKnPm5qg6H4qj/qcKlJ1pUhOxz1"
    "pfNboexJC8GZYCU1bCzG0AFNADmwQAAACAaNljHKAfe07G80yPEZtucl4KN68IkZKBkQIpn/+Mp0idpjS4Z9vo4DivpL4C"
    "upbJaVfuEwKtABPjoj1C2/5NCfILEWFpBsRgg9FWEED4cf8+RfTxd+HM5tj5iKGXUhz/KwzQcW45A6bu8gCaxRcP/UrWhp"
    "4d/YWjng90z42Ur5I= old@box";
// A 768-bit RSA key assembled by hand (ssh-keygen refuses to make one).
constexpr std::string_view k_rsa768 =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAAAYQDDVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV"
    "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVQE= rsa768@test";
constexpr std::string_view k_private_secret =
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQSECRETPART";
const std::string k_private = "-----BEGIN OPENSSH PRIVATE KEY-----\n" +
                              std::string(k_private_secret) +
                              "\n-----END OPENSSH PRIVATE KEY-----\n";
constexpr std::string_view k_ppk_secret = "AAAAIPTopSecretPrivatePartOfThePuttyKeyZZZZZZZZZZZ";
const std::string k_ppk =
    "PuTTY-User-Key-File-3: ssh-ed25519\n"
    "Encryption: none\n"
    "Comment: ed25519-key-20240101\n"
    "Public-Lines: 2\n"
    "AAAAC3NzaC1lZDI1NTE5AAAAIMgtNKN5nYjfdfL+L9QNHAIxmW24KZGNeiWpAXExJwAg\n"
    "\n"
    "Private-Lines: 1\n" +
    std::string(k_ppk_secret) +
    "\n"
    "Private-MAC: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

// The lines between the paste markers.
std::string pasted_block(const std::string& report) {
    const auto b = report.find(k_paste_begin);
    const auto e = report.find(k_paste_end);
    if (b == std::string::npos || e == std::string::npos || e < b) {
        return "<no block>";
    }
    const auto start = b + k_paste_begin.size() + 1;
    return report.substr(start, e - start);
}

TEST(keygen_line, MatchesSshKeygenForEd25519) {
    const auto r = parse_keys(k_ed25519);
    ASSERT_EQ(r.keys.size(), 1u);
    EXPECT_EQ(keygen_line(r.keys[0]), k_ed25519_keygen);
}

TEST(keygen_line, SaysNoCommentLikeSshKeygen) {
    const auto r = parse_keys(k_ecdsa_no_comment);
    ASSERT_EQ(r.keys.size(), 1u);
    EXPECT_EQ(keygen_line(r.keys[0]), k_ecdsa_keygen);
}

TEST(keygen_type_label, NamesEachType) {
    EXPECT_EQ(keygen_type_label("ssh-ed25519"), "ED25519");
    EXPECT_EQ(keygen_type_label("ssh-rsa"), "RSA");
    EXPECT_EQ(keygen_type_label("ecdsa-sha2-nistp521"), "ECDSA");
    EXPECT_EQ(keygen_type_label("sk-ssh-ed25519@openssh.com"), "ED25519-SK");
    EXPECT_EQ(keygen_type_label("sk-ecdsa-sha2-nistp256@openssh.com"), "ECDSA-SK");
    EXPECT_EQ(keygen_type_label("ssh-dss"), "DSA");
}

TEST(check_report_text, UsableKeyShowsDetailsAndTheLineToPaste) {
    const auto r = parse_keys(k_ed25519);
    const auto text = check_report_text(r);
    EXPECT_TRUE(contains(text, "Key 1 of 1: usable")) << text;
    EXPECT_TRUE(contains(text, k_ed25519_keygen)) << text;
    EXPECT_TRUE(contains(text, "type ssh-ed25519, 256 bits, comment alice@laptop")) << text;
    EXPECT_EQ(pasted_block(text), std::string(k_ed25519) + "\n");
    EXPECT_EQ(check_exit_code(r), 0);
}

TEST(check_report_text, ShowsEachOptionWithWhatItDoes) {
    const auto r = parse_keys("command=\"echo forced\",no-pty " + std::string(k_ed25519));
    const auto text = check_report_text(r);
    EXPECT_TRUE(contains(text, "  options: forced command 'echo forced', no-pty\n")) << text;
    EXPECT_TRUE(contains(text, "    forced command 'echo forced': every login with this key runs"))
        << text;
    EXPECT_TRUE(contains(text, "    no-pty: no terminal")) << text;
    // The line to paste keeps the options.
    EXPECT_EQ(pasted_block(text),
              "command=\"echo forced\",no-pty " + std::string(k_ed25519) + "\n");
}

TEST(check_report_json, CarriesTheOptionListAndForcedCommand) {
    const auto with =
        check_report_json(parse_keys("command=\"ls\",no-pty " + std::string(k_ed25519)));
    EXPECT_TRUE(contains(with, "\"forced_command\": \"ls\"")) << with;
    EXPECT_TRUE(contains(with, "{\"name\": \"no-pty\", \"value\": null, ")) << with;
    const auto without = check_report_json(parse_keys(k_ed25519));
    EXPECT_TRUE(contains(without, "\"option_list\": [], \"forced_command\": null")) << without;
}

TEST(check_report_text, ListsRepairs) {
    // CRLF, quotes, and the type prefix left off.
    const std::string pasted =
        "\"AAAAC3NzaC1lZDI1NTE5AAAAIMgtNKN5nYjfdfL+L9QNHAIxmW24KZGNeiWpAXExJwAg alice@laptop\"\r\n";
    const auto r = parse_keys(pasted);
    ASSERT_EQ(r.keys.size(), 1u);
    const auto text = check_report_text(r);
    EXPECT_TRUE(contains(text, "repaired: removed Windows line endings (CRLF)")) << text;
    EXPECT_TRUE(contains(text, "repaired: removed surrounding quotes")) << text;
    EXPECT_TRUE(contains(text, "repaired: added the missing ssh-ed25519 prefix")) << text;
    EXPECT_EQ(pasted_block(text), std::string(k_ed25519) + "\n");
}

TEST(check_report_text, KeysRunTogetherAreSplitOnePerLine) {
    const std::string pasted = std::string(k_ed25519) + " " + std::string(k_ecdsa_no_comment);
    const auto r = parse_keys(pasted);
    ASSERT_EQ(r.keys.size(), 2u);
    const auto text = check_report_text(r);
    EXPECT_TRUE(contains(text, "split keys that were run together")) << text;
    EXPECT_TRUE(contains(text, "2 usable keys")) << text;
    EXPECT_EQ(pasted_block(text),
              std::string(k_ed25519) + "\n" + std::string(k_ecdsa_no_comment) + "\n");
}

TEST(check_report_text, ConvertsRfc4716Block) {
    const std::string block =
        "---- BEGIN SSH2 PUBLIC KEY ----\n"
        "Comment: \"alice@laptop\"\n"
        "AAAAC3NzaC1lZDI1NTE5AAAAIMgtNKN5nYjfdfL+L9QNHAIxmW24KZGNeiWpAXExJwAg\n"
        "---- END SSH2 PUBLIC KEY ----\n";
    const auto r = parse_keys(block);
    ASSERT_EQ(r.keys.size(), 1u);
    const auto text = check_report_text(r);
    EXPECT_TRUE(contains(text, "repaired: converted an RFC 4716 / PuTTY public key block")) << text;
    EXPECT_TRUE(contains(text, "SHA256:UPGSAiLJakKfTok542ELhH7V/JorVAz/sqG8h9vCedY")) << text;
    EXPECT_EQ(check_exit_code(r), 0);
}

TEST(check_report_text, FingerprintIsRefusedWithFix) {
    const auto r = parse_keys("SHA256:UPGSAiLJakKfTok542ELhH7V/JorVAz/sqG8h9vCedY");
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::Fingerprint);
    const auto text = check_report_text(r);
    EXPECT_TRUE(contains(text, "Refused 1 of 1: ")) << text;
    EXPECT_TRUE(contains(text, "Fix: a fingerprint only names a key")) << text;
    EXPECT_TRUE(contains(text, "No usable key")) << text;
    EXPECT_FALSE(contains(text, k_paste_begin));
    EXPECT_EQ(check_exit_code(r), 1);
}

TEST(check_report_text, PrivateKeyIsRefusedAndNeverEchoed) {
    const auto r = parse_keys(k_private);
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::PrivateKey);
    const auto text = check_report_text(r);
    const auto json = check_report_json(r);
    EXPECT_FALSE(contains(text, k_private_secret)) << text;
    EXPECT_FALSE(contains(json, k_private_secret)) << json;
    EXPECT_TRUE(contains(text, "ssh-keygen -y -f ~/.ssh/id_ed25519")) << text;
    EXPECT_EQ(check_exit_code(r), 1);
}

TEST(check_report_text, DsaIsRefusedWithFix) {
    const auto r = parse_keys(k_dsa);
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::Dsa);
    const auto text = check_report_text(r);
    EXPECT_TRUE(contains(text, "Fix: make a new key: ssh-keygen -t ed25519")) << text;
    EXPECT_EQ(check_exit_code(r), 1);
}

TEST(check_report_text, ShortRsaIsRefusedWithFix) {
    const auto r = parse_keys(k_rsa768);
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::RsaTooShort);
    const auto text = check_report_text(r);
    EXPECT_TRUE(contains(text, "Fix: make a new key: ssh-keygen -t ed25519")) << text;
    EXPECT_EQ(check_exit_code(r), 1);
}

TEST(check_report_text, PuttyPrivateFileIsRefusedAndNeverEchoed) {
    const auto r = parse_keys(k_ppk);
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::PuttyPrivate);
    const auto text = check_report_text(r);
    EXPECT_FALSE(contains(text, k_ppk_secret)) << text;
    EXPECT_FALSE(contains(check_report_json(r), k_ppk_secret));
    EXPECT_TRUE(contains(text, "puttygen key.ppk -O public-openssh")) << text;
    EXPECT_EQ(check_exit_code(r), 1);
}

TEST(check_report_text, GoodKeyBesideRefusalStillPasses) {
    const auto r = parse_keys(std::string(k_dsa) + "\n" + std::string(k_ed25519) + "\n");
    ASSERT_EQ(r.keys.size(), 1u);
    ASSERT_EQ(r.refusals.size(), 1u);
    const auto text = check_report_text(r);
    EXPECT_TRUE(contains(text, "1 usable key (1 refused, left out)")) << text;
    EXPECT_EQ(pasted_block(text), std::string(k_ed25519) + "\n");
    EXPECT_EQ(check_exit_code(r), 0);
}

TEST(check_report_text, EmptyInputSaysWhatToGive) {
    const auto r = parse_keys("\n\n");
    const auto text = check_report_text(r);
    EXPECT_TRUE(contains(text, "No key found")) << text;
    EXPECT_TRUE(contains(text, "ssh-keygen -t ed25519")) << text;
    EXPECT_EQ(check_exit_code(r), 1);
}

TEST(refusal_fix, EveryKindHasAFixAndAName) {
    for (auto kind :
         {RefusalKind::Fingerprint, RefusalKind::PrivateKey, RefusalKind::Null, RefusalKind::Dsa,
          RefusalKind::RsaTooShort, RefusalKind::TypeMismatch, RefusalKind::PuttyPrivate,
          RefusalKind::Unparseable, RefusalKind::BadOptions}) {
        EXPECT_FALSE(refusal_fix(kind).empty());
        EXPECT_NE(refusal_kind_name(kind), "unknown");
    }
}

TEST(check_report_json, HoldsKeysRefusalsAndLines) {
    const auto r = parse_keys(std::string(k_ed25519) +
                              "\nSHA256:UPGSAiLJakKfTok542ELhH7V/JorVAz/sqG8h9vCedY\n");
    const auto json = check_report_json(r);
    EXPECT_TRUE(contains(json, "\"usable\": 1")) << json;
    EXPECT_TRUE(contains(json, "\"type\": \"ssh-ed25519\", \"bits\": 256")) << json;
    EXPECT_TRUE(
        contains(json, "\"fingerprint\": \"SHA256:UPGSAiLJakKfTok542ELhH7V/JorVAz/sqG8h9vCedY\""))
        << json;
    EXPECT_TRUE(contains(json, "\"kind\": \"fingerprint\"")) << json;
    EXPECT_TRUE(contains(json, "\"lines\": [\"" + std::string(k_ed25519) + "\"]")) << json;
}

TEST(check_report_json, EscapesCommentText) {
    const auto r = parse_keys(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMgtNKN5nYjfdfL+L9QNHAIxmW24KZGNeiWpAXExJwAg "
        "say \"hi\" \\ there");
    ASSERT_EQ(r.keys.size(), 1u);
    const auto json = check_report_json(r);
    EXPECT_TRUE(contains(json, "\"comment\": \"say \\\"hi\\\" \\\\ there\"")) << json;
}

TEST(json_string, EscapesQuotesBackslashesAndControls) {
    EXPECT_EQ(util::json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(util::json_string("x\ny\tz\r"), "\"x\\ny\\tz\\r\"");
    EXPECT_EQ(util::json_string(std::string_view("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
    EXPECT_EQ(util::json_string(""), "\"\"");
}

TEST(json_string, KeepsValidUtf8AndReplacesInvalidBytes) {
    EXPECT_EQ(util::json_string("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
    EXPECT_EQ(util::json_string("\xe2\x9c\x93"), "\"\xe2\x9c\x93\"");
    EXPECT_EQ(util::json_string("a\xff"
                                "b"),
              "\"a\\ufffdb\"");
    EXPECT_EQ(util::json_string("\xc0\xaf"), "\"\\ufffd\\ufffd\"");             // overlong
    EXPECT_EQ(util::json_string("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
    EXPECT_EQ(util::json_string("\xe2\x9c"), "\"\\ufffd\\ufffd\"");             // truncated
}

TEST(check_report_text, LinesThatAreNoKeyAreDescribedNeverQuoted) {
    const std::string shadow =
        "root:$y$j9T$Secr3tSaltXyz$Secr3tHashAbcdefghijklmnop:19700:0:99999:7:::\n"
        "daemon:*:19700:0:99999:7:::\n"
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnSecr3t\n"
        "token \"unbalanced Secr3tQuote\n"
        "just some Secr3t words\n";
    const auto result = parse_keys(shadow, "SSH_PUBLIC_KEY_FILE (/etc/shadow)");
    ASSERT_EQ(result.refusals.size(), 5u);
    for (const std::string& out : {check_report_text(result), check_report_json(result)}) {
        EXPECT_EQ(out.find("Secr3t"), std::string::npos) << out;
        EXPECT_EQ(out.find("root:"), std::string::npos) << out;
        EXPECT_EQ(out.find("daemon"), std::string::npos) << out;
        EXPECT_EQ(out.find("$y$"), std::string::npos) << out;
    }
    EXPECT_NE(result.refusals[0].message.find("line 1 (71 bytes) looks like a passwd/shadow line"),
              std::string::npos)
        << result.refusals[0].message;
    EXPECT_NE(result.refusals[1].message.find("line 2"), std::string::npos);
    EXPECT_NE(result.refusals[2].message.find("looks like a name=value setting"), std::string::npos)
        << result.refusals[2].message;
    EXPECT_NE(result.refusals[3].message.find("unbalanced double quote"), std::string::npos)
        << result.refusals[3].message;
    EXPECT_NE(result.refusals[4].message.find("(22 bytes) looks like text"), std::string::npos)
        << result.refusals[4].message;
}

}  // namespace
}  // namespace sshboot::keys
