#!/usr/bin/env bats
# sshboot as a container entrypoint: the binary, the connect block, logging in,
# file transfer, host keys, the missing-endpoint message, password refusal.

load test_helper

setup_file() { e2e_setup_file; }
setup() { e2e_setup; }
teardown() { e2e_teardown; }

# The line of the connect block that starts with TEXT (leading spaces cut).
printed_line() {
	local line
	line=$(grep -E -m 1 -- "^ *$1" "$E2E_OUT") || fail "no line starting with '$1' on stdout$(_e2e_dump)"
	printf '%s\n' "${line#"${line%%[! ]*}"}"
}

# The SHA256 fingerprint of the ed25519 host key sshd serves on PORT.
scanned_fingerprint() {
	local scan
	scan=$(ssh-keyscan -T 5 -t ed25519 -p "$1" 127.0.0.1 2>/dev/null) || fail "ssh-keyscan failed on port $1"
	[[ -n $scan ]] || fail "ssh-keyscan saw no ed25519 key on port $1"
	ssh-keygen -l -f - <<<"$scan" | awk '{print $2}'
}

@test "the binary is static: it has no program interpreter" {
	[[ -x $E2E_SSHBOOT ]] || fail "no binary at $E2E_SSHBOOT"
	run readelf -l "$E2E_SSHBOOT"
	assert_success
	refute_output --partial 'program interpreter'
	run readelf -d "$E2E_SSHBOOT"
	refute_output --partial '(NEEDED)'
}

@test "sshboot --version prints the project version" {
	install_sshboot
	local version
	version=$(sed -nE 's/^project\(sshboot VERSION ([0-9.]+).*/\1/p' "$E2E_REPO/CMakeLists.txt")
	run --separate-stderr root_exec -- /usr/local/bin/sshboot --version
	assert_success
	assert_output --partial "$version"
}

@test "sshboot --help lists its options and exits 0" {
	install_sshboot
	run --separate-stderr root_exec -- /usr/local/bin/sshboot --help
	assert_success
	local option
	for option in --help --version --port --ssh-public-key --state-dir; do
		assert_output --partial -- "$option"
	done
}

@test "sshboot --help lists every subcommand" {
	install_sshboot
	run --separate-stderr root_exec -- /usr/local/bin/sshboot --help
	assert_success
	local line
	for line in 'sshboot \[run\]' 'sshboot password' 'sshboot check-key' 'sshboot doctor' \
		'sshboot cluster secret \| wait' 'sshboot --version \| --help'; do
		grep -qE -- "^ *(Usage: )?$line" <<<"$output" || fail "--help does not list /$line/: $output"
	done
}

@test "an unknown option is a usage error: exit 2 and a message naming it" {
	install_sshboot
	run -2 --separate-stderr root_exec -- /usr/local/bin/sshboot --no-such-option
	# shellcheck disable=SC2154 # set by run --separate-stderr
	[[ $stderr == *no-such-option* ]] || fail "stderr does not name the option: $stderr"
	[[ ! -e $E2E_UPPER/root/.ssh/authorized_keys ]] || fail "a usage error changed authorized_keys"
}

@test "the printed connect command, run verbatim, logs in" {
	local port cmd
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	cmd=$(connect_command)
	assert_equal "$cmd" "ssh root@127.0.0.1 -p $port"
	# No remote command: a login shell reading stdin, as a person gets (the
	# login may print a message of the day first).
	run eval "$cmd" <<<'echo "in as $(id -un) in $HOME"'
	assert_success
	assert_line "in as root in /root"
}

@test "sshboot is PID 1 of the container and sshd runs as its child" {
	local port init
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	init=$(_e2e_init_pid)
	assert_equal "$(ps -o comm= -p "$init")" sshboot
	run pgrep -P "$init" -x sshd
	assert_success
}

@test "scp and sftp move a file both ways" {
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	head -c 300000 /dev/urandom >"$BATS_TEST_TMPDIR/up.bin"

	run scp -P "$port" "$BATS_TEST_TMPDIR/up.bin" root@127.0.0.1:/tmp/scp.bin
	assert_success
	cmp "$BATS_TEST_TMPDIR/up.bin" "$E2E_ROOT/tmp/scp.bin"
	run scp -P "$port" root@127.0.0.1:/tmp/scp.bin "$BATS_TEST_TMPDIR/scp-back.bin"
	assert_success
	cmp "$BATS_TEST_TMPDIR/up.bin" "$BATS_TEST_TMPDIR/scp-back.bin"

	run sftp -P "$port" -b - root@127.0.0.1 <<-EOF
		put $BATS_TEST_TMPDIR/up.bin /tmp/sftp.bin
		get /tmp/sftp.bin $BATS_TEST_TMPDIR/sftp-back.bin
	EOF
	assert_success
	cmp "$BATS_TEST_TMPDIR/up.bin" "$E2E_ROOT/tmp/sftp.bin"
	cmp "$BATS_TEST_TMPDIR/up.bin" "$BATS_TEST_TMPDIR/sftp-back.bin"
}

