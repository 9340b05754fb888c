#!/usr/bin/env bats
# `sshboot check-key`: run on the user's own machine (no container), with real
# keys from ssh-keygen; every refusal, the exit codes, and --json.

load test_helper

setup_file() {
	e2e_setup_file
	KEYS=$BATS_FILE_TMPDIR/keys
	mkdir -p "$KEYS"
	ssh-keygen -q -t ed25519 -N '' -C alice@laptop -f "$KEYS/ed25519" </dev/null
	ssh-keygen -q -t rsa -b 3072 -N '' -C rsa@laptop -f "$KEYS/rsa" </dev/null
	ssh-keygen -q -t ecdsa -N '' -C '' -f "$KEYS/ecdsa" </dev/null
	ssh-keygen -q -t dsa -N '' -C old@box -f "$KEYS/dsa" </dev/null 2>/dev/null || true
	export KEYS
}
setup() {
	e2e_setup
	[[ -x $E2E_SSHBOOT ]] || fail "no sshboot binary at $E2E_SSHBOOT"
}
teardown() { e2e_teardown; }

check_key() { "$E2E_SSHBOOT" check-key "$@"; }

# The lines between the paste markers of the last output.
pasted_lines() {
	sed -n '/^----- paste the lines below -----$/,/^----- paste the lines above -----$/p' <<<"$output" |
		sed '1d;$d'
}

# The JSON of the last output must parse; prints FIELD expression's value.
json_field() {
	/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$output"
}

@test "an ed25519 .pub file is usable: fingerprint as ssh-keygen -l prints it, the line to paste" {
	run -0 check_key "$KEYS/ed25519.pub"
	assert_output --partial "Key 1 of 1: usable"
	assert_output --partial "$(ssh-keygen -l -f "$KEYS/ed25519.pub")"
	assert_output --partial "type ssh-ed25519, 256 bits, comment alice@laptop"
	[[ $(pasted_lines) == "$(cat "$KEYS/ed25519.pub")" ]] || fail "pasted block: $(pasted_lines)"
}

@test "RSA and ECDSA keys show the bits and fingerprints ssh-keygen shows" {
	run -0 check_key "$KEYS/rsa.pub"
	assert_output --partial "$(ssh-keygen -l -f "$KEYS/rsa.pub")"
	assert_output --partial "3072 bits"
	run -0 check_key "$KEYS/ecdsa.pub"
	assert_output --partial "$(ssh-keygen -l -f "$KEYS/ecdsa.pub")"
	assert_output --partial "no comment"
}

@test "reads standard input for - and when input is piped" {
	run -0 bash -c '"$0" check-key - <"$1"' "$E2E_SSHBOOT" "$KEYS/ed25519.pub"
	assert_output --partial "$(cat "$KEYS/ed25519.pub")"
	run -0 bash -c 'cat "$1" | "$0" check-key' "$E2E_SSHBOOT" "$KEYS/ed25519.pub"
	assert_output --partial "$(cat "$KEYS/ed25519.pub")"
}

@test "with no FILE and a terminal on stdin it says what to give and exits 2" {
	run -2 script -qec "$E2E_SSHBOOT check-key" /dev/null
	assert_output --partial "sshboot check-key ~/.ssh/id_ed25519.pub"
}

@test "a missing file is named, exit 1" {
	run -1 check_key "$BATS_TEST_TMPDIR/nope.pub"
	assert_output --partial "nope.pub"
	assert_output --partial "No such file"
}

