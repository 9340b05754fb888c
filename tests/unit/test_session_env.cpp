#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "session_env/filter.hpp"
#include "session_env/format.hpp"

using namespace sshboot;
using session_env::SshdSyntax;
using session_env::Variable;

namespace {

std::vector<std::string> names(const std::vector<Variable>& vars) {
    std::vector<std::string> out;
    for (const auto& v : vars) {
        out.push_back(v.name);
    }
    return out;
}

// Splits a SetEnv line as OpenSSH 8.7+ does (argv_split): quotes group, a
// backslash escapes \ " ' (and a space outside quotes), other backslashes stay.
std::vector<std::string> split_like_sshd(const std::string& s) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < s.size()) {
        if (s[i] == ' ' || s[i] == '\t') {
            ++i;
            continue;
        }
        std::string word;
        char quote = 0;
        for (; i < s.size(); ++i) {
            const char c = s[i];
            if (c == '\\' && i + 1 < s.size() &&
                (s[i + 1] == '\\' || s[i + 1] == '"' || s[i + 1] == '\'' ||
                 (quote == 0 && s[i + 1] == ' '))) {
                word.push_back(s[++i]);
            } else if (quote == 0 && (c == ' ' || c == '\t')) {
                break;
            } else if (quote == 0 && (c == '"' || c == '\'')) {
                quote = c;
            } else if (quote != 0 && c == quote) {
                quote = 0;
            } else {
                word.push_back(c);
            }
        }
        out.push_back(word);
    }
    return out;
}

}  // namespace

TEST(parse_patterns, splits_on_commas_and_trims) {
    EXPECT_EQ(session_env::parse_patterns(" CUDA_*, ,HF_TOKEN ,"),
              (std::vector<std::string>{"CUDA_*", "HF_TOKEN"}));
    EXPECT_TRUE(session_env::parse_patterns("").empty());
}

TEST(is_sshboot_secret, covers_passwords_and_key_variables) {
    for (const char* n : {"SSH_PASSWORD", "SSH_PASSWORD_FILE", "PUBLIC_KEY", "PUBLIC_KEY_FILE",
                          "SSH_PUBLIC_KEY", "SSH_PUBLIC_KEY_FILE"}) {
        EXPECT_TRUE(session_env::is_sshboot_secret(n)) << n;
    }
    EXPECT_FALSE(session_env::is_sshboot_secret("HF_TOKEN"));
    EXPECT_FALSE(session_env::is_sshboot_secret("SSH_USER"));
}

TEST(is_excluded_by_default, per_session_variables_and_sshboot_settings) {
    for (const char* n : {"HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "SHLVL", "TERM",
                          "HOSTNAME", "_", "MAIL", "SSH_CONNECTION", "SSHBOOT_ENV_INCLUDE"}) {
        EXPECT_TRUE(session_env::is_excluded_by_default(n)) << n;
    }
    for (const char* n : {"PATH", "LD_LIBRARY_PATH", "RUNPOD_POD_ID", "CUDA_HOME", "LANG"}) {
        EXPECT_FALSE(session_env::is_excluded_by_default(n)) << n;
    }
}

TEST(looks_secret, by_name) {
    for (const char* n :
         {"HF_TOKEN", "HF_HOME", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD",
          "GOOGLE_APPLICATION_CREDENTIALS", "github_token", "GH_PAT"}) {
        EXPECT_TRUE(session_env::looks_secret(n)) << n;
    }
    for (const char* n : {"PATH", "RUNPOD_POD_ID", "CUDA_VERSION", "MY_PUBLIC_KEY"}) {
        EXPECT_FALSE(session_env::looks_secret(n)) << n;
    }
}

TEST(is_shell_name, accepts_identifiers_only) {
    EXPECT_TRUE(session_env::is_shell_name("_A1"));
    EXPECT_FALSE(session_env::is_shell_name("1A"));
    EXPECT_FALSE(session_env::is_shell_name("A.B"));
    EXPECT_FALSE(session_env::is_shell_name("A-B"));
    EXPECT_FALSE(session_env::is_shell_name(""));
}

TEST(select_variables, drops_secrets_and_per_session_variables) {
    const auto sel = session_env::select_variables(
        {"PATH=/opt/conda/bin:/usr/bin", "HOME=/root", "SSH_PASSWORD=pw",
         "PUBLIC_KEY=ssh-ed25519 A", "SSH_PUBLIC_KEY=k", "RUNPOD_POD_ID=abc", "TERM=xterm",
         "_=/usr/bin/env"},
        {});
    EXPECT_EQ(names(sel.variables), (std::vector<std::string>{"PATH", "RUNPOD_POD_ID"}));
    EXPECT_TRUE(sel.skipped.empty());
}

TEST(select_variables, include_wins_over_exclusions_but_not_over_secrets) {
    session_env::Patterns p{{"MAIL", "SSH_*", "KEEP*"}, {"KEEP*", "CUDA_*"}};
    const auto sel =
        session_env::select_variables({"MAIL=/var/mail/root", "SSH_PASSWORD=pw", "SSH_PUBLIC_KEY=k",
                                       "KEEP_ME=1", "CUDA_HOME=/usr/local/cuda", "OTHER=2"},
                                      p);
    EXPECT_EQ(names(sel.variables), (std::vector<std::string>{"KEEP_ME", "MAIL", "OTHER"}));
}

