#include <gtest/gtest.h>

#include <chrono>

#include <string>
#include <vector>

#include "doctor/session_env_view.hpp"
#include "session_env/export.hpp"
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
         {"HF_TOKEN", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "RUNPOD_API_KEY",
          "GOOGLE_APPLICATION_CREDENTIALS", "github_token", "GH_PAT", "SENTRY_DSN", "DSN",
          "AZURE_STORAGE_CONNECTION_STRING", "SQLCONNSTR_main"}) {
        EXPECT_TRUE(session_env::looks_secret(n)) << n;
    }
    for (const char* n : {"PATH", "RUNPOD_POD_ID", "CUDA_VERSION", "MY_PUBLIC_KEY", "HF_HOME",
                          "HF_HUB_ENABLE_HF_TRANSFER", "DATABASE_URL", "DSN_HOST"}) {
        EXPECT_FALSE(session_env::looks_secret(n)) << n;
    }
}

TEST(is_sshboot_setting, sshboot_own_variables) {
    for (const char* n :
         {"SSH_PORT", "SSH_USER", "SSH_SUDO", "SSH_HOST_KEY_TYPES", "SSH_PUBLIC_HOST",
          "SSH_PUBLIC_PORT", "SSHBOOT_STATE_DIR", "SSHBOOT_KEEP_ALIVE"}) {
        EXPECT_TRUE(session_env::is_sshboot_setting(n)) << n;
        EXPECT_TRUE(session_env::is_excluded_by_default(n)) << n;
    }
    // Platform variables are the platform's: sessions keep them.
    for (const char* n :
         {"RUNPOD_PUBLIC_IP", "RUNPOD_TCP_PORT_22", "PUBLIC_IPADDR", "SSH_AGENT_PID"}) {
        EXPECT_FALSE(session_env::is_sshboot_setting(n)) << n;
    }
    EXPECT_TRUE(session_env::is_sshboot_secret("SSHBOOT_CLUSTER_SECRET"));
    EXPECT_TRUE(session_env::is_sshboot_secret("SSHBOOT_CLUSTER_SECRET_FILE"));
}

TEST(value_has_credentials, urls_with_a_password_and_keyword_strings) {
    for (const char* v : {
             "postgres://u:pass@h/db",
             "redis://:pw@cache:6379/0",
             "mysql://user:p%40ss@db.internal:3306",
             "amqp://guest:guest@rabbit",
             "a,https://x:y@h/",
             "host=db user=app password=s3cret dbname=app",
             "Server=tcp:x;Database=d;User ID=u;Password=p;",
             "Server=x;Uid=u;Pwd=p",
             "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==",
             "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=R;SharedAccessKey=k",
             "https://acct.blob.core.windows.net/c?sv=2020&sig=abc",
             "https://api.example/x?token=abc",
             "https://api.example/x?a=1&access_token=abc",
         }) {
        EXPECT_TRUE(session_env::value_has_credentials(v)) << v;
    }
    for (const char* v : {
             "https://example.com/docs",
             "postgres://u@h/db",
             "postgres://u:@h/db",
             "http://[::1]:8080/x",
             "ssh://git@github.com/o/r",
             "/usr/local/cuda/bin:/usr/bin",
             "mypassword",
             "design=flat",
             "tokenizer=bpe",
             "https://h/x?nosig=1",
             "",
         }) {
        EXPECT_FALSE(session_env::value_has_credentials(v)) << v;
    }
}

TEST(value_has_url_userinfo, any_user_part) {
    EXPECT_TRUE(session_env::value_has_url_userinfo("https://ghp_tok@github.com/o/r.git"));
    EXPECT_TRUE(session_env::value_has_url_userinfo("postgres://u:p@h/db"));
    EXPECT_FALSE(session_env::value_has_url_userinfo("https://github.com/o/r.git"));
    EXPECT_FALSE(session_env::value_has_url_userinfo("https://h/path@x"));
    EXPECT_FALSE(session_env::value_has_url_userinfo("user@host"));
}