@test "repairs are listed and the repaired line is printed to paste" {
	local pub body
	pub=$(cat "$KEYS/ed25519.pub")
	body=${pub#ssh-ed25519 }
	printf '"%s"\r\n' "$body" >"$BATS_TEST_TMPDIR/pasted"
	run -0 check_key "$BATS_TEST_TMPDIR/pasted"
	assert_output --partial "repaired: removed Windows line endings (CRLF)"
	assert_output --partial "repaired: removed surrounding quotes"
	assert_output --partial "repaired: added the missing ssh-ed25519 prefix"
	[[ $(pasted_lines) == "$pub" ]] || fail "pasted block: $(pasted_lines)"
}

@test "two keys run together are split, one line each" {
	printf '%s %s\n' "$(cat "$KEYS/ed25519.pub")" "$(cat "$KEYS/rsa.pub")" >"$BATS_TEST_TMPDIR/two"
	run -0 check_key "$BATS_TEST_TMPDIR/two"
	assert_output --partial "split keys that were run together on one line"
	assert_output --partial "2 usable keys"
	[[ $(pasted_lines) == "$(cat "$KEYS/ed25519.pub" "$KEYS/rsa.pub")" ]] || fail "pasted block: $(pasted_lines)"
}

@test "a fingerprint is refused with what to paste instead, exit 1" {
	ssh-keygen -l -f "$KEYS/ed25519.pub" >"$BATS_TEST_TMPDIR/fp"
	run -1 check_key "$BATS_TEST_TMPDIR/fp"
	assert_output --partial "fingerprint"
	assert_output --partial "Fix: a fingerprint only names a key"
	refute_output --partial "paste the lines below"
}

@test "a private key is refused and none of its text is echoed, exit 1" {
	run -1 check_key "$KEYS/ed25519"
	assert_output --partial "private key"
	assert_output --partial "NOT used or stored"
	local line
	while IFS= read -r line; do
		[[ $line == -----* ]] && continue
		refute_output --partial "$line"
	done <"$KEYS/ed25519"
	run -1 check_key --json "$KEYS/ed25519"
	while IFS= read -r line; do
		[[ $line == -----* ]] && continue
		refute_output --partial "$line"
	done <"$KEYS/ed25519"
}

@test "a file that holds no key (a shadow file, a credentials file) is described line by line, never echoed, exit 1" {
	local f=$BATS_TEST_TMPDIR/not-keys
	printf '%s\n' 'root:$y$j9T$Chk3ySalt$Chk3yHashAbcdefghijklmnopqrstuvwxyz012:19700:0:99999:7:::' \
		'aws_secret_access_key = Chk3yAwsSecretValue' 'just Chk3y words' >"$f"
	for args in "$f" "--json $f"; do
		# shellcheck disable=SC2086 # args holds separate words on purpose
		run -1 check_key $args
		refute_output --partial Chk3y
		refute_output --partial 'root:'
		assert_output --partial 'line 1 (79 bytes) looks like a passwd/shadow line'
		assert_output --partial 'line 2'
		assert_output --partial 'line 3'
	done
}

@test "a DSA key is refused with the fix, exit 1" {
	[[ -s $KEYS/dsa.pub ]] || skip "this ssh-keygen cannot make DSA keys"
	run -1 check_key "$KEYS/dsa.pub"
	assert_output --partial "ssh-dss"
	assert_output --partial "Fix: make a new key: ssh-keygen -t ed25519"
}

@test "an RSA key under 1024 bits is refused, exit 1" {
	# ssh-keygen will not make one: a 768-bit modulus assembled by hand.
	printf '%s\n' "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAYQDDVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVQE= rsa768@test" >"$BATS_TEST_TMPDIR/short"
	run -1 check_key "$BATS_TEST_TMPDIR/short"
	assert_output --partial "768"
	assert_output --partial "Fix: make a new key: ssh-keygen -t ed25519"
}

@test "a PuTTY .ppk private file is refused, its private part never echoed, exit 1" {
	cat >"$BATS_TEST_TMPDIR/key.ppk" <<-EOF
		PuTTY-User-Key-File-3: ssh-ed25519
		Encryption: none
		Comment: ed25519-key-20240101
		Public-Lines: 2
		$(cut -d' ' -f2 "$KEYS/ed25519.pub" | fold -w 64)
		Private-Lines: 1
		AAAAIHVlcnlTZWNyZXRQcml2YXRlUGFydE9mVGhlUHV0dHlLZXk=
		Private-MAC: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	EOF
	run -1 check_key "$BATS_TEST_TMPDIR/key.ppk"
	assert_output --partial "PuTTY private key"
	assert_output --partial "puttygen key.ppk -O public-openssh"
	refute_output --partial "AAAAIHVlcnlTZWNyZXRQcml2YXRlUGFydE9mVGhlUHV0dHlLZXk"
}

@test "a usable key beside a refused one still exits 0 and only the usable one is printed" {
	cat "$KEYS/ed25519" "$KEYS/rsa.pub" >"$BATS_TEST_TMPDIR/mixed"
	run -0 check_key "$BATS_TEST_TMPDIR/mixed"
	assert_output --partial "1 usable key (1 refused, left out)"
	[[ $(pasted_lines) == "$(cat "$KEYS/rsa.pub")" ]] || fail "pasted block: $(pasted_lines)"
}

@test "--json parses and carries keys, refusals and lines" {
	cat "$KEYS/ed25519.pub" >"$BATS_TEST_TMPDIR/j"
	ssh-keygen -l -f "$KEYS/rsa.pub" >>"$BATS_TEST_TMPDIR/j"
	run -0 check_key --json "$BATS_TEST_TMPDIR/j"
	/usr/bin/python3 -m json.tool <<<"$output" >/dev/null || fail "not JSON: $output"
	[[ $(json_field 'd["usable"]') == 1 ]]
	[[ $(json_field 'd["keys"][0]["fingerprint"]') == "$(ssh-keygen -l -f "$KEYS/ed25519.pub" | cut -d' ' -f2)" ]]
	[[ $(json_field 'd["keys"][0]["bits"]') == 256 ]]
	[[ $(json_field 'd["refusals"][0]["kind"]') == fingerprint ]]
	[[ $(json_field 'd["lines"][0]') == "$(cat "$KEYS/ed25519.pub")" ]]
}

@test "--json with nothing usable parses too and exits 1" {
	printf 'null\n' >"$BATS_TEST_TMPDIR/null"
	run -1 check_key --json - <"$BATS_TEST_TMPDIR/null"
	/usr/bin/python3 -m json.tool <<<"$output" >/dev/null || fail "not JSON: $output"
	[[ $(json_field 'd["usable"]') == 0 ]]
	[[ $(json_field 'd["refusals"][0]["kind"]') == null ]]
}

@test "comments with quotes and backslashes stay valid JSON" {
	printf '%s say "hi" \\ there\n' "$(cut -d' ' -f1,2 "$KEYS/ed25519.pub")" >"$BATS_TEST_TMPDIR/q"
	run -0 check_key --json "$BATS_TEST_TMPDIR/q"
	[[ $(json_field 'd["keys"][0]["comment"]') == 'say "hi" \ there' ]] || fail "$output"
}

@test "an unknown option is a usage error, exit 2" {
	run -2 check_key --bogus
	assert_output --partial "bogus"
}

@test "a key with options shows each option and the forced command it runs" {
	printf 'command="echo forced",no-pty,from="10.0.0.0/8" %s\n' "$(cat "$KEYS/ed25519.pub")" >"$BATS_TEST_TMPDIR/opts"
	run -0 check_key "$BATS_TEST_TMPDIR/opts"
	assert_output --partial "forced command 'echo forced'"
	assert_output --partial "from '10.0.0.0/8'"
	assert_output --partial "no-pty"
	assert_output --partial "every login with this key runs"
	# The line to paste keeps the options as given.
	[[ $(pasted_lines) == "$(cat "$BATS_TEST_TMPDIR/opts")" ]] || fail "pasted block: $(pasted_lines)"
	run -0 check_key --json "$BATS_TEST_TMPDIR/opts"
	[[ $(json_field 'd["keys"][0]["forced_command"]') == 'echo forced' ]] || fail "$output"
	[[ $(json_field 'd["keys"][0]["option_list"][1]["name"]') == no-pty ]] || fail "$output"
}

@test "a cert-authority line is shown as a CA, not a login key" {
	printf 'cert-authority,principals="alice" %s\n' "$(cat "$KEYS/ed25519.pub")" >"$BATS_TEST_TMPDIR/ca"
	run -0 check_key "$BATS_TEST_TMPDIR/ca"
	assert_output --partial "cert-authority"
	assert_output --partial "certificate"
	assert_output --partial "principals 'alice'"
}
