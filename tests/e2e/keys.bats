#!/usr/bin/env bats
# Public keys from the environment: what people really paste logs in, what
# cannot work is refused with a message, and authorized_keys stays the user's.

load test_helper

setup_file() {
	e2e_setup_file
	KEY_B=$(new_client_key key_b)
	export KEY_B
}
setup() { e2e_setup; }
teardown() { e2e_teardown; }

pub() { cat "$CLIENT_PUB"; }
pub_b() { cat "$KEY_B.pub"; }

# Start with SSH_PUBLIC_KEY=TEXT (and any further NAME=value) and wait.
start_with_key() {
	local text=$1
	shift
	PORT=$(free_port)
	start_runpod "$PORT" SSH_PUBLIC_KEY="$text" "$@"
}

assert_logs_in() {
	run ssh_with_key "${1:-$CLIENT_KEY}" "$PORT" echo logged-in
	assert_success
	assert_output logged-in
}

# assert_no_key_text KEYFILE KEYGEN_ARGS...: no line of the private key's body
# appears in sshboot's output or files. Lines every key made with the same
# ssh-keygen arguments shares (the format's fixed header) are left out: a host
# key sshboot writes has them too.
assert_no_key_text() {
	local key=$1 reference=$BATS_TEST_TMPDIR/reference line checked=0
	shift
	rm -f "$reference" "$reference.pub"
	ssh-keygen -q "$@" -N '' -f "$reference" </dev/null
	while IFS= read -r line; do
		[[ $line == -----* ]] && continue
		grep -qxF -- "$line" "$reference" && continue
		assert_no_secret "$line"
		checked=$((checked + 1))
	done <"$key"
	((checked > 0)) || fail "no distinctive line in $key"
}

refute_logs_in() {
	run ssh_with_key "$1" "$PORT" echo logged-in
	assert_failure
	assert_output --partial "Permission denied"
}

@test "a key pasted with CRLF line endings logs in" {
	start_with_key "$(pub)"$'\r\n'
	assert_logs_in
}

@test "a key wrapped in double quotes logs in" {
	start_with_key "\"$(pub)\""
	assert_logs_in
}

@test "a key wrapped in single quotes logs in" {
	start_with_key "'$(pub)'"
	assert_logs_in
}

@test "two keys run together on one line both log in" {
	start_with_key "$(pub) $(pub_b)"
	assert_logs_in "$CLIENT_KEY"
	assert_logs_in "$KEY_B"
}

@test "several keys on separate lines all log in" {
	start_with_key "$(pub)"$'\n\n'"$(pub_b)"$'\n'
	assert_logs_in "$CLIENT_KEY"
	assert_logs_in "$KEY_B"
}

@test "a key with its ssh-ed25519 prefix left off logs in" {
	start_with_key "$(cut -d' ' -f2- "$CLIENT_PUB")"
	assert_logs_in
}

@test "an RFC 4716 public key block logs in" {
	local block
	block=$(ssh-keygen -e -f "$CLIENT_PUB")
	[[ $block == "---- BEGIN SSH2 PUBLIC KEY ----"* ]] || fail "unexpected ssh-keygen -e output: $block"
	start_with_key "$block"
	assert_logs_in
}

@test "an RSA key and an ECDSA key log in" {
	local rsa=$BATS_TEST_TMPDIR/id_rsa ecdsa=$BATS_TEST_TMPDIR/id_ecdsa
	ssh-keygen -q -t rsa -b 3072 -N '' -f "$rsa" </dev/null
	ssh-keygen -q -t ecdsa -b 256 -N '' -f "$ecdsa" </dev/null
	start_with_key "$(cat "$rsa.pub")"$'\n'"$(cat "$ecdsa.pub")"
	assert_logs_in "$rsa"
	assert_logs_in "$ecdsa"
}

@test "PUBLIC_KEY alone logs in" {
	PORT=$(free_port)
	start_runpod "$PORT" PUBLIC_KEY="$(pub)"
	assert_logs_in
}

@test "SSH_PUBLIC_KEY replaces PUBLIC_KEY" {
	start_with_key "$(pub)" PUBLIC_KEY="$(pub_b)"
	assert_logs_in "$CLIENT_KEY"
	refute_logs_in "$KEY_B"
}

@test "SSH_PUBLIC_KEY_FILE is read from a file in the container" {
	root_prepare
	install -d "$E2E_ROOT/run-secrets"
	pub >"$E2E_ROOT/run-secrets/key"
	PORT=$(free_port)
	start_runpod "$PORT" SSH_PUBLIC_KEY_FILE=/run-secrets/key
	assert_logs_in
}

@test "SSH_PUBLIC_KEY_FILE pointing at /etc/shadow: each line is described by number and length, never echoed" {
	root_prepare
	local hash
	root_exec -- /bin/sh -c 'echo "root:e2e-Shadow-Pw-77" | /usr/sbin/chpasswd' >/dev/null ||
		fail "chpasswd failed"
	hash=$(awk -F: '$1 == "root" { print $2 }' "$E2E_ROOT/etc/shadow")
	[[ $hash == '$'* ]] || fail "no hash in the root's /etc/shadow"
	PORT=$(free_port)
	sshboot_start SSH_PORT="$PORT" RUNPOD_PUBLIC_IP=127.0.0.1 RUNPOD_TCP_PORT_22="$PORT" \
		SSH_PUBLIC_KEY_FILE=/etc/shadow
	wait_for_output 'looks like a passwd/shadow line'
	grep -qE 'line 1 \([0-9]+ bytes\) looks like a passwd/shadow line' "$E2E_ERR" ||
		fail "line 1 not described$(_e2e_dump)"
	! grep -qF -- "$hash" "$E2E_OUT" "$E2E_ERR" || fail "the root's hash reached the log"
	! grep -qE 'root:|daemon:|\$y\$|\$6\$' "$E2E_OUT" "$E2E_ERR" || fail "a shadow line reached the log$(_e2e_dump)"
}

