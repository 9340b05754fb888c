// The report of `sshboot check-key`: what was found in pasted key text, what
// was repaired or refused and why, and the normalized lines to paste.
#pragma once

#include <string>
#include <string_view>

#include "keys/parse.hpp"

namespace sshboot::keys {

// The key type in capitals as `ssh-keygen -l` shows it in parentheses
// ("ED25519", "RSA", "ECDSA", "ED25519-SK", "ECDSA-SK"); the type itself
// when unknown.
std::string keygen_type_label(std::string_view type);

// The line `ssh-keygen -l -f` prints for `key`:
// "256 SHA256:... comment (ED25519)", "no comment" when there is none.
std::string keygen_line(const PublicKey& key);

// A stable name for a refusal kind, as used in JSON ("private_key", ...).
std::string_view refusal_kind_name(RefusalKind kind);

// What to do about a refusal, as a short instruction with a command.
std::string_view refusal_fix(RefusalKind kind);

// 0 when at least one usable key was found, 1 otherwise.
int check_exit_code(const ParseResult& result);

// The human-readable report: per key its fingerprint, its options one by one
// with what each does (a forced command in full view), repairs and warnings.
// The normalized lines sit alone between two marker lines so they can be
// copied as they are.
std::string check_report_text(const ParseResult& result);

// The same as one JSON object:
// {"usable": N, "keys": [{type, bits, fingerprint, comment, options,
//  option_list: [{name, value, effect}], forced_command, line, repairs,
//  warnings}], "refusals": [{kind, message, fix}], "lines": [...]}.
// value and forced_command are null when absent.
std::string check_report_json(const ParseResult& result);

// The markers around the lines to paste.
inline constexpr std::string_view k_paste_begin = "----- paste the lines below -----";
inline constexpr std::string_view k_paste_end = "----- paste the lines above -----";

}  // namespace sshboot::keys