TEST(is_secret, by_name_or_by_value) {
    EXPECT_TRUE(session_env::is_secret({"DATABASE_URL", "postgres://u:pass@h/db"}));
    EXPECT_TRUE(session_env::is_secret({"ANYTHING", "redis://:pw@h"}));
    EXPECT_TRUE(session_env::is_secret({"GIT_REMOTE_URL", "https://tok@github.com/o/r"}));
    EXPECT_TRUE(session_env::is_secret({"BROKER_URI", "amqp://user@h"}));
    EXPECT_TRUE(session_env::is_secret({"SENTRY_DSN", "https://k@o1.ingest.example/1"}));
    EXPECT_TRUE(session_env::is_secret({"HF_TOKEN", "hf_x"}));
    EXPECT_FALSE(session_env::is_secret({"DOCS_URL", "https://example.com/docs"}));
    EXPECT_FALSE(session_env::is_secret({"GIT_REMOTE", "ssh://git@github.com/o/r"}));
    EXPECT_FALSE(session_env::is_secret({"HF_HOME", "/workspace/hf"}));
    EXPECT_FALSE(session_env::is_secret({"PATH", "/usr/bin"}));
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

TEST(select_variables, lists_withheld_names_and_keeps_sshboot_settings_out) {
    const auto sel = session_env::select_variables(
        {"SSH_PORT=2222", "SSH_PUBLIC_HOST=h", "SSH_USER=alice", "SSHBOOT_STATE_DIR=/s",
         "SSHBOOT_CLUSTER_SECRET=c", "SSH_PUBLIC_KEY=k", "HF_HOME=/hf", "RUNPOD_PUBLIC_IP=1.2.3.4"},
        {{"SSHBOOT_*"}, {}});
    // An include pattern brings back a setting, never a secret.
    EXPECT_EQ(names(sel.variables),
              (std::vector<std::string>{"HF_HOME", "RUNPOD_PUBLIC_IP", "SSHBOOT_STATE_DIR"}));
    EXPECT_EQ(sel.withheld,
              (std::vector<std::string>{"SSHBOOT_CLUSTER_SECRET", "SSH_PORT", "SSH_PUBLIC_HOST",
                                        "SSH_PUBLIC_KEY", "SSH_USER"}));
}

TEST(select_variables, escapes_control_bytes_in_names_it_warns_about) {
    const auto sel = session_env::select_variables({"BAD\x1b[2JNAME=1"}, {});
    ASSERT_EQ(sel.skipped.size(), 1u);
    EXPECT_NE(sel.skipped[0].find("BAD\\x1b[2JNAME"), std::string::npos) << sel.skipped[0];
    EXPECT_EQ(sel.skipped[0].find('\x1b'), std::string::npos);
}

TEST(select_variables, sums_up_many_unusable_variables_in_one_warning) {
    std::vector<std::string> env;
    for (int i = 0; i < 1000; ++i) {
        env.push_back("A." + std::to_string(i) + "=1");
    }
    const auto sel = session_env::select_variables(env, {});
    ASSERT_EQ(sel.skipped.size(), 11u);
    EXPECT_NE(sel.skipped.back().find("990 more"), std::string::npos) << sel.skipped.back();
}

TEST(select_variables, bounds_the_count_and_names_what_was_left_out) {
    std::vector<std::string> env{"PATH=/usr/bin"};
    for (int i = 0; i < 100; ++i) {
        env.push_back("V" + std::to_string(1000 + i) + "=x");
    }
    env.push_back("ZZ_WANTED=1");
    session_env::Limits limits;
    limits.max_variables = 10;
    const auto sel = session_env::select_variables(env, {{"ZZ_*"}, {}}, limits);
    ASSERT_EQ(sel.variables.size(), 10u);
    // Included first, then in the environment's order; the result sorted.
    EXPECT_EQ(names(sel.variables),
              (std::vector<std::string>{"PATH", "V1000", "V1001", "V1002", "V1003", "V1004",
                                        "V1005", "V1006", "V1007", "ZZ_WANTED"}));
    EXPECT_EQ(sel.left_out.size(), 92u);
    EXPECT_EQ(sel.left_out.front(), "V1008");
    ASSERT_EQ(sel.skipped.size(), 1u);
    const auto& w = sel.skipped[0];
    EXPECT_NE(w.find("92 environment variable(s) not passed"), std::string::npos) << w;
    EXPECT_NE(w.find("V1008, V1009"), std::string::npos) << w;
    EXPECT_NE(w.find("and 82 more"), std::string::npos) << w;
    EXPECT_NE(w.find("SSHBOOT_ENV_INCLUDE"), std::string::npos) << w;
}

TEST(select_variables, bounds_total_and_value_bytes_unless_included) {
    session_env::Limits limits;
    limits.max_total_bytes = 100;
    limits.max_value_bytes = 40;
    const std::string big(50, 'b');
    const std::string mid(30, 'm');
    const auto sel = session_env::select_variables(
        {"BIG=" + big, "A=" + mid, "B=" + mid, "C=" + mid, "D=1", "WANTED=" + big},
        {{"WANTED"}, {}}, limits);
    // WANTED (included, 57 bytes) goes first; then A (32); B would pass 100.
    EXPECT_EQ(names(sel.variables), (std::vector<std::string>{"A", "D", "WANTED"}));
    EXPECT_EQ(sel.left_out, (std::vector<std::string>{"B", "BIG", "C"}));
    ASSERT_EQ(sel.skipped.size(), 2u);
    EXPECT_NE(sel.skipped[0].find("BIG is not passed to SSH sessions: its value is 50 bytes"),
              std::string::npos)
        << sel.skipped[0];
    EXPECT_EQ(sel.skipped[0].find(big), std::string::npos);
}

// The speed of this path is measured by tests/bench, not asserted here: a
// timed test fails on a slow or emulated machine.
TEST(select_variables, a_hundred_thousand_variables_are_cut_to_the_limits) {
    std::vector<std::string> env;
    for (int i = 0; i < 100000; ++i) {
        env.push_back("E" + std::to_string(100000 + i) + "=v");
    }
    const auto sel = session_env::select_variables(env, {{"KEEP*"}, {"DROP*"}});
    const auto line = session_env::render_setenv_line(sel.variables, SshdSyntax::Modern);
    const session_env::Limits limits;
    EXPECT_EQ(sel.variables.size(), limits.max_variables);
    EXPECT_EQ(sel.left_out.size(), 100000u - limits.max_variables);
    // The first variables in environment order are the ones kept.
    EXPECT_EQ(sel.variables.front().name, "E100000");
    EXPECT_LE(line.line.size(), limits.max_total_bytes + 64 * limits.max_variables);
    EXPECT_NE(line.line.find("E100799=v"), std::string::npos);
    EXPECT_EQ(line.line.find("E100800="), std::string::npos);
}

TEST(manifest, round_trips_names_and_never_values) {
    session_env::Manifest m;
    m.restricted = {"HF_TOKEN", "DATABASE_URL"};
    m.withheld = {"SSH_PORT"};
    for (int i = 0; i < 600; ++i) {
        m.left_out.push_back("E" + std::to_string(1000 + i));
    }
    const auto text = session_env::render_profile({{"PATH", "/usr/bin"}, {"HF_HOME", "/hf"}}, &m);
    EXPECT_EQ(text.find("/hf"), text.rfind("/hf"));  // only in its export line
    const auto back = session_env::parse_manifest(text);
    EXPECT_EQ(back.plain, (std::vector<std::string>{"PATH", "HF_HOME"}));
    EXPECT_EQ(back.restricted, m.restricted);
    EXPECT_EQ(back.withheld, m.withheld);
    EXPECT_EQ(back.left_out.size(), session_env::k_manifest_max_names);
    EXPECT_EQ(back.left_out_more, 600u - session_env::k_manifest_max_names);
    EXPECT_EQ(back.withheld_more, 0u);
    EXPECT_TRUE(session_env::parse_manifest("garbage\nexport 1A=x\n").plain.empty());
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

TEST(render_session_env, sections_in_order_names_only) {
    session_env::Manifest m;
    m.plain = {"PATH", "HF_HOME"};
    m.restricted = {"HF_TOKEN"};
    m.withheld = {"SSH_PORT"};
    m.left_out_more = 3;
    const auto text = doctor::render_session_env(m, "/etc/profile.d/sshboot-env.sh");
    const auto plain = text.find("\nplain:");
    const auto restricted = text.find("\nrestricted:");
    const auto withheld = text.find("\nwithheld:");
    const auto left_out = text.find("\nleft out:");
    ASSERT_NE(plain, std::string::npos) << text;
    EXPECT_LT(plain, text.find("\n  HF_HOME\n"));
    EXPECT_LT(text.find("\n  HF_HOME\n"), text.find("\n  PATH\n"));  // sorted
    EXPECT_LT(text.find("\n  PATH\n"), restricted);
    EXPECT_LT(restricted, text.find("\n  HF_TOKEN\n"));
    EXPECT_LT(text.find("\n  HF_TOKEN\n"), withheld);
    EXPECT_LT(withheld, text.find("\n  SSH_PORT\n"));
    EXPECT_LT(text.find("\n  SSH_PORT\n"), left_out);
    EXPECT_NE(text.find("  ... and 3 more\n", left_out), std::string::npos) << text;
}

TEST(without_names, drops_the_named_entries_only) {
    EXPECT_EQ(session_env::without_names({"A=1", "B=2", "C=3", "BB=4", "junk"}, {"B", "C"}),
              (std::vector<std::string>{"A=1", "BB=4", "junk"}));
    EXPECT_EQ(session_env::without_names({"A=1"}, {}), (std::vector<std::string>{"A=1"}));
}

TEST(render_manifest, counts_names_that_are_not_shell_names_without_writing_them) {
    session_env::Manifest m;
    m.withheld = {"SSHBOOT_X\nexport EVIL=1", "SSH_PORT", "SSHBOOT_\x1b[2J"};
    const auto text = session_env::render_profile({}, &m);
    EXPECT_EQ(text.find("EVIL"), std::string::npos) << text;
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
    const auto back = session_env::parse_manifest(text);
    EXPECT_EQ(back.withheld, (std::vector<std::string>{"SSH_PORT"}));
    EXPECT_EQ(back.withheld_more, 2u);
    EXPECT_TRUE(back.plain.empty());
}

TEST(looks_secret, pass_pwd_passphrase_and_credential_in_a_name) {
    for (const char* n : {"MYSQL_PWD", "DB_PASS", "SMTP_PASS", "GPG_PASSPHRASE", "PGPASSFILE",
                          "AWS_CREDENTIALS", "db_pwd"}) {
        EXPECT_TRUE(session_env::looks_secret(n)) << n;
    }
    // The shell's own working directories are not passwords.
    EXPECT_FALSE(session_env::looks_secret("PWD"));
    EXPECT_FALSE(session_env::looks_secret("OLDPWD"));
}

TEST(value_has_token, known_prefixes_jwt_bearer_and_webhooks) {
    for (const char* v : {
             "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5",
             "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
             "glpat-xYz123AbC456dEf789Gh",
             "xoxb-1234567890-abcdefghij",
             "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
             "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH",
             "AKIAIOSFODNN7EXAMPLE",
             "--header=x ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5",
             "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_"
             "XgL0n3I9PlFUP0THsR8U",
             "Bearer abcdefgh12345678",
             "Authorization: bearer abc.def-ghi_jkl",
             "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
         }) {
        EXPECT_TRUE(session_env::value_has_token(v)) << v;
        EXPECT_TRUE(session_env::value_has_credentials(v)) << v;
    }
    for (const char* v :
         {"/dev/disk-0123456789012345678901234", "ghp_short", "hf_home", "/workspace/hf",
          "the bearer of news", "eyJ.eyJ.x", "12.0.1", "sk-learn", "AKIA"}) {
        EXPECT_FALSE(session_env::value_has_token(v)) << v;
    }
}

TEST(value_has_credentials, signed_urls_and_credential_files) {
    for (const char* v : {
             "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F1&"
             "X-Amz-Signature=0123abcd",
             "https://storage.googleapis.com/b/o?X-Goog-Signature=abcd",
             "https://h/x?signature=abc",
             "aws_access_key_id=AKIA0 aws_secret_access_key=wJalrXUtnFEMI",
             "user=u pass=p",
             "passphrase=correct horse",
         }) {
        EXPECT_TRUE(session_env::value_has_credentials(v)) << v;
    }
}

TEST(is_public, an_allowlist_of_harmless_names_with_harmless_values) {
    for (const Variable& v : std::vector<Variable>{
             {"PATH", "/usr/local/cuda/bin:/usr/bin"},
             {"LD_LIBRARY_PATH", "/usr/local/cuda/lib64"},
             {"CUDA_VISIBLE_DEVICES", "0,1"},
             {"NVIDIA_DRIVER_CAPABILITIES", "all"},
             {"CONDA_DEFAULT_ENV", "base"},
             {"LANG", "C.UTF-8"},
             {"LC_ALL", "C.UTF-8"},
             {"TZ", "UTC"},
             {"HF_HOME", "/workspace/hf"},
             {"PYTHONPATH", "/app"},
             {"RUNPOD_POD_ID", "abc123"},
             {"RUNPOD_GPU_COUNT", "2"},
             {"RUNPOD_TCP_PORT_22", "10022"},
             {"OMPI_MCA_plm_rsh_agent", "ssh"},
         }) {
        EXPECT_TRUE(session_env::is_public(v)) << v.name;
    }
    for (const Variable& v : std::vector<Variable>{
             {"HF_TOKEN", "hf_x"},
             {"DATABASE_URL", "postgres://db/app"},
             {"MYSQL_PWD", "x"},
             {"MODEL_NAME", "llama"},
             {"RUNPOD_API_KEY", "x"},
             {"CUDA_TOKEN", "x"},
             {"NCCL_PASSWORD", "x"},
             {"PYTHONPATH", "https://u:p@h/"},
             {"LANG", "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"},
         }) {
        EXPECT_FALSE(session_env::is_public(v)) << v.name;
    }
}

TEST(restricted_file_group, the_users_own_group_unless_others_share_it) {
    const std::string passwd =
        "root:x:0:0:root:/root:/bin/bash\n"
        "alice:x:1000:1000::/home/alice:/bin/bash\n"
        "bob:x:1001:100::/home/bob:/bin/bash\n"
        "carol:x:1002:100::/home/carol:/bin/bash\n"
        "dave:x:1003:1003::/home/dave:/bin/bash\n";
    const std::string group =
        "root:x:0:\n"
        "users:x:100:\n"
        "alice:x:1000:root,alice\n"
        "dave:x:1003:eve\n";
    EXPECT_EQ(session_env::restricted_file_group("alice", 1000, passwd, group), 1000u);
    EXPECT_EQ(session_env::restricted_file_group("bob", 100, passwd, group), 0u);
    EXPECT_EQ(session_env::restricted_file_group("dave", 1003, passwd, group), 0u);
    EXPECT_EQ(session_env::restricted_file_group("root", 0, passwd, group), 0u);
}
