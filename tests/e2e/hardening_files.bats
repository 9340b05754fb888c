#!/usr/bin/env bats
# Files sshboot does not own the trust of: a state directory others can write,
# host keys planted or exposed there, and a user's ~/.ssh holding a FIFO, a
# directory or a symlink. None of them is followed, blocks start-up, or stops
# the user's COMMAND; each costs SSH at most and is named with its fix. A
# SIGTERM during start-up is acted on at once.

load test_helper

setup_file() { e2e_setup_file; }
setup() { e2e_setup; }
teardown() { e2e_teardown; }

# The SHA256 fingerprint of the ed25519 host key served on PORT.
served_fingerprint() {
	local scan
	scan=$(ssh-keyscan -t ed25519 -p "$1" 127.0.0.1 2>/dev/null) || fail "ssh-keyscan failed"
	ssh-keygen -l -f - <<<"$scan" | awk '{ print $2 }'
}

# mode_of PATH: "mode owner" of PATH in the root, not following a symlink.
mode_of() { stat -c '%a %u' "$E2E_ROOT$1"; }

# add_alice: a non-root user with a home, as images with their own accounts have.
add_alice() {
	root_exec -- /usr/sbin/useradd -m -s /bin/bash alice >/dev/null
	ALICE_UID=$(stat -c %u "$E2E_ROOT/home/alice")
}

# --- the state directory -----------------------------------------------------

@test "host key symlinks planted in a state directory others can write are not followed, and their targets keep their modes" {
	local port
	port=$(free_port)
	root_prepare
	add_alice
	# /workspace is 0777 (a shared volume); alice made .sshboot and planted
	# links to /etc/passwd and a setuid binary.
	install -d -m 0777 "$E2E_ROOT/workspace"
	install -d -m 0755 -o "$ALICE_UID" "$E2E_ROOT/workspace/.sshboot"
	ln -s /etc/passwd "$E2E_ROOT/workspace/.sshboot/ssh_host_ed25519_key"
	ln -s /usr/bin/su "$E2E_ROOT/workspace/.sshboot/ssh_host_ecdsa_key"
	chown -h "$ALICE_UID" "$E2E_ROOT"/workspace/.sshboot/ssh_host_*
	local passwd_mode su_mode
	passwd_mode=$(mode_of /etc/passwd)
	su_mode=$(mode_of /usr/bin/su)
	[[ $su_mode == 4755* ]] || fail "/usr/bin/su in the root is not setuid: $su_mode"

	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" SSH_HOST_KEY_TYPES=ed25519,ecdsa
	assert_equal "$(mode_of /etc/passwd)" "$passwd_mode"
	assert_equal "$(mode_of /usr/bin/su)" "$su_mode"
	[[ -L $E2E_ROOT/workspace/.sshboot/ssh_host_ed25519_key ]] || fail "the planted link was replaced"
	run -0 grep -E 'host key directory /workspace/.sshboot is not safe.*/var/lib/sshboot' "$E2E_ERR"
	[[ -f $E2E_ROOT/var/lib/sshboot/ssh_host_ed25519_key ]] || fail "no key in /var/lib/sshboot$(_e2e_dump)"
	run -0 ssh_root "$port" 'stat -c %a /etc/passwd; echo connected'
	assert_output $'644\nconnected'
}

@test "a state directory a non-root user owns is not used for private keys, and doctor says what to change" {
	local port
	port=$(free_port)
	root_prepare
	add_alice
	install -d -m 0755 "$E2E_ROOT/workspace"
	install -d -m 0700 -o "$ALICE_UID" "$E2E_ROOT/workspace/.sshboot"

	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run -0 grep -E "/workspace/.sshboot is owned by uid $ALICE_UID" "$E2E_ERR"
	run ls -A "$E2E_ROOT/workspace/.sshboot"
	assert_output ""
	run -0 ssh_root "$port" echo connected
	assert_output connected

	run -1 root_nsexec -- /usr/local/bin/sshboot doctor
	assert_output --partial "FAIL  host key directory /workspace/.sshboot is not safe for private keys: /workspace/.sshboot is owned by uid $ALICE_UID"
	assert_output --partial "Fix: chown root:root /workspace/.sshboot"
}

