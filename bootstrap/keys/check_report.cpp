#include "keys/check_report.hpp"

#include "keys/options.hpp"
#include "util/json.hpp"

namespace sshboot::keys {
namespace {

std::string json_array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        out += (i == 0 ? "" : ", ") + util::json_string(items[i]);
    }
    return out + "]";
}

std::string json_optional(const std::optional<std::string>& value) {
    return value ? util::json_string(*value) : std::string("null");
}

// [{"name": ..., "value": ... or null, "effect": ...}, ...]
std::string json_options(const std::vector<KeyOption>& options) {
    std::string out = "[";
    for (std::size_t i = 0; i < options.size(); ++i) {
        out += (i == 0 ? "" : ", ") + std::string("{\"name\": ") +
               util::json_string(options[i].name) +
               ", \"value\": " + json_optional(options[i].value) +
               ", \"effect\": " + util::json_string(option_effect(options[i])) + "}";
    }
    return out + "]";
}

std::string plural(std::size_t n, std::string_view word) {
    return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

}  // namespace

std::string keygen_type_label(std::string_view type) {
    if (type == "ssh-ed25519") {
        return "ED25519";
    }
    if (type == "ssh-rsa") {
        return "RSA";
    }
    if (type.starts_with("ecdsa-sha2-")) {
        return "ECDSA";
    }
    if (type == "sk-ssh-ed25519@openssh.com") {
        return "ED25519-SK";
    }
    if (type.starts_with("sk-ecdsa-sha2-")) {
        return "ECDSA-SK";
    }
    if (type == "ssh-dss") {
        return "DSA";
    }
    return std::string(type);
}

std::string keygen_line(const PublicKey& key) {
    return std::to_string(key.bits) + " " + key.fingerprint() + " " +
           (key.comment.empty() ? std::string("no comment") : key.comment) + " (" +
           keygen_type_label(key.type) + ")";
}

std::string_view refusal_kind_name(RefusalKind kind) {
    switch (kind) {
        case RefusalKind::Fingerprint:
            return "fingerprint";
        case RefusalKind::PrivateKey:
            return "private_key";
        case RefusalKind::Null:
            return "null";
        case RefusalKind::Dsa:
            return "dsa";
        case RefusalKind::RsaTooShort:
            return "rsa_too_short";
        case RefusalKind::TypeMismatch:
            return "type_mismatch";
        case RefusalKind::PuttyPrivate:
            return "putty_private";
        case RefusalKind::Unparseable:
            return "unparseable";
        case RefusalKind::BadOptions:
            return "bad_options";
    }
    return "unknown";
}

std::string_view refusal_fix(RefusalKind kind) {
    switch (kind) {
        case RefusalKind::Fingerprint:
            return "a fingerprint only names a key; paste the key itself, the output of: "
                   "cat ~/.ssh/id_ed25519.pub";
        case RefusalKind::PrivateKey:
            return "paste the public half instead: cat ~/.ssh/id_ed25519.pub (or derive it: "
                   "ssh-keygen -y -f ~/.ssh/id_ed25519); the pasted key should be replaced: "
                   "ssh-keygen -t ed25519";
        case RefusalKind::Null:
            return "set the variable to your public key (the output of cat ~/.ssh/id_ed25519.pub) "
                   "or leave it unset";
        case RefusalKind::Dsa:
        case RefusalKind::RsaTooShort:
            return "make a new key: ssh-keygen -t ed25519, then paste the output of: "
                   "cat ~/.ssh/id_ed25519.pub";
        case RefusalKind::TypeMismatch:
            return "copy the line again from the .pub file without editing it: "
                   "cat ~/.ssh/id_ed25519.pub";
        case RefusalKind::PuttyPrivate:
            return "export the public key: puttygen key.ppk -O public-openssh (or PuTTYgen's box "
                   "\"Public key for pasting into OpenSSH authorized_keys file\"); the pasted key "
                   "should be replaced";
        case RefusalKind::Unparseable:
            return "paste one key per line exactly as the .pub file holds it: "
                   "cat ~/.ssh/id_ed25519.pub";
        case RefusalKind::BadOptions:
            return "correct the options before the key type (e.g. restrict,command=\"...\") or "
                   "remove them";
    }
    return "";
}

int check_exit_code(const ParseResult& result) {
    return result.keys.empty() ? 1 : 0;
}

