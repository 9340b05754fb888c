// The options in front of an authorized_keys line (command="...", from="...",
// no-pty, cert-authority, ...) taken apart, so that the startup log and
// `sshboot check-key` can say what each one does to a login. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sshboot::keys {

struct KeyOption {
    std::string name;                  // lower case, e.g. "command", "no-pty"
    std::optional<std::string> value;  // without its quotes, \" undone; nullopt for a flag
};

// Splits an options list as sshd reads it: name or name="value" (a comma or
// \" inside the quotes belongs to the value), separated by commas. Made for
// the lists parse_keys keeps (PublicKey::options, already checked); from
// other text it returns what it could split before the first bad character.
std::vector<KeyOption> split_key_options(std::string_view options);

// The value of the last command= option (sshd uses that one); nullopt when
// the key has no forced command.
std::optional<std::string> forced_command(const std::vector<KeyOption>& options);

// One option for a message: "forced command 'echo hi'", "from '10.0.0.0/8'",
// "no-pty". Values go through util::quoted_for_log (one line, no control
// characters, long values cut).
std::string option_label(const KeyOption& option);

// What the option does to a login with the key, as a short phrase.
std::string option_effect(const KeyOption& option);

// Every label, comma-separated: "forced command 'echo hi', no-pty".
std::string options_summary(const std::vector<KeyOption>& options);

// True when the key does not simply log in to a shell from anywhere: a forced
// command, a cert-authority line (the key itself cannot log in), restrict,
// or a limit on where from (from=) or until when (expiry-time=) it works.
bool options_change_login(const std::vector<KeyOption>& options);

}  // namespace sshboot::keys
