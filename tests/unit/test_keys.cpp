#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "keys/parse.hpp"
#include "keys/wire.hpp"
#include "util/base64.hpp"

namespace sshboot::keys {
namespace {

// Real public keys made with ssh-keygen (OpenSSH 9.2); the sk-* and the
// 768-bit RSA key were assembled by hand (no hardware token; ssh-keygen
// refuses to make RSA keys under 1024 bits).
constexpr std::string_view k_ed25519 =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMczYliVwAZ74daGI5DmfW/JkpOFb8rNIUAE8uO/o13T ed25519@test";
constexpr std::string_view k_rsa1024 =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDUJ4MQMxIo8DyOmCQwWlyxDmbRIFfyibL3wn0QVCkf8WtoBYZWKWjup6OAzy0qQv"
    "v96szxgDiNxN280U/Acsap+N8MMvTvFI2RWGwjO3Z1UCM/"
    "BIvUsRWyYVSclZ7Zhkjg40hloViNIfK6hV59kdbYeZtT0vDPqobEFv2nlL3ESQ== rsa1024@test";
constexpr std::string_view k_rsa2048 =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQDslUBtmtbn4u37zrUrg0dJ+iMKRsirN7zU2MAAIyrJ3X5g7TLVbZR2/"
    "FexCRPm+R5fQfSJ1zepZNhoCIC2o9YYPyM6ayzgHwhrMwFG90e7ItG7dtL4mRl56hDxxzqdpW7qtdlKUFYS9+"
    "NqySVMGA37Ir3nRDxJLV1czmbevD+aAQgD7q3ilOZuqJU6g3igfBsobUM5fBMUpuMqQQ8RdeccBhSXJx3VZ+"
    "QMYQ7pBOJN03dhVFXD5Rz+zzK0lVLcsAKjXQ/"
    "VQSCAm1HKIQp1wOKKGVXjB+vQYe2Bf9UGbU2+en+76pE5qRKPlwfEvexei99hrjGOgijMAKAewR1kmUdR "
    "rsa2048@test";
constexpr std::string_view k_rsa3072 =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAABgQCwLKIi/BSCy0UY9822cv6e6dlEJ0GQ/DWtlusxIt6cmetJmx0rR8x8Q7j6N/"
    "R1RcroaMThVjMOM2pb0S7g2hFGrQieOP9htpcOGmcgRVonzn0h18bKvFsHC8CDPkvijUtNqIyY2ZdexKmI9c/"
    "FZbPoOmLysrYkrnOa/"
    "kkieLaDXumdUCCOK+"
    "pt37AztdHJkbxBtsy1OomKrIeyQ10cgBb1AHbhREpbRPhC6039QfWaTOSvGS1gaqIh5sVic9nhRmaecDhNSDWn9ngYwgA9"
    "rvYzOUZynvsZBq47hz8TTTnOX24eMiZ7c3WIcE1kpitKLl9nZ1t4UldWSHSVPfiVyCBxDJpUwJg4oEqR0O8DPpseD9XAma"
    "HLYbQpEjSuwTi4aOM+Di9PKtAQiDd+mWtiwgqfyxLaS84DcXVmJ3kpsRyG+ApqRwB4yPhS9p+"
    "v4zOXROkapipM2dCwfbBw3hFgrUEJsaw5z2adnor8F1gnOHNaMajQeqG4KnsAu1zhi3FUL/E= rsa3072@test";
constexpr std::string_view k_ecdsa256 =
    "ecdsa-sha2-nistp256 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKwZnDeEhc+i3yq04gs5FeOlfwlQhFFs4NXtwf7Hp/"
    "Bf0rRUbVPp8JW3N7L45ve65E+8NkAqOBRqOAGP03GHppI= ecdsa256@test";
constexpr std::string_view k_ecdsa384 =
    "ecdsa-sha2-nistp384 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBLUyCEKg5bcrPCjyVUOAaYpYsrwII16zeCp1ArKeJZ"
    "oS2oMogntAZ5CbhUVLHK4YFMIi/vPTdSl1ia7IBquI2Y0kekB8nnLGbgccEAzM+kc2fXgYyLv0oPYzRJE1l/J66w== "
    "ecdsa384@test";
constexpr std::string_view k_ecdsa521 =
    "ecdsa-sha2-nistp521 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBACMpSUJMEHlmpw+ZP/"
    "Dy02HO6ZYmRRfLXMucb1wh2AnxCVqBRfAENiuCnyM9dgQml+nt8GcpShh7Pm7Q1JKJ69yEwEmzYqa5rg+0652+"
    "KbJU8uQ1gGCF8ZQIvmiXvq0yyhH/soGYu/vHTf7NVejTmWpLmJe6y0i8pHv7yGNkimyuOHyng== ecdsa521@test";
constexpr std::string_view k_dsa =
    "ssh-dss "
    "AAAAB3NzaC1kc3MAAACBAPfmlr5wslxrxawUkUGvYhJ1wekNNKM8eyZqBUMyhgWiHDbJlZWpVa7Iwd2Kyjvklxs+B/"
    "CCUaqS83tBlDqF7otUbQZ5QSQoD4FGLwAEJledoY8hYxuw4XFjpjPhywNNY1HyElsHlZVvzsrlkzM2Qg9Y17pIaefOcp7e"
    "Lf6eoDVRAAAAFQCA2pl1rC0pCF9oPUhjen7TBuO4HQAAAIEA9mAS0Np0UchNWe7fN+"
    "SJ1u2gg0XPInetNHJPtvuzjnJUKtIWjRuwgYn7Z0ZyRMWlmerIXvAFl9kYa9jVKqcDg0CZnyMndWS9GafIuuYGF97fNTGk"
    "MG80VTZOb97+DNetXQ0CtKfaMSgZcR4WhnHkmT9gEGrpwMZqid6va40WTaoAAACBAKxtkNWUbTA7IgSktQCGVt8hGGizY/"
    "01SCZdeLoQYex47DKeWXnx2sVjA8JJ/"
    "opT1K1NPbzRULTztojPuJ1bVBbBr6vVhgJtP9Ta3SNMdkeN6AQCCLF29WvhiLV0ZWqddC5MbuNZ2+9lbm3lCUt+"
    "FM82EKZq5hcNP9yRD7D60gRP dsa@test";
constexpr std::string_view k_sked =
    "sk-ssh-ed25519@openssh.com "
    "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gAAAABH"
    "NzaDo= sk@test";
constexpr std::string_view k_skec =
    "sk-ecdsa-sha2-nistp256@openssh.com "
    "AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBKwZnDeEhc+"
    "i3yq04gs5FeOlfwlQhFFs4NXtwf7Hp/Bf0rRUbVPp8JW3N7L45ve65E+8NkAqOBRqOAGP03GHppIAAAAEc3NoOg== "
    "skec@test";
constexpr std::string_view k_rsa768 =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAAAYQDDVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV"
    "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVQE= rsa768@test";
constexpr std::string_view k_cert =
    "ssh-ed25519-cert-v01@openssh.com "
    "AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIHdjDV1vdq+"
    "1Tbo5J4BpGc6NfNJgH4ZD4LNn8iIweHccAAAAIMczYliVwAZ74daGI5DmfW/JkpOFb8rNIUAE8uO/"
    "o13TAAAAAAAAAAAAAAABAAAABHRlc3QAAAAIAAAABHJvb3QAAAAAAAAAAP//////////"
    "AAAAAAAAAIIAAAAVcGVybWl0LVgxMS1mb3J3YXJkaW5nAAAAAAAAABdwZXJtaXQtYWdlbnQtZm9yd2FyZGluZwAAAAAAAA"
    "AWcGVybWl0LXBvcnQtZm9yd2FyZGluZwAAAAAAAAAKcGVybWl0LXB0eQAAAAAAAAAOcGVybWl0LXVzZXItcmMAAAAAAAAA"
    "AAAAADMAAAALc3NoLWVkMjU1MTkAAAAgxzNiWJXABnvh1oYjkOZ9b8mSk4Vvys0hQATy47+"
    "jXdMAAABTAAAAC3NzaC1lZDI1NTE5AAAAQJn2RD1UdOGY3NnJ3nZByTHc/gToWjXxvhONl/01oL/"
    "9HbGmQa8VZCKYqU0vqHUsOXDhukn/FimaJmn002lUigY= ed25519@test";
constexpr std::string_view k_private_openssh =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDHM2JYlcAGe+HWhiOQ5n1vyZKThW/KzSFABPLjv6Nd0wAAAJBk+nEgZPpx\n"
    "IAAAAAtzc2gtZWQyNTUxOQAAACDHM2JYlcAGe+HWhiOQ5n1vyZKThW/KzSFABPLjv6Nd0w\n"
    "AAAEA/5GN0qz08p3axO1EV7zVtfx8I95CnNM+3fFl2hREQNMczYliVwAZ74daGI5DmfW/J\n"
    "kpOFb8rNIUAE8uO/o13TAAAADGVkMjU1MTlAdGVzdAE=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
constexpr std::string_view k_private_pem =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXAIBAAKBgQC+rLyqC0XvB0jBESrwPrR0x5uQcTqjNqLnv7FLEZ+iC7uPbj0s\n"
    "VcvGRvaqY2y/nvfmMQ1JdKrheqniq7ydIQ/Jwbjv1ErqZ+lyYDynBrn7nj6+jWGS\n"
    "+z6lgCGqDY5octPpmVPQWQKGFUR8KwoRTl2WtCnDHeBw+c2v/LBloF/j0QIDAQAB\n"
    "AoGAEq5v6aUjG/E1wpzA/TrXiV2JM1S0rwsKWPRiFX3Lix/lJ39ghPh+95U6U6Vc\n"
    "IUYc+bOynpDMsTzIaknzN93mYu3FBaHbmBqwfG7G5VW3iBDKiJ5qkXll4dJsVYs5\n"
    "cOkQOh1/ZYN0ezXF8N0VtTWq7OwEckysrW1lIAB8tCIn+gECQQDjo68Bm+iPWDpN\n"
    "mDHV0PjkADEP6Gd/jIQel5OWjTowTzUDK+e9WNUNI27sa+WuNwRxSuvtGmNttRZJ\n"
    "bkYFW4zhAkEA1m4bCCOgRlfsElmoo0KlLnqehCn0RAY0ql/JscW6+lmFHQNO6xUc\n"
    "ybpSxoJUef2P83nrR56eRPzBgVBfM9TE8QJBAN4M9NFk+92X+odmRnaDecUuSq1x\n"
    "zkOlFduhj93ztScanGOTmGIjHO/L+I+2UD04faTlqG2IqCSD2FGYt8TSIQECQCsx\n"
    "OI62JmWk9i9oEfj4xq8LEf0LOmGtYlRjQQxnCNe+ynpinTXrJcZYmq3TuNJtyd5A\n"
    "U600fSrmQtAacWLOW/ECQG7DFPfawYCe044229yCYWxGaOnnDvR2Aph11yhCo7+U\n"
    "jys4IXmbjCTvadulBBj3oWbtoSIvKFlVscVkBRZ1sCc=\n"
    "-----END RSA PRIVATE KEY-----\n";

// Distinctive pieces of the private keys above; they must never surface.
constexpr std::string_view k_private_openssh_secret = "AAAEA/5GN0qz08p3axO1EV7zVtfx8I95CnNM";
constexpr std::string_view k_private_pem_secret = "AoGAEq5v6aUjG/E1wpzA/TrXiV2JM1S0rwsKWPRiFX3L";

std::string b64_of(std::string_view line) {
    const auto b = line.find(' ') + 1;
    return std::string(line.substr(b, line.find(' ', b) - b));
}

std::string all_text(const ParseResult& r) {
    std::string out;
    for (const auto& k : r.keys) {
        out += k.line() + "\n" + k.base64 + "\n" + k.options + "\n" + k.comment + "\n";
        for (const auto& s : k.repairs) {
            out += s + "\n";
        }
        for (const auto& s : k.warnings) {
            out += s + "\n";
        }
    }
    for (const auto& r2 : r.refusals) {
        out += r2.message + "\n";
    }
    return out;
}

bool has_repair(const PublicKey& k, std::string_view phrase) {
    for (const auto& r : k.repairs) {
        if (r == phrase) {
            return true;
        }
    }
    return false;
}

struct Expect {
    std::string_view line;
    std::string_view type;
    unsigned bits;
    std::string_view fingerprint;  // as printed by ssh-keygen -l -f
};

TEST(parse_keys, AcceptsEveryTypeWithBitsAndFingerprintOfSshKeygen) {
    const Expect cases[] = {
        {k_ed25519, "ssh-ed25519", 256, "SHA256:8OH7Oua1+hPcax8IPrXBBLx178IPddkzkzKW8XNDezw"},
        {k_rsa1024, "ssh-rsa", 1024, "SHA256:BmOoUQDJEYFa1wGlai5XJztRxHV6vsGbAaBUWiedUPc"},
        {k_rsa2048, "ssh-rsa", 2048, "SHA256:3Mc7Q6jfxVpYWbw0snZPcOfypAw39NswGJxAKhxk6RU"},
        {k_rsa3072, "ssh-rsa", 3072, "SHA256:0PGJKtUfsD95v7aSh9yPBQ0uJ84ww3vUCFLSYyCwGuE"},
        {k_ecdsa256, "ecdsa-sha2-nistp256", 256,
         "SHA256:TkTOijkLzKNpLj1SyNZL73rbI0PAXGEfCYjZRhF/sz0"},
        {k_ecdsa384, "ecdsa-sha2-nistp384", 384,
         "SHA256:5/ZPaWvrw5ZWNmis7GhczQun/VKYpfL1qseiQ8mzYHM"},
        {k_ecdsa521, "ecdsa-sha2-nistp521", 521,
         "SHA256:9XAcEy3T/i117MLSnzOg0Ccy9xIyp4btiH5oeQK4OqU"},
        {k_sked, "sk-ssh-ed25519@openssh.com", 256,
         "SHA256:nX0hpi5mKbTIJ10yBq5/sLQhiI1Y0RBAqN0drDdgJWs"},
        {k_skec, "sk-ecdsa-sha2-nistp256@openssh.com", 256,
         "SHA256:D7q20YY+XO/7U8dmKUsRSNtOFhSZENDz6kpWP2gWYno"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.type);
        const auto r = parse_keys(c.line);
        ASSERT_TRUE(r.refusals.empty()) << r.refusals[0].message;
        ASSERT_EQ(r.keys.size(), 1u);
        const auto& k = r.keys[0];
        EXPECT_EQ(k.type, c.type);
        EXPECT_EQ(k.bits, c.bits);
        EXPECT_EQ(k.fingerprint(), c.fingerprint);
        EXPECT_EQ(k.line(), c.line);
        EXPECT_EQ(k.base64, b64_of(c.line));
        EXPECT_TRUE(k.options.empty());
        EXPECT_TRUE(k.repairs.empty());
    }
}

TEST(parse_keys, EmptyInputGivesNothing) {
    for (std::string_view in : {"", "   ", "\n\n", " \r\n\t"}) {
        const auto r = parse_keys(in);
        EXPECT_TRUE(r.keys.empty());
        EXPECT_TRUE(r.refusals.empty());
    }
}

TEST(parse_keys, CommentLinesAndBlankLinesAreIgnored) {
    const auto r = parse_keys("# my keys\n\n" + std::string(k_ed25519) + "\n   # another\n");
    ASSERT_EQ(r.keys.size(), 1u);
    EXPECT_TRUE(r.refusals.empty());
    EXPECT_EQ(r.keys[0].comment, "ed25519@test");
}

TEST(parse_keys, SeveralKeysOnePerLine) {
    const auto r = parse_keys(std::string(k_ed25519) + "\n" + std::string(k_rsa2048) + "\n" +
                              std::string(k_ecdsa384) + "\n");
    ASSERT_EQ(r.keys.size(), 3u);
    EXPECT_TRUE(r.refusals.empty());
    EXPECT_EQ(r.keys[0].type, "ssh-ed25519");
    EXPECT_EQ(r.keys[1].type, "ssh-rsa");
    EXPECT_EQ(r.keys[2].type, "ecdsa-sha2-nistp384");
}

TEST(parse_keys, RsaUnder2048BitsWarns) {
    const auto r = parse_keys(k_rsa1024);
    ASSERT_EQ(r.keys.size(), 1u);
    ASSERT_EQ(r.keys[0].warnings.size(), 1u);
    EXPECT_NE(r.keys[0].warnings[0].find("1024"), std::string::npos);
    EXPECT_TRUE(parse_keys(k_rsa2048).keys[0].warnings.empty());
}

TEST(parse_keys, RepairsCrlf) {
    const auto r = parse_keys(std::string(k_ed25519) + "\r\n" + std::string(k_rsa2048) + "\r\n");
    ASSERT_EQ(r.keys.size(), 2u);
    EXPECT_TRUE(r.refusals.empty());
    EXPECT_EQ(r.keys[0].comment, "ed25519@test");
    EXPECT_TRUE(has_repair(r.keys[0], "removed Windows line endings (CRLF)"));
    EXPECT_TRUE(has_repair(r.keys[1], "removed Windows line endings (CRLF)"));
}

TEST(parse_keys, RepairsSurroundingQuotes) {
    for (const std::string& in :
         {"\"" + std::string(k_ed25519) + "\"", "'" + std::string(k_ed25519) + "'\n",
          "  \"" + std::string(k_ed25519) + "\"  "}) {
        const auto r = parse_keys(in);
        ASSERT_EQ(r.keys.size(), 1u) << in;
        EXPECT_TRUE(r.refusals.empty());
        EXPECT_EQ(r.keys[0].line(), k_ed25519);
        EXPECT_TRUE(has_repair(r.keys[0], "removed surrounding quotes"));
    }
    // Per line, and a lone opening quote.
    const auto r =
        parse_keys("'" + std::string(k_ed25519) + "'\n\"" + std::string(k_rsa2048) + "\n");
    ASSERT_EQ(r.keys.size(), 2u);
    EXPECT_TRUE(r.refusals.empty());
    EXPECT_EQ(r.keys[1].line(), k_rsa2048);
    EXPECT_TRUE(has_repair(r.keys[1], "removed surrounding quotes"));
}

TEST(parse_keys, RepairsSurroundingWhitespace) {
    const auto r = parse_keys("\t  " + std::string(k_ed25519) + "   \n");
    ASSERT_EQ(r.keys.size(), 1u);
    EXPECT_EQ(r.keys[0].line(), k_ed25519);
}

TEST(parse_keys, SplitsKeysRunTogetherOnOneLine) {
    const std::string with_comments = std::string(k_ed25519) + " " + std::string(k_rsa2048);
    const std::string without_comments =
        "ssh-ed25519 " + b64_of(k_ed25519) + " ssh-rsa " + b64_of(k_rsa2048);
    // ecdsa384's base64 ends in "==": the next type follows with no blank at all.
    const std::string no_separator =
        "ecdsa-sha2-nistp384 " + b64_of(k_ecdsa384) + "ssh-ed25519 " + b64_of(k_ed25519);
    const std::string unpadded_no_separator =
        "ssh-ed25519 " + b64_of(k_ed25519) + "ssh-rsa " + b64_of(k_rsa2048) + " x@y";
    for (const auto& in : {with_comments, without_comments, no_separator, unpadded_no_separator}) {
        SCOPED_TRACE(in);
        const auto r = parse_keys(in);
        ASSERT_TRUE(r.refusals.empty()) << r.refusals[0].message;
        ASSERT_EQ(r.keys.size(), 2u);
        EXPECT_TRUE(has_repair(r.keys[0], "split keys that were run together on one line"));
        EXPECT_TRUE(has_repair(r.keys[1], "split keys that were run together on one line"));
    }
    const auto r = parse_keys(with_comments);
    EXPECT_EQ(r.keys[0].line(), k_ed25519);
    EXPECT_EQ(r.keys[1].line(), k_rsa2048);
    EXPECT_EQ(parse_keys(no_separator).keys[0].comment, "");
    EXPECT_EQ(parse_keys(unpadded_no_separator).keys[1].comment, "x@y");
}

TEST(parse_keys, RunTogetherKeyKeepsItsOwnOptions) {
    const auto r = parse_keys(std::string(k_ed25519) + " restrict,from=\"10.0.0.1\" " +
                              std::string(k_rsa2048));
    ASSERT_EQ(r.keys.size(), 2u);
    EXPECT_EQ(r.keys[0].comment, "ed25519@test");
    EXPECT_EQ(r.keys[0].options, "");
    EXPECT_EQ(r.keys[1].options, "restrict,from=\"10.0.0.1\"");
}

TEST(parse_keys, SplitsOnLiteralBackslashN) {
    const std::string in = std::string(k_ed25519) + "\\n" + std::string(k_ecdsa256) + "\\r\\n" +
                           std::string(k_rsa2048) + "\\n";
    const auto r = parse_keys(in);
    ASSERT_TRUE(r.refusals.empty()) << r.refusals[0].message;
    ASSERT_EQ(r.keys.size(), 3u);
    EXPECT_EQ(r.keys[0].line(), k_ed25519);
    EXPECT_EQ(r.keys[1].line(), k_ecdsa256);
    EXPECT_EQ(r.keys[2].line(), k_rsa2048);
    EXPECT_TRUE(has_repair(r.keys[0], "turned literal \\n sequences into line breaks"));
}

TEST(parse_keys, AddsMissingTypePrefix) {
    const auto r = parse_keys(b64_of(k_ed25519) + " me@laptop\n" + b64_of(k_rsa3072));
    ASSERT_TRUE(r.refusals.empty()) << r.refusals[0].message;
    ASSERT_EQ(r.keys.size(), 2u);
    EXPECT_EQ(r.keys[0].line(), "ssh-ed25519 " + b64_of(k_ed25519) + " me@laptop");
    EXPECT_TRUE(has_repair(r.keys[0], "added the missing ssh-ed25519 prefix"));
    EXPECT_EQ(r.keys[1].type, "ssh-rsa");
    EXPECT_EQ(r.keys[1].bits, 3072u);
    EXPECT_TRUE(has_repair(r.keys[1], "added the missing ssh-rsa prefix"));
    // With options in front.
    const auto o = parse_keys("restrict " + b64_of(k_ecdsa521));
    ASSERT_EQ(o.keys.size(), 1u);
    EXPECT_EQ(o.keys[0].line(), "restrict ecdsa-sha2-nistp521 " + b64_of(k_ecdsa521));
}

TEST(parse_keys, ConvertsRfc4716Block) {
    const std::string block =
        "---- BEGIN SSH2 PUBLIC KEY ----\n"
        "Comment: \"2048-bit RSA, converted by root@vm from OpenSSH\"\n"
        "AAAAB3NzaC1yc2EAAAADAQABAAABAQDslUBtmtbn4u37zrUrg0dJ+iMKRsirN7zU2MAAIy\n"
        "rJ3X5g7TLVbZR2/FexCRPm+R5fQfSJ1zepZNhoCIC2o9YYPyM6ayzgHwhrMwFG90e7ItG7\n"
        "dtL4mRl56hDxxzqdpW7qtdlKUFYS9+NqySVMGA37Ir3nRDxJLV1czmbevD+aAQgD7q3ilO\n"
        "ZuqJU6g3igfBsobUM5fBMUpuMqQQ8RdeccBhSXJx3VZ+QMYQ7pBOJN03dhVFXD5Rz+zzK0\n"
        "lVLcsAKjXQ/VQSCAm1HKIQp1wOKKGVXjB+vQYe2Bf9UGbU2+en+76pE5qRKPlwfEvexei9\n"
        "9hrjGOgijMAKAewR1kmUdR\n"
        "---- END SSH2 PUBLIC KEY ----\n";
    const auto r = parse_keys(block + std::string(k_ed25519));
    ASSERT_TRUE(r.refusals.empty()) << r.refusals[0].message;
    ASSERT_EQ(r.keys.size(), 2u);
    EXPECT_EQ(r.keys[0].type, "ssh-rsa");
    EXPECT_EQ(r.keys[0].base64, b64_of(k_rsa2048));
    EXPECT_EQ(r.keys[0].comment, "2048-bit RSA, converted by root@vm from OpenSSH");
    EXPECT_EQ(r.keys[0].bits, 2048u);
    EXPECT_TRUE(has_repair(r.keys[0], "converted an RFC 4716 / PuTTY public key block"));
    EXPECT_EQ(r.keys[1].line(), k_ed25519);
}

TEST(parse_keys, ConvertsRfc4716BlockWithContinuedHeaderAndCrlf) {
    const std::string block =
        "---- BEGIN SSH2 PUBLIC KEY ----\r\n"
        "Subject: me\r\n"
        "Comment: \"a long \\\r\n"
        "comment\"\r\n"
        "AAAAC3NzaC1lZDI1NTE5AAAAIMczYliVwAZ74daGI5DmfW/JkpOFb8rNIUAE8uO/o13T\r\n"
        "---- END SSH2 PUBLIC KEY ----\r\n";
    const auto r = parse_keys(block);
    ASSERT_TRUE(r.refusals.empty()) << r.refusals[0].message;
    ASSERT_EQ(r.keys.size(), 1u);
    EXPECT_EQ(r.keys[0].comment, "a long comment");
    EXPECT_EQ(r.keys[0].base64, b64_of(k_ed25519));
}

TEST(parse_keys, DuplicatesCollapseKeepingTheFirst) {
    const auto r =
        parse_keys("restrict " + std::string(k_ed25519) + "\n" + std::string(k_rsa2048) +
                   "\nssh-ed25519 " + b64_of(k_ed25519) + " other\n" + b64_of(k_ed25519));
    ASSERT_EQ(r.keys.size(), 2u);
    EXPECT_TRUE(r.refusals.empty());
    EXPECT_EQ(r.keys[0].options, "restrict");
    EXPECT_EQ(r.keys[0].comment, "ed25519@test");
}

TEST(parse_keys, OptionsWithQuotedCommasAndSpaces) {
    const std::string opts =
        "restrict,command=\"echo \\\"a, b\\\" c\",from=\"10.0.0.0/8,192.168.1.1\",no-pty";
    const auto r = parse_keys(opts + " " + std::string(k_ed25519));
    ASSERT_TRUE(r.refusals.empty()) << r.refusals[0].message;
    ASSERT_EQ(r.keys.size(), 1u);
    EXPECT_EQ(r.keys[0].options, opts);
    EXPECT_EQ(r.keys[0].comment, "ed25519@test");
    EXPECT_EQ(r.keys[0].line(), opts + " " + std::string(k_ed25519));
    // A key type inside a quoted option value does not start a key.
    const std::string tricky =
        "command=\"echo ssh-ed25519 " + b64_of(k_ed25519) + "\" " + std::string(k_rsa2048);
    const auto t = parse_keys(tricky);
    ASSERT_EQ(t.keys.size(), 1u);
    EXPECT_EQ(t.keys[0].type, "ssh-rsa");
    EXPECT_EQ(t.keys[0].options, "command=\"echo ssh-ed25519 " + b64_of(k_ed25519) + "\"");
}

TEST(parse_keys, RefusesBadOptions) {
    for (const std::string_view opts :
         {"command=\"unterminated", "bogus-option", "command=noquotes", "restrict,", "no-pty=\"x\"",
          "Here is my key:"}) {
        SCOPED_TRACE(opts);
        const auto r = parse_keys(std::string(opts) + " " + std::string(k_ed25519) + "\n" +
                                  std::string(k_rsa2048));
        ASSERT_EQ(r.refusals.size(), 1u);
        EXPECT_EQ(r.refusals[0].kind, RefusalKind::BadOptions);
        ASSERT_EQ(r.keys.size(), 1u);
        EXPECT_EQ(r.keys[0].type, "ssh-rsa");
    }
}

TEST(parse_keys, RefusesFingerprints) {
    for (std::string_view in :
         {"SHA256:8OH7Oua1+hPcax8IPrXBBLx178IPddkzkzKW8XNDezw",
          "256 SHA256:8OH7Oua1+hPcax8IPrXBBLx178IPddkzkzKW8XNDezw ed25519@test (ED25519)",
          "MD5:3b:1a:5c:22:9f:00:11:22:33:44:55:66:77:88:99:aa",
          "3b:1a:5c:22:9f:00:11:22:33:44:55:66:77:88:99:aa"}) {
        SCOPED_TRACE(in);
        const auto r = parse_keys(in, "SSH_PUBLIC_KEY");
        EXPECT_TRUE(r.keys.empty());
        ASSERT_EQ(r.refusals.size(), 1u);
        EXPECT_EQ(r.refusals[0].kind, RefusalKind::Fingerprint);
        EXPECT_EQ(r.refusals[0].message.rfind("SSH_PUBLIC_KEY: that is a key fingerprint", 0), 0u)
            << r.refusals[0].message;
        EXPECT_NE(r.refusals[0].message.find("id_ed25519.pub"), std::string::npos);
    }
}

TEST(parse_keys, RefusesPrivateKeysWithoutEchoingThem) {
    const std::string good = std::string(k_ed25519) + "\n";
    const std::string inputs[] = {
        std::string(k_private_openssh),
        std::string(k_private_pem),
        good + std::string(k_private_openssh) + std::string(k_rsa2048),
        // No END line: everything after BEGIN is consumed.
        std::string(k_private_openssh.substr(0, 200)),
        // All on one line, as a variable without newlines holds it.
        [] {
            std::string s(k_private_openssh);
            for (auto& c : s) {
                if (c == '\n') {
                    c = ' ';
                }
            }
            return s;
        }(),
        // Escaped newlines as pasted from JSON.
        [] {
            std::string s;
            for (char c : k_private_pem) {
                s += c == '\n' ? std::string("\\n") : std::string(1, c);
            }
            return s;
        }(),
        // The body alone, headers left off.
        std::string(k_private_openssh.substr(
            k_private_openssh.find('\n') + 1,
            k_private_openssh.rfind("-----END") - k_private_openssh.find('\n') - 1)),
    };
    for (const auto& in : inputs) {
        SCOPED_TRACE(in.substr(0, 60));
        const auto r = parse_keys(in, "PUBLIC_KEY");
        ASSERT_FALSE(r.refusals.empty());
        bool saw_private = false;
        for (const auto& ref : r.refusals) {
            saw_private = saw_private || ref.kind == RefusalKind::PrivateKey;
        }
        EXPECT_TRUE(saw_private);
        const std::string text = all_text(r);
        EXPECT_EQ(text.find(k_private_openssh_secret), std::string::npos) << text;
        EXPECT_EQ(text.find(k_private_pem_secret), std::string::npos) << text;
        EXPECT_EQ(text.find("b3BlbnNzaC1rZXktdjE"), std::string::npos) << text;
        EXPECT_EQ(text.find("MIICXAIBAAKBgQC"), std::string::npos) << text;
        for (const auto& k : r.keys) {
            EXPECT_TRUE(k.type == "ssh-ed25519" || k.type == "ssh-rsa");
        }
    }
    // A private key body without its BEGIN/END lines gives one refusal.
    const auto body = parse_keys(inputs[6]);
    ASSERT_EQ(body.refusals.size(), 1u);
    EXPECT_EQ(body.refusals[0].kind, RefusalKind::PrivateKey);
    // Keys around a private key survive.
    const auto r = parse_keys(good + std::string(k_private_openssh) + std::string(k_rsa2048));
    ASSERT_EQ(r.keys.size(), 2u);
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_NE(r.refusals[0].message.find("NOT used or stored"), std::string::npos);
    EXPECT_NE(r.refusals[0].message.find("exposed"), std::string::npos);
}

TEST(parse_keys, RefusesPuttyPrivateKey) {
    const std::string ppk =
        "PuTTY-User-Key-File-3: ssh-ed25519\n"
        "Encryption: none\n"
        "Comment: ed25519-key-20240101\n"
        "Public-Lines: 2\n"
        "AAAAC3NzaC1lZDI1NTE5AAAAIMczYliVwAZ74daGI5DmfW/JkpOFb8rNIUAE8uO/\n"
        "o13T\n"
        "Private-Lines: 1\n"
        "AAAAIPTopSecretPrivatePartOfThePuttyKeyZZZZZZZZZZZ\n"
        "Private-MAC: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
    const auto r = parse_keys(ppk + std::string(k_rsa2048));
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::PuttyPrivate);
    EXPECT_NE(
        r.refusals[0].message.find("Public key for pasting into OpenSSH authorized_keys file"),
        std::string::npos);
    ASSERT_EQ(r.keys.size(), 1u);
    EXPECT_EQ(r.keys[0].type, "ssh-rsa");
    const std::string text = all_text(r);
    EXPECT_EQ(text.find("TopSecret"), std::string::npos);
    EXPECT_EQ(text.find("ed25519-key-20240101"), std::string::npos);
}

TEST(parse_keys, RefusesNull) {
    for (std::string_view in : {"null", "NULL", "None", "undefined", "\"null\"", " null\n"}) {
        const auto r = parse_keys(in, "PUBLIC_KEY");
        EXPECT_TRUE(r.keys.empty());
        ASSERT_EQ(r.refusals.size(), 1u) << in;
        EXPECT_EQ(r.refusals[0].kind, RefusalKind::Null);
        EXPECT_EQ(r.refusals[0].message.rfind("PUBLIC_KEY: ", 0), 0u);
    }
}

TEST(parse_keys, RefusesDsa) {
    const auto r = parse_keys(std::string(k_dsa) + "\n" + std::string(k_ed25519));
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::Dsa);
    EXPECT_NE(r.refusals[0].message.find("ssh-keygen -t ed25519"), std::string::npos);
    ASSERT_EQ(r.keys.size(), 1u);
    // A hand-made ssh-dss blob is refused the same way.
    WireWriter w;
    w.put_string("ssh-dss");
    for (int i = 0; i < 4; ++i) {
        w.put_string(std::string_view("\x01\x02\x03", 3));
    }
    const auto h = parse_keys("ssh-dss " + util::base64_encode(w.bytes()));
    ASSERT_EQ(h.refusals.size(), 1u);
    EXPECT_EQ(h.refusals[0].kind, RefusalKind::Dsa);
}

