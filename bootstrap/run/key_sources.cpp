#include "run/key_sources.hpp"

#include <set>

#include "keys/options.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/parse.hpp"

namespace sshboot::run {
namespace {

// One line per key with options, so that a forced command (or a from= that
// locks its owner out) pasted along with a key is seen, not only felt.
void log_options(const std::string& source, const keys::PublicKey& key) {
    const auto options = keys::split_key_options(key.options);
    if (options.empty()) {
        return;
    }
    std::string text = source + ": " + key.type + " key " + key.fingerprint() +
                       " has authorized_keys options: " + keys::options_summary(options);
    if (keys::forced_command(options)) {
        text +=
            "; every login with this key runs that command, never a shell (remove "
            "command=\"...\" from the key's line if that is not what you want)";
    }
    if (keys::options_change_login(options)) {
        log::warn("{}", text);
    } else {
        log::info("{}", text);
    }
}

void add_source(KeySet& set, std::set<std::string>& seen, std::string_view text,
                const std::string& source) {
    auto parsed = keys::parse_keys(text, source);
    for (const auto& refusal : parsed.refusals) {
        log::error("{}: {}", source, refusal.message);
    }
    for (auto& key : parsed.keys) {
        for (const auto& repair : key.repairs) {
            log::info("{}: {} key {}: {}", source, key.type, key.fingerprint(), repair);
        }
        for (const auto& warning : key.warnings) {
            log::warn("{}: {} key {}: {}", source, key.type, key.fingerprint(), warning);
        }
        log_options(source, key);
        if (seen.insert(key.type + " " + key.base64).second) {
            set.keys.push_back(std::move(key));
        }
    }
    set.sources.push_back(source);
}

void add_file(KeySet& set, std::set<std::string>& seen, const std::string& path,
              const char* variable) {
    auto text = util::read_file(path, 1 << 20);
    if (!text) {
        // The path comes from the environment: shown escaped, like any value.
        log::error("{}: cannot read keys: {}", variable,
                   util::printable(text.error().message, 512));
        return;
    }
    add_source(set, seen, *text, std::string(variable) + " (" + util::printable(path, 256) + ")");
}

}  // namespace

KeySet collect_keys(const cli::Settings& s) {
    KeySet set;
    std::set<std::string> seen;
    const bool per_container = !s.ssh_public_key.empty() || !s.ssh_public_key_file.empty();
    if (per_container) {
        if (!s.public_key.empty() || !s.public_key_file.empty()) {
            log::info("SSH_PUBLIC_KEY is set, so PUBLIC_KEY is not used");
        }
        if (!s.ssh_public_key.empty()) {
            add_source(set, seen, s.ssh_public_key, "SSH_PUBLIC_KEY");
        }
        if (!s.ssh_public_key_file.empty()) {
            add_file(set, seen, s.ssh_public_key_file, "SSH_PUBLIC_KEY_FILE");
        }
    } else {
        if (!s.public_key.empty()) {
            add_source(set, seen, s.public_key, "PUBLIC_KEY");
        }
        if (!s.public_key_file.empty()) {
            add_file(set, seen, s.public_key_file, "PUBLIC_KEY_FILE");
        }
    }
    return set;
}

}  // namespace sshboot::run