@test "the printed host key fingerprint is the one ssh-keyscan sees" {
	local port fp
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	fp=$(scanned_fingerprint "$port")
	[[ $fp == SHA256:* ]] || fail "unexpected ssh-keygen output: $fp"
	# As ssh-keygen -l prints it: bits, fingerprint, (TYPE).
	run grep -E -- "^ *256 ${fp//+/\\+} .*\(ED25519\)" "$E2E_OUT"
	assert_success
}

@test "the printed known_hosts line passes StrictHostKeyChecking=yes" {
	local port line
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	line=$(printed_line "\\[127\\.0\\.0\\.1\\]:$port ssh-ed25519 AAAA")
	printf '%s\n' "$line" >"$BATS_TEST_TMPDIR/known_hosts"
	run ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$BATS_TEST_TMPDIR/known_hosts" \
		-p "$port" root@127.0.0.1 echo verified
	assert_success
	assert_output verified

	# And a wrong key in that file is refused, so the check above meant something.
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/other" </dev/null
	printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$BATS_TEST_TMPDIR/other.pub")" \
		>"$BATS_TEST_TMPDIR/known_hosts"
	run ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$BATS_TEST_TMPDIR/known_hosts" \
		-p "$port" root@127.0.0.1 true
	assert_failure
}

@test "the printed ~/.ssh/config block connects by its alias" {
	local port alias
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	alias=$(printed_line 'Host [^ ]+$' | awk '{print $2}')
	[[ -n $alias ]] || fail "no Host line$(_e2e_dump)"
	# The block: from its Host line to the first line that is not indented
	# deeper than it.
	awk -v alias="$alias" '
		$1 == "Host" && $2 == alias { on = 1; match($0, /^ */); indent = RLENGTH; print; next }
		on { match($0, /^ */); if (RLENGTH <= indent || NF == 0) exit; print }
	' "$E2E_OUT" >"$BATS_TEST_TMPDIR/config"
	cat "$E2E_SSH_CONFIG" >>"$BATS_TEST_TMPDIR/config"
	run /usr/bin/ssh -F "$BATS_TEST_TMPDIR/config" "$alias" echo via-alias
	assert_success
	assert_output via-alias
}

@test "the served host key is none of the keys baked into the image, and survives a restart" {
	local port fp
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	fp=$(scanned_fingerprint "$port")
	[[ -s $E2E_ROOT_BASE.baked-host-keys ]] || fail "the image has no baked host keys to compare with"
	run grep -F -- "$fp" "$E2E_ROOT_BASE.baked-host-keys"
	assert_failure

	sshboot_stop
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	assert_equal "$(scanned_fingerprint "$port")" "$fp"
}

# Try to log in as USER with PASSWORD by password only; must be refused with
# only publickey offered.
refute_password_login() {
	run sshpass -p "$3" /usr/bin/ssh -F none -o PreferredAuthentications=password,keyboard-interactive \
		-o PubkeyAuthentication=no -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o ConnectTimeout=5 -o NumberOfPasswordPrompts=1 -p "$1" "$2@127.0.0.1" echo logged-in
	assert_failure
	assert_output --partial "Permission denied (publickey)"
}

@test "password login is refused: sshd offers only public keys" {
	root_prepare
	# Another account of the image has a password; the login user has none.
	root_exec -- /bin/sh -c 'useradd -m -s /bin/bash alice && echo alice:e2e-Pw-1 | chpasswd' >/dev/null
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	refute_password_login "$port" alice e2e-Pw-1
	refute_password_login "$port" root e2e-Pw-1
}

@test "a root password already set in the image does not turn password login on" {
	root_prepare
	root_exec -- /bin/sh -c 'echo root:e2e-Pw-1 | chpasswd' >/dev/null
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	refute_password_login "$port" root e2e-Pw-1
}

@test "without an external endpoint it says RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing, and SSH still works" {
	local port
	port=$(free_port)
	sshboot_start SSH_PORT="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	wait_for_output 'RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing'
	wait_for_port "$port"
	run ssh_root "$port" echo still-works
	assert_success
	assert_output still-works
}

@test "SIGTERM stops sshboot and its sshd without needing SIGKILL" {
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	sshboot_stop 10
	[[ $E2E_STATUS -ne 137 ]] || fail "sshboot ignored SIGTERM$(_e2e_dump)"
	run sb_port_in_use "$port"
	assert_failure
}