TEST(parse_keys, RefusesRsaUnder1024Bits) {
    const auto r = parse_keys(k_rsa768);
    EXPECT_TRUE(r.keys.empty());
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::RsaTooShort);
    EXPECT_NE(r.refusals[0].message.find("768"), std::string::npos);
}

TEST(parse_keys, RefusesTypeMismatch) {
    const auto r = parse_keys("ssh-rsa " + b64_of(k_ed25519) + " x");
    EXPECT_TRUE(r.keys.empty());
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::TypeMismatch);
    EXPECT_NE(r.refusals[0].message.find("ssh-ed25519"), std::string::npos);
    const auto w = parse_keys("rsa-sha2-512 " + b64_of(k_rsa2048));
    ASSERT_EQ(w.refusals.size(), 1u);
    EXPECT_EQ(w.refusals[0].kind, RefusalKind::TypeMismatch);
}

TEST(parse_keys, RefusesCertificates) {
    const auto r = parse_keys(k_cert);
    EXPECT_TRUE(r.keys.empty());
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::Unparseable);
    EXPECT_NE(r.refusals[0].message.find("certificate"), std::string::npos);
}

TEST(parse_keys, RefusesMalformedBlobs) {
    auto blob_line = [](WireWriter& w) { return "ssh-ed25519 " + util::base64_encode(w.bytes()); };
    WireWriter short_key;
    short_key.put_string("ssh-ed25519");
    short_key.put_string(std::string(31, 'k'));
    WireWriter trailing;
    trailing.put_string("ssh-ed25519");
    trailing.put_string(std::string(32, 'k'));
    trailing.put_raw("x");
    WireWriter curve;
    curve.put_string("ecdsa-sha2-nistp256");
    curve.put_string("nistp384");
    curve.put_string("\x04" + std::string(64, 'p'));
    WireWriter compressed;
    compressed.put_string("ecdsa-sha2-nistp256");
    compressed.put_string("nistp256");
    compressed.put_string("\x02" + std::string(32, 'p'));
    const std::string cases[] = {
        blob_line(short_key),
        blob_line(trailing),
        "ecdsa-sha2-nistp256 " + util::base64_encode(curve.bytes()),
        "ecdsa-sha2-nistp256 " + util::base64_encode(compressed.bytes()),
        std::string(k_ed25519.substr(0, 50)),  // cut short
        "ssh-ed25519",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMczYliVwAZ74daGI5DmfW/JkpOFb8rNIUAE8uO/o13!",
    };
    for (const auto& in : cases) {
        SCOPED_TRACE(in);
        const auto r = parse_keys(in);
        EXPECT_TRUE(r.keys.empty());
        ASSERT_EQ(r.refusals.size(), 1u);
        EXPECT_EQ(r.refusals[0].kind, RefusalKind::Unparseable);
        EXPECT_LT(r.refusals[0].message.size(), 300u);
    }
}