@test "a pasted fingerprint is refused with a message, and the other key still logs in" {
	local fp
	fp=$(ssh-keygen -l -f "$KEY_B.pub" | awk '{print $2}')
	start_with_key "$fp"$'\n'"$(pub)"
	grep -qi 'fingerprint' "$E2E_ERR" || fail "no message about the fingerprint on stderr$(_e2e_dump)"
	assert_logs_in "$CLIENT_KEY"
}

@test "a pasted private key is refused with a message and its text appears nowhere" {
	local secret=$BATS_TEST_TMPDIR/pasted
	ssh-keygen -q -t ed25519 -N '' -C pasted -f "$secret" </dev/null
	start_with_key "$(cat "$secret")"$'\n'"$(pub)"
	grep -qi 'private key' "$E2E_ERR" || fail "no message about the private key on stderr$(_e2e_dump)"
	assert_logs_in "$CLIENT_KEY"
	assert_no_key_text "$secret" -t ed25519 -C pasted
	refute_logs_in "$secret"
}

@test "a PEM RSA private key is refused and its text appears nowhere" {
	local secret=$BATS_TEST_TMPDIR/pasted_pem
	ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f "$secret" </dev/null
	start_with_key "$(cat "$secret")"$'\n'"$(pub)"
	grep -qi 'private key' "$E2E_ERR" || fail "no message about the private key on stderr$(_e2e_dump)"
	assert_logs_in "$CLIENT_KEY"
	assert_no_key_text "$secret" -t rsa -b 2048 -m PEM
}

@test "a literal null is refused with a message" {
	start_with_key $'null\n'"$(pub)"
	grep -qiE '(^|[^a-z])null([^a-z]|$)' "$E2E_ERR" || fail "no message about null on stderr$(_e2e_dump)"
	assert_logs_in "$CLIENT_KEY"
}

@test "three restarts leave each key once and the user's own lines byte for byte" {
	root_prepare
	local ak=$E2E_ROOT/root/.ssh/authorized_keys user_lines=$BATS_TEST_TMPDIR/user_lines
	# The user's own lines: their key with options, a comment, trailing spaces.
	{
		printf '# my own keys, keep them\n'
		printf 'restrict,command="echo hi" %s\n' "$(pub_b)"
		printf '  \n'
	} >"$user_lines"
	install -d -m 0700 "$E2E_ROOT/root/.ssh"
	install -m 0600 "$user_lines" "$ak"

	local blob i
	blob=$(cut -d' ' -f2 "$CLIENT_PUB")
	for i in 1 2 3; do
		start_with_key "$(pub)"
		assert_logs_in "$CLIENT_KEY"
		sshboot_stop
		cp "$ak" "$BATS_TEST_TMPDIR/ak.$i"
		assert_equal "$(grep -cF -- "$blob" "$ak")" 1
		assert_equal "$(grep -cF -- "$(cut -d' ' -f2 "$KEY_B.pub")" "$ak")" 1
		# The user's lines are still there, byte for byte, before the block.
		assert_equal "$(head -c "$(stat -c %s "$user_lines")" "$ak" | od -c)" "$(od -c <"$user_lines")"
	done
	cmp "$BATS_TEST_TMPDIR/ak.1" "$BATS_TEST_TMPDIR/ak.3"
	run stat -c '%a %U' "$ak" "$E2E_ROOT/root/.ssh"
	assert_output $'600 root\n700 root'
	# The user's own key still works as they set it up (its forced command).
	PORT=$(free_port)
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(pub)"
	run ssh_with_key "$KEY_B" "$PORT" echo ignored
	assert_success
	assert_output hi
}

@test "a key removed from the environment no longer logs in after a restart" {
	start_with_key "$(pub)"$'\n'"$(pub_b)"
	assert_logs_in "$CLIENT_KEY"
	assert_logs_in "$KEY_B"
	sshboot_stop
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(pub)"
	assert_logs_in "$CLIENT_KEY"
	refute_logs_in "$KEY_B"
}

@test "a key with a forced command still logs in, runs the command, and the log names the command" {
	start_with_key "command=\"echo forced\" $(pub)"$'\n'"from=\"127.0.0.1\",no-pty $(pub_b)"
	run ssh_with_key "$CLIENT_KEY" "$PORT" echo asked-for
	assert_success
	assert_output forced
	assert_logs_in "$KEY_B"
	# One line per key with options, naming them; the forced command in full.
	run grep -F "$(ssh-keygen -l -f "$CLIENT_PUB" | cut -d' ' -f2)" "$E2E_ERR"
	assert_output --partial "forced command 'echo forced'"
	run grep -F "$(ssh-keygen -l -f "$KEY_B.pub" | cut -d' ' -f2)" "$E2E_ERR"
	assert_output --partial "from '127.0.0.1'"
	assert_output --partial "no-pty"
	assert_equal "$(grep -c 'authorized_keys options' "$E2E_ERR")" 2
}

@test "a key without options gets no options line in the log" {
	start_with_key "$(pub)"
	assert_logs_in
	run grep -c 'authorized_keys options' "$E2E_ERR"
	assert_output 0
}