@test "a world-writable /workspace makes sshboot keep host keys in the container, with the chmod that fixes it" {
	local port
	port=$(free_port)
	root_prepare
	install -d -m 0777 "$E2E_ROOT/workspace"
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run -0 grep -F "chmod go-w /workspace" "$E2E_ERR"
	[[ ! -e $E2E_ROOT/workspace/.sshboot/ssh_host_ed25519_key ]] || fail "a private key was written to /workspace"
	[[ -f $E2E_ROOT/var/lib/sshboot/ssh_host_ed25519_key ]] || fail "no key in /var/lib/sshboot$(_e2e_dump)"
	run -0 ssh_root "$port" echo connected
}

@test "a symlink to the image's own /etc/ssh host key in the state directory is never served" {
	local port fp
	port=$(free_port)
	root_prepare
	[[ -s $E2E_ROOT_BASE.baked-host-keys ]] || fail "the image has no baked host keys to compare with"
	[[ -f $E2E_ROOT/etc/ssh/ssh_host_ed25519_key ]] || fail "the image has no /etc/ssh/ssh_host_ed25519_key"
	install -d -m 0700 "$E2E_ROOT/var/lib/sshboot"
	ln -s /etc/ssh/ssh_host_ed25519_key "$E2E_ROOT/var/lib/sshboot/ssh_host_ed25519_key"
	ln -s /etc/ssh/ssh_host_ed25519_key.pub "$E2E_ROOT/var/lib/sshboot/ssh_host_ed25519_key.pub"

	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	fp=$(served_fingerprint "$port")
	[[ -n $fp ]] || fail "no fingerprint served"
	run grep -F -- "$fp" "$E2E_ROOT_BASE.baked-host-keys"
	assert_failure
	run -0 grep -E 'ssh_host_ed25519_key is a symlink' "$E2E_ERR"
}

@test "a private host key others could read is set aside, a new one is served, and the connect block shows it" {
	local port old new
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	old=$(served_fingerprint "$port")
	sshboot_stop
	chmod 0644 "$E2E_ROOT/var/lib/sshboot/ssh_host_ed25519_key"
	cp -p "$E2E_ROOT/var/lib/sshboot/ssh_host_ed25519_key" "$BATS_TEST_TMPDIR/old_key"

	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	new=$(served_fingerprint "$port")
	[[ $new != "$old" ]] || fail "the exposed key $old is still served$(_e2e_dump)"
	run -0 grep -F -- "$new" "$E2E_OUT"
	run -0 grep -E 'ssh_host_ed25519_key is mode 0644.*exposed.*set aside as .*ssh_host_ed25519_key\.exposed-' "$E2E_ERR"
	local aside
	aside=$(find "$E2E_ROOT/var/lib/sshboot" -name 'ssh_host_ed25519_key.exposed-*' ! -name '*.pub')
	[[ -n $aside ]] || fail "the exposed key was not kept aside: $(ls -la "$E2E_ROOT/var/lib/sshboot")"
	cmp "$aside" "$BATS_TEST_TMPDIR/old_key"
	# Set aside no longer readable by others.
	run -0 stat -c '%a' "$aside"
	assert_output 600
	assert_equal "$(mode_of /var/lib/sshboot/ssh_host_ed25519_key)" "600 0"
}

# --- files in a user's ~/.ssh --------------------------------------------------

# keys_skipped_command_runs: sshboot with COMMAND `exit 7` starts sshd and
# COMMAND despite what the test planted in /root/.ssh, exits with COMMAND's 7,
# and names PATH with what to do.
keys_skipped_command_runs() {
	local path=$1 port
	port=$(free_port)
	sshboot_start SSH_PORT="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" -- /bin/sh -c 'echo command-ran; exit 7'
	sshboot_wait_exit 15
	assert_equal "$E2E_STATUS" 7
	run -0 grep -x command-ran "$E2E_OUT"
	run -0 grep -E "sshd \(pid [0-9]+\) accepts connections on port $port" "$E2E_ERR"
	run -0 grep -F "$path" "$E2E_ERR"
	assert_output --partial "keys for root were not installed"
	assert_output --partial "Fix:"
}