TEST(select_variables, skips_line_breaks_and_bad_names_naming_the_variable_only) {
    const auto sel = session_env::select_variables(
        {"MULTI=line1\nhidden-value", "CR=a\rb", "A.B=1", "OK=fine", "OK=second"}, {});
    ASSERT_EQ(sel.variables.size(), 1u);
    EXPECT_EQ(sel.variables[0].value, "fine");
    ASSERT_EQ(sel.skipped.size(), 3u);
    EXPECT_NE(sel.skipped[0].find("MULTI"), std::string::npos);
    EXPECT_EQ(sel.skipped[0].find("hidden-value"), std::string::npos);
    EXPECT_NE(sel.skipped[2].find("A.B"), std::string::npos);
}

TEST(shell_quote, single_quotes_everything) {
    EXPECT_EQ(session_env::shell_quote(""), "''");
    EXPECT_EQ(session_env::shell_quote("a b"), "'a b'");
    EXPECT_EQ(session_env::shell_quote("it's $HOME \\ \"x\""), "'it'\\''s $HOME \\ \"x\"'");
}

TEST(setenv_word, modern_escapes_quote_and_backslash) {
    auto w = session_env::setenv_word({"V", R"(a "b" \c 'd' $e #f)"}, SshdSyntax::Modern);
    ASSERT_TRUE(w);
    EXPECT_EQ(*w, R"("V=a \"b\" \\c 'd' $e #f")");
    EXPECT_EQ(split_like_sshd(*w), (std::vector<std::string>{R"(V=a "b" \c 'd' $e #f)"}));
}

TEST(setenv_word, legacy_refuses_what_it_cannot_quote) {
    EXPECT_EQ(*session_env::setenv_word({"V", "a b $c"}, SshdSyntax::Legacy), "\"V=a b $c\"");
    for (const char* v : {"a\"b", "a\\b", "a#b"}) {
        EXPECT_FALSE(session_env::setenv_word({"V", v}, SshdSyntax::Legacy)) << v;
    }
    EXPECT_FALSE(session_env::setenv_word({"V", "a\nb"}, SshdSyntax::Modern));
}

TEST(render_setenv_line, one_line_in_order_and_skipped_names) {
    auto line = session_env::render_setenv_line({{"A", "1"}, {"B", "x\"y"}, {"C", "3 4"}},
                                                SshdSyntax::Legacy);
    EXPECT_EQ(line.line, R"(SetEnv "A=1" "C=3 4")");
    EXPECT_EQ(line.skipped, (std::vector<std::string>{"B"}));
    EXPECT_EQ(session_env::render_setenv_line({}, SshdSyntax::Modern).line, "");
}

TEST(render_setenv_line, round_trips_through_sshd_word_splitting) {
    const std::vector<Variable> vars = {{"P", "/usr/local/cuda/bin:/opt/conda/bin"},
                                        {"Q", R"(it's "q" \ \\ $X ${Y} `z` #c)"},
                                        {"E", ""},
                                        {"T", "tab\there"}};
    auto line = session_env::render_setenv_line(vars, SshdSyntax::Modern);
    auto words = split_like_sshd(line.line);
    ASSERT_EQ(words.size(), vars.size() + 1);
    EXPECT_EQ(words[0], "SetEnv");
    for (std::size_t i = 0; i < vars.size(); ++i) {
        EXPECT_EQ(words[i + 1], vars[i].name + "=" + vars[i].value);
    }
}

TEST(render_profile, exports_each_variable) {
    const auto text = session_env::render_profile({{"PATH", "/a b:/c"}, {"X", "it's"}});
    EXPECT_NE(text.find("\nexport PATH='/a b:/c'\n"), std::string::npos);
    EXPECT_NE(text.find("\nexport X='it'\\''s'\n"), std::string::npos);
    EXPECT_EQ(text.front(), '#');
}

TEST(find_openssh_version, reads_the_version_tag) {
    using namespace std::string_literals;
    auto v = session_env::find_openssh_version("\0\x01OpenSSH_\0junk OpenSSH_9.2p1 Debian"s);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->major, 9);
    EXPECT_EQ(v->minor, 2);
    EXPECT_FALSE(session_env::find_openssh_version("no version here"));
    EXPECT_FALSE(session_env::find_openssh_version("OpenSSH_"));
    // Where the digits end, for a reader of pieces: at the text's end the
    // minor version may go on in the next piece.
    std::size_t end = 0;
    ASSERT_TRUE(session_env::find_openssh_version("x OpenSSH_9.1", &end));
    EXPECT_EQ(end, 13U);
    ASSERT_TRUE(session_env::find_openssh_version("x OpenSSH_9.10p1", &end));
    EXPECT_EQ(end, 14U);
}

TEST(syntax_for, by_version) {
    EXPECT_EQ(session_env::syntax_for(session_env::Version{9, 2}), SshdSyntax::Modern);
    EXPECT_EQ(session_env::syntax_for(session_env::Version{8, 7}), SshdSyntax::Modern);
    EXPECT_EQ(session_env::syntax_for(session_env::Version{8, 2}), SshdSyntax::Legacy);
    EXPECT_EQ(session_env::syntax_for(session_env::Version{7, 8}), SshdSyntax::Legacy);
    EXPECT_FALSE(session_env::syntax_for(session_env::Version{7, 6}));
    EXPECT_EQ(session_env::syntax_for(std::nullopt), SshdSyntax::Modern);
}

TEST(is_sshboot_secret, covers_the_cluster_secret) {
    EXPECT_TRUE(session_env::is_sshboot_secret("SSHBOOT_CLUSTER_SECRET"));
    EXPECT_TRUE(session_env::is_sshboot_secret("SSHBOOT_CLUSTER_SECRET_FILE"));
    const auto sel =
        session_env::select_variables({"SSHBOOT_CLUSTER_SECRET=x", "A=1"}, {{"*"}, {}});
    ASSERT_EQ(sel.variables.size(), 1u);
    EXPECT_EQ(sel.variables[0].name, "A");
}
