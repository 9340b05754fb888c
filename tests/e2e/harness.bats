#!/usr/bin/env bats
# The test harness itself, proven with OpenSSH's own sshd (no sshboot):
# a fresh root per test, PID 1 in new namespaces, host loopback networking.

load test_helper

setup_file() { e2e_setup_file; }
setup() { e2e_setup; }
teardown() { e2e_teardown; }

# Start plain sshd on PORT with the client key authorized for root.
start_plain_sshd() {
	local port=$1
	root_prepare
	install -d -m 0700 "$E2E_ROOT/root/.ssh"
	install -m 0600 "$CLIENT_PUB" "$E2E_ROOT/root/.ssh/authorized_keys"
	root_start -- /bin/sh -c 'mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -p "$1"' sh "$port"
	wait_for_port "$port"
}

@test "a command in the root runs as PID 1 with only the environment it is given" {
	root_prepare
	run --separate-stderr root_exec FOO=bar -- /bin/sh -c 'echo "pid=$$ foo=$FOO home=$HOME user=${USER-unset}"; hostname'
	assert_success
	assert_line --index 0 "pid=1 foo=bar home=/root user=unset"
	assert_line --index 1 "sshboot"
}

@test "the root has /dev, devpts, a tmpfs on /run and its own /proc" {
	root_prepare
	run --separate-stderr root_exec -- /bin/sh -c '
		for d in null zero random urandom tty ptmx; do test -e /dev/$d || echo "missing /dev/$d"; done
		echo x >/dev/null
		head -c 4 /dev/urandom | wc -c
		grep -c " /dev/pts devpts " /proc/mounts
		grep -c " /run tmpfs " /proc/mounts
		cat /proc/1/comm'
	assert_success
	assert_output $'4\n1\n1\nsh'
}

@test "each test gets a fresh root; writes do not reach the shared base" {
	root_prepare
	[[ ! -e $E2E_ROOT/e2e-marker ]]
	echo hello >"$E2E_ROOT/e2e-marker"
	[[ -e $E2E_UPPER/e2e-marker ]]
	[[ ! -e $E2E_ROOT_BASE/e2e-marker ]]
}

@test "plain sshd in the root accepts the client key; scp and sftp work" {
	local port
	port=$(free_port)
	start_plain_sshd "$port"
	run ssh_root "$port" 'echo logged-in-as-$(id -un)'
	assert_success
	assert_output logged-in-as-root

	echo "payload $RANDOM" >"$BATS_TEST_TMPDIR/up.txt"
	run scp -P "$port" "$BATS_TEST_TMPDIR/up.txt" root@127.0.0.1:/tmp/up.txt
	assert_success
	cmp "$BATS_TEST_TMPDIR/up.txt" "$E2E_ROOT/tmp/up.txt"
	run sftp -P "$port" -b - root@127.0.0.1 <<<"get /tmp/up.txt $BATS_TEST_TMPDIR/down.txt"
	assert_success
	cmp "$BATS_TEST_TMPDIR/up.txt" "$BATS_TEST_TMPDIR/down.txt"
}

@test "stopping PID 1 ends the namespace and frees the port" {
	local port
	port=$(free_port)
	start_plain_sshd "$port"
	sshboot_stop
	run sb_port_in_use "$port"
	assert_failure
	# It ended on SIGTERM, not on the SIGKILL fallback.
	[[ $E2E_STATUS -ne 137 ]] || fail "sshd needed SIGKILL"
}

@test "the client never reaches the host's own keys or config" {
	[[ -z ${SSH_AUTH_SOCK:-} ]]
	[[ $HOME == "$BATS_TEST_TMPDIR"/* ]]
	run command -v ssh
	assert_output "$BATS_FILE_TMPDIR/bin/ssh"
}