@test "a FIFO at ~/.ssh/authorized_keys neither hangs start-up nor stops COMMAND" {
	root_prepare
	install -d -m 0700 "$E2E_ROOT/root/.ssh"
	mkfifo -m 0600 "$E2E_ROOT/root/.ssh/authorized_keys"
	keys_skipped_command_runs /root/.ssh/authorized_keys
	[[ -p $E2E_ROOT/root/.ssh/authorized_keys ]] || fail "the FIFO was replaced"
}

@test "a directory at ~/.ssh/authorized_keys costs SSH keys, not COMMAND" {
	root_prepare
	install -d -m 0700 "$E2E_ROOT/root/.ssh/authorized_keys"
	keys_skipped_command_runs /root/.ssh/authorized_keys
}

@test "a symlink at ~/.ssh/authorized_keys is not followed and costs SSH keys, not COMMAND" {
	root_prepare
	install -d -m 0700 "$E2E_ROOT/root/.ssh"
	ln -s /etc/shadow "$E2E_ROOT/root/.ssh/authorized_keys"
	local before
	before=$(stat -c '%a %u %s' "$E2E_ROOT/etc/shadow")
	keys_skipped_command_runs /root/.ssh/authorized_keys
	assert_equal "$(stat -c '%a %u %s' "$E2E_ROOT/etc/shadow")" "$before"
}

@test "a ~/.ssh that is a FIFO costs SSH keys, not COMMAND" {
	root_prepare
	mkfifo -m 0600 "$E2E_ROOT/root/.ssh"
	keys_skipped_command_runs /root/.ssh
}

# --- signals during start-up ---------------------------------------------------

# sigterm_ends_within_a_second: SIGTERM to PID 1, then PID 1 must be gone
# within one second (polled in 50 ms steps, 1.5 s at most).
sigterm_ends_within_a_second() {
	local init start i ms
	init=$(_e2e_init_pid)
	[[ -n $init ]] || fail "no PID 1"
	start=$(date +%s%N)
	kill -TERM "$init"
	for ((i = 0; i < 30; i++)); do
		_e2e_alive "$E2E_PID" || break
		sleep 0.05
	done
	ms=$((($(date +%s%N) - start) / 1000000))
	_e2e_alive "$E2E_PID" && fail "still running ${ms} ms after SIGTERM during start-up$(_e2e_dump)"
	((ms <= 1000)) || fail "took ${ms} ms to act on SIGTERM"
	echo "# acted on SIGTERM during start-up within ${ms} ms" >&3
	sshboot_wait_exit 5
}

@test "SIGTERM while a /pre_start.sh hangs ends sshboot within a second" {
	root_prepare
	printf 'sleep 300\n' >"$E2E_ROOT/pre_start.sh"
	sshboot_start SSH_PORT="$(free_port)" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" -- /bin/sh -c 'echo command-ran'
	wait_for_output 'running /pre_start.sh' 10
	sigterm_ends_within_a_second
	assert_equal "$E2E_STATUS" 143
	run grep -x command-ran "$E2E_OUT"
	assert_failure
	run -0 grep -F 'SIGTERM during start-up' "$E2E_ERR"
}

@test "SIGTERM while a /post_start.sh hangs stops sshd and ends sshboot within a second" {
	local port
	port=$(free_port)
	root_prepare
	printf 'sleep 300\n' >"$E2E_ROOT/post_start.sh"
	sshboot_start SSH_PORT="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	wait_for_output 'running /post_start.sh' 20
	sb_port_in_use "$port" || fail "sshd does not listen on $port$(_e2e_dump)"
	sigterm_ends_within_a_second
	assert_equal "$E2E_STATUS" 0
	run sb_port_in_use "$port"
	assert_failure
}