TEST(parse_keys, RefusesJunkDescribingItNeverQuotingIt) {
    const std::string junk =
        "please add my key, it is the one I sent you by mail yesterday afternoon";
    const auto r = parse_keys(junk + "\n" + std::string(k_ed25519), "SSH_PUBLIC_KEY");
    ASSERT_EQ(r.keys.size(), 1u);
    ASSERT_EQ(r.refusals.size(), 1u);
    EXPECT_EQ(r.refusals[0].kind, RefusalKind::Unparseable);
    EXPECT_EQ(
        r.refusals[0].message.rfind(
            "SSH_PUBLIC_KEY line 1: not an SSH public key: line 1 (71 bytes) looks like text", 0),
        0u)
        << r.refusals[0].message;
    EXPECT_EQ(r.refusals[0].message.find("please"), std::string::npos);
}

TEST(parse_keys, LineReparsesToTheSameKey) {
    const auto r = parse_keys("from=\"a b\",no-pty " + b64_of(k_ed25519) + "  c  d \r\n'" +
                              std::string(k_ecdsa521) + "'");
    ASSERT_EQ(r.keys.size(), 2u);
    for (const auto& k : r.keys) {
        const auto again = parse_keys(k.line());
        ASSERT_EQ(again.keys.size(), 1u);
        EXPECT_TRUE(again.refusals.empty());
        EXPECT_EQ(again.keys[0].line(), k.line());
        EXPECT_TRUE(again.keys[0].repairs.empty());
    }
}

}  // namespace
}  // namespace sshboot::keys