std::string check_report_text(const ParseResult& result) {
    std::string out;
    const auto& keys = result.keys;
    const auto& refusals = result.refusals;
    if (keys.empty() && refusals.empty()) {
        return "No key found in the input: there is nothing to paste.\n"
               "Give sshboot check-key your public key file, e.g.: sshboot check-key "
               "~/.ssh/id_ed25519.pub\n"
               "No key yet? Make one with: ssh-keygen -t ed25519\n";
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto& key = keys[i];
        out += "Key " + std::to_string(i + 1) + " of " + std::to_string(keys.size()) + ": usable\n";
        out += "  ssh-keygen -l: " + keygen_line(key) + "\n";
        out += "  type " + key.type + ", " + std::to_string(key.bits) + " bits, " +
               (key.comment.empty() ? std::string("no comment") : "comment " + key.comment) + "\n";
        if (const auto options = split_key_options(key.options); !options.empty()) {
            out += "  options: " + options_summary(options) + "\n";
            for (const auto& option : options) {
                out += "    " + option_label(option) + ": " + option_effect(option) + "\n";
            }
        }
        for (const auto& repair : key.repairs) {
            out += "  repaired: " + repair + "\n";
        }
        for (const auto& warning : key.warnings) {
            out += "  warning: " + warning + "\n";
        }
        out += "\n";
    }
    for (std::size_t i = 0; i < refusals.size(); ++i) {
        const auto& r = refusals[i];
        out += "Refused " + std::to_string(i + 1) + " of " + std::to_string(refusals.size()) +
               ": " + r.message + "\n";
        out += "  Fix: " + std::string(refusal_fix(r.kind)) + "\n\n";
    }
    if (keys.empty()) {
        out +=
            "No usable key: there is nothing to paste. Follow the fix above, then run "
            "sshboot check-key again.\n";
        return out;
    }
    out += plural(keys.size(), "usable key");
    if (!refusals.empty()) {
        out += " (" + std::to_string(refusals.size()) + " refused, left out)";
    }
    out += ". Paste " + std::string(keys.size() == 1 ? "this line" : "these lines, one per line,") +
           " where the platform asks for your public key (RunPod: Settings > SSH Public Keys, "
           "or SSH_PUBLIC_KEY), or append to ~/.ssh/authorized_keys on the server:\n";
    out += std::string(k_paste_begin) + "\n";
    for (const auto& key : keys) {
        out += key.line() + "\n";
    }
    out += std::string(k_paste_end) + "\n";
    return out;
}

std::string check_report_json(const ParseResult& result) {
    std::string out = "{\n  \"usable\": " + std::to_string(result.keys.size()) + ",\n";
    out += "  \"keys\": [";
    for (std::size_t i = 0; i < result.keys.size(); ++i) {
        const auto& key = result.keys[i];
        const auto options = split_key_options(key.options);
        out += i == 0 ? "\n" : ",\n";
        out += "    {\"type\": " + util::json_string(key.type) +
               ", \"bits\": " + std::to_string(key.bits) +
               ", \"fingerprint\": " + util::json_string(key.fingerprint()) +
               ", \"comment\": " + util::json_string(key.comment) +
               ", \"options\": " + util::json_string(key.options) +
               ", \"option_list\": " + json_options(options) +
               ", \"forced_command\": " + json_optional(forced_command(options)) +
               ", \"line\": " + util::json_string(key.line()) +
               ", \"repairs\": " + json_array(key.repairs) +
               ", \"warnings\": " + json_array(key.warnings) + "}";
    }
    out += result.keys.empty() ? "],\n" : "\n  ],\n";
    out += "  \"refusals\": [";
    for (std::size_t i = 0; i < result.refusals.size(); ++i) {
        const auto& r = result.refusals[i];
        out += i == 0 ? "\n" : ",\n";
        out += "    {\"kind\": " + util::json_string(refusal_kind_name(r.kind)) +
               ", \"message\": " + util::json_string(r.message) +
               ", \"fix\": " + util::json_string(refusal_fix(r.kind)) + "}";
    }
    out += result.refusals.empty() ? "],\n" : "\n  ],\n";
    std::vector<std::string> lines;
    for (const auto& key : result.keys) {
        lines.push_back(key.line());
    }
    out += "  \"lines\": " + json_array(lines) + "\n}\n";
    return out;
}

}  // namespace sshboot::keys
