#!/usr/bin/env bats
# Faults and bad input: a kill in the middle of a rewrite, a read-only root,
# a full disk, no sshd, a taken port, values that would inject sshd config
# lines, and a planted ~/.ssh symlink. Each ends with one clear message and an
# exit code (a planted ~/.ssh costs only that user's keys: COMMAND still runs),
# and what was already there intact.

load test_helper

setup_file() {
	e2e_setup_file
	OLD_KEY=$(new_client_key old_key)
	export OLD_KEY
}
setup() {
	e2e_setup
	LISTENER=
}
teardown() {
	[[ -z $LISTENER ]] || kill "$LISTENER" 2>/dev/null || true
	e2e_teardown
}

# A password with quotes, a dollar sign and spaces.
PW='fault "test" $pass word'

# old_state: authorized_keys with the user's own lines around a managed block
# that holds OLD_KEY, and root's shadow line with a known hash; copies of both
# in $BATS_TEST_TMPDIR/old.*.
old_state() {
	root_prepare
	install -d -m 0700 "$E2E_ROOT/root/.ssh"
	{
		echo '# my own key, kept byte for byte'
		cat "$OLD_KEY.pub"
		echo '# >>> sshboot managed keys: replaced on every start, edit outside this block >>>'
		cat "$OLD_KEY.pub"
		echo '# <<< sshboot managed keys <<<'
		printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl trailing\r\n'
	} >"$E2E_ROOT/root/.ssh/authorized_keys"
	chmod 0600 "$E2E_ROOT/root/.ssh/authorized_keys"
	# An old hash (of "old-password"), as an earlier start left it.
	sed -i 's|^root:[^:]*:|root:$6$oldsalt$Qm9Qd0ljV1m2l0BKZxBhpJ8x0iSLjbrdBBL9Iab2Yg1pSvXcn8yuSuxF6PqjvC7p4ds1aXkZJvxM8JmvRxO.W0:|' \
		"$E2E_ROOT/etc/shadow"
	cp -p "$E2E_ROOT/root/.ssh/authorized_keys" "$BATS_TEST_TMPDIR/old.authorized_keys"
	cp -p "$E2E_ROOT/etc/shadow" "$BATS_TEST_TMPDIR/old.shadow"
}

# restore_old_state: put the old files back (after a run that changed them).
restore_old_state() {
	cp -p "$BATS_TEST_TMPDIR/old.authorized_keys" "$E2E_ROOT/root/.ssh/authorized_keys"
	cp -p "$BATS_TEST_TMPDIR/old.shadow" "$E2E_ROOT/etc/shadow"
}

# assert_old_files_intact: both files are exactly what old_state wrote.
assert_old_files_intact() {
	cmp "$BATS_TEST_TMPDIR/old.authorized_keys" "$E2E_ROOT/root/.ssh/authorized_keys" ||
		fail "authorized_keys changed$(_e2e_dump)"
	cmp "$BATS_TEST_TMPDIR/old.shadow" "$E2E_ROOT/etc/shadow" || fail "/etc/shadow changed$(_e2e_dump)"
}

# assert_old_or_new WHAT: authorized_keys is byte for byte the old file or the
# new one ($BATS_TEST_TMPDIR/new.authorized_keys); /etc/shadow is the old file
# or the old file with only root's hash and change day replaced by a whole
# crypt hash (yescrypt on Debian 12, else SHA-512-crypt). WHAT names the
# injection point in the message.
assert_old_or_new() {
	local what=$1 ak=$E2E_ROOT/root/.ssh/authorized_keys shadow=$E2E_ROOT/etc/shadow
	local seen=$BATS_TEST_TMPDIR/seen
	if cmp -s "$ak" "$BATS_TEST_TMPDIR/old.authorized_keys"; then
		echo authorized_keys:old >>"$seen"
	elif cmp -s "$ak" "$BATS_TEST_TMPDIR/new.authorized_keys"; then
		echo authorized_keys:new >>"$seen"
	else
		fail "after $what, authorized_keys is neither the old nor the new file: $(cat -A "$ak")"
	fi
	[[ $(stat -c '%a %u' "$ak") == "600 0" ]] || fail "after $what, authorized_keys is $(stat -c '%a %u' "$ak")"
	if cmp -s "$shadow" "$BATS_TEST_TMPDIR/old.shadow"; then
		echo shadow:old >>"$seen"
	else
		echo shadow:new >>"$seen"
		diff <(grep -v '^root:' "$BATS_TEST_TMPDIR/old.shadow") <(grep -v '^root:' "$shadow") ||
			fail "after $what, other lines of /etc/shadow changed"
		grep -qE '^root:(\$6\$(rounds=[0-9]+\$)?[^:$]+\$[./A-Za-z0-9]{86}|\$y\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{43}):[0-9]+:' "$shadow" ||
			fail "after $what, root's shadow line is not whole: $(grep '^root:' "$shadow")"
		[[ $(stat -c '%a %u %g' "$shadow") == "$(stat -c '%a %u %g' "$BATS_TEST_TMPDIR/old.shadow")" ]] ||
			fail "after $what, /etc/shadow's mode or owner changed"
	fi
	# No temporary file is left where sshd or the next start could trip on it.
	run find "$E2E_ROOT/root/.ssh" "$E2E_ROOT/etc" -maxdepth 1 -name '*.tmp*' -newer "$BATS_TEST_TMPDIR/old.shadow"
	[[ -z $output ]] || echo "# after $what, left behind: $output" >&3
}

# start_env PORT: the environment of a start that rewrites both files.
start_env() {
	printf '%s\n' SSH_PORT="$1" RUNPOD_PUBLIC_IP=127.0.0.1 RUNPOD_TCP_PORT_22="$1" \
		SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" SSH_PASSWORD="$PW"
}

# run_killed_at SYSCALL N PORT: start sshboot under strace, which kills it
# with SIGKILL when it enters its Nth SYSCALL; wait until it is gone or
# ready. Sets KILLED=1 when the kill came before the connect block.
run_killed_at() {
	local syscall=$1 n=$2 port=$3 env=()
	mapfile -t env < <(start_env "$port")
	# Only sshboot itself is traced (no -f): a kill lands in no sshd.
	E2E_WRAP=(strace -qq -o /dev/null -e trace="$syscall" -e inject="$syscall":signal=KILL:when="$n")
	sshboot_start "${env[@]}"
	E2E_WRAP=()
	local i
	KILLED=0
	for ((i = 0; i < 200; i++)); do
		if ! sshboot_alive; then
			KILLED=1
			break
		fi
		grep -qE -- "$E2E_CONNECT_RE" "$E2E_OUT" && break
		sleep 0.05
	done
	# strace is PID 1 and, as PID 1, ignores SIGTERM: stop sshboot, its child.
	local init
	init=$(_e2e_init_pid || true)
	[[ -z $init ]] || pkill -TERM -P "$init" 2>/dev/null || true
	sshboot_stop
}

# assert_host_key_whole WHAT: the state directory holds no host key or a whole
# one (a first start saves its key after sshd has started).
assert_host_key_whole() {
	local key=$E2E_ROOT/var/lib/sshboot/ssh_host_ed25519_key
	[[ -e $key ]] || return 0
	ssh-keygen -y -f "$key" >/dev/null 2>&1 ||
		fail "$1: a partial host key was left ($(stat -c %s "$key") bytes)"
}

@test "SIGKILL at any write, fsync or rename of authorized_keys, /etc/shadow or a new host key leaves each old or new, never partial" {
	command -v strace >/dev/null || e2e_fail_or_skip "needs strace (bash scripts/install-deps.sh installs it)"
	old_state
	install_sshboot
	local port syscall n points=0 env=()
	port=$(free_port)
	# The new files, from a start that is not interrupted.
	mapfile -t env < <(start_env "$port")
	start_runpod "$port" "${env[@]:3}"
	cp "$E2E_ROOT/root/.ssh/authorized_keys" "$BATS_TEST_TMPDIR/new.authorized_keys"
	sshboot_stop
	! cmp -s "$BATS_TEST_TMPDIR/new.authorized_keys" "$BATS_TEST_TMPDIR/old.authorized_keys"
	# Then a kill at each call in turn, until a start gets past them all.
	for syscall in write fsync renameat; do
		for ((n = 1; n <= 40; n++)); do
			restore_old_state
			rm -rf "$E2E_ROOT/var/lib/sshboot"
			run_killed_at "$syscall" "$n" "$port"
			assert_old_or_new "SIGKILL at $syscall #$n"
			assert_host_key_whole "SIGKILL at $syscall #$n"
			((KILLED)) || break
			points=$((points + 1))
		done
		((n > 1)) || fail "strace never stopped sshboot at $syscall"
		((n <= 40)) || fail "sshboot still made $syscall calls after 40 of them"
	done
	echo "# $points kill points checked: $(sort "$BATS_TEST_TMPDIR/seen" | uniq -c | xargs)" >&3
	# The kills fell before and after each rename: both states were seen.
	local state
	for state in authorized_keys:old authorized_keys:new shadow:old shadow:new; do
		grep -qx "$state" "$BATS_TEST_TMPDIR/seen" || fail "no kill point left $state"
	done
	assert_no_secret "$PW"
}

@test "a start fsyncs authorized_keys, /etc/shadow and a new host key but not the files it writes anew every start" {
	command -v strace >/dev/null || e2e_fail_or_skip "needs strace (bash scripts/install-deps.sh installs it)"
	old_state
	install_sshboot
	local port trace=$BATS_TEST_TMPDIR/trace init env=()
	port=$(free_port)
	mapfile -t env < <(start_env "$port")
	# -y: each fsync with the path of its file descriptor.
	E2E_WRAP=(strace -qq -y -o "$trace" -e trace=fsync,fdatasync)
	start_runpod "$port" "${env[@]:3}"
	E2E_WRAP=()
	# strace is PID 1 and, as PID 1, ignores SIGTERM: stop sshboot, its child.
	init=$(_e2e_init_pid || true)
	[[ -z $init ]] || pkill -TERM -P "$init" 2>/dev/null || true
	sshboot_stop
	grep -q 'authorized_keys' "$trace" || fail "authorized_keys was not synced: $(cat "$trace")"
	grep -q 'shadow' "$trace" || fail "/etc/shadow was not synced: $(cat "$trace")"
	# The first start's host key: saved in the state directory, while sshd
	# reads its copy in /run (written anew on a first start).
	grep -q '/var/lib/sshboot/\.ssh_host_ed25519_key\.' "$trace" ||
		fail "the new host key was not synced: $(cat "$trace")"
	run grep -E 'sshd_config|sshboot-env|/run/sshboot' "$trace"
	assert_failure
	assert_no_secret "$PW"
}

@test "a read-only root filesystem gives one clear message and exit 1, and changes nothing" {
	old_state
	install_sshboot
	mount -o remount,ro "$E2E_ROOT"
	local port
	port=$(free_port)
	sshboot_start SSH_PORT="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	sshboot_wait_exit
	assert_equal "$E2E_STATUS" 1
	run cat "$E2E_ERR"
	assert_output --partial "Read-only file system"
	assert_equal "$(grep -c 'sshboot: error:' "$E2E_ERR")" 1
	mount -o remount,rw "$E2E_ROOT"
	assert_old_files_intact
}

@test "a full disk under the home gives one clear message and exit 1, and authorized_keys stays as it was" {
	old_state
	install_sshboot
	# A tiny filesystem for /root, holding the old files and then full.
	local home=$E2E_ROOT/root
	cp -a "$home" "$BATS_TEST_TMPDIR/home-copy"
	mount -t tmpfs -o size=64k,mode=0700 tmpfs "$home"
	cp -a "$BATS_TEST_TMPDIR/home-copy/." "$home/"
	dd if=/dev/zero of="$home/filler" bs=4k 2>/dev/null || true
	local port
	port=$(free_port)
	sshboot_start SSH_PORT="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	sshboot_wait_exit
	assert_equal "$E2E_STATUS" 1
	run cat "$E2E_ERR"
	assert_output --partial "/root/.ssh"
	assert_output --partial "No space left on device"
	cmp "$BATS_TEST_TMPDIR/old.authorized_keys" "$home/.ssh/authorized_keys"
	run ls -A "$home/.ssh"
	assert_output authorized_keys
	umount "$home"
}

@test "a full disk under the state directory costs the host key's persistence, not SSH" {
	old_state
	install_sshboot
	mkdir -p "$E2E_ROOT/var/lib/sshboot"
	# mode=0700: a directory only root can write, so sshboot does use it.
	mount -t tmpfs -o size=16k,mode=0700 tmpfs "$E2E_ROOT/var/lib/sshboot"
	dd if=/dev/zero of="$E2E_ROOT/var/lib/sshboot/filler" bs=4k 2>/dev/null || true
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run -0 ssh_root "$port" echo in
	assert_output in
	run cat "$E2E_ERR"
	assert_output --regexp "warning: the new host key could not be saved in /var/lib/sshboot: .*No space left on device.*next start makes another"
	# No half-written key, no temporary file.
	run ls -A "$E2E_ROOT/var/lib/sshboot"
	assert_output filler
	sshboot_stop
	umount "$E2E_ROOT/var/lib/sshboot"
}

@test "a missing sshd gives one clear message with the install command, exit 1, and changes nothing" {
	old_state
	install_sshboot
	rm "$E2E_ROOT/usr/sbin/sshd"
	sshboot_start SSH_PORT="$(free_port)" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	sshboot_wait_exit
	assert_equal "$E2E_STATUS" 1
	run cat "$E2E_ERR"
	assert_output --partial "sshd not found"
	assert_output --partial "apt-get install -y openssh-server"
	assert_old_files_intact
}

@test "a port already in use is named, exit 1" {
	local port
	port=$(free_port)
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(60)' "$port" </dev/null >/dev/null 2>&1 3>&- &
	LISTENER=$!
	wait_for_port "$port"
	sshboot_start SSH_PORT="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	sshboot_wait_exit
	assert_equal "$E2E_STATUS" 1
	run cat "$E2E_ERR"
	assert_output --partial "port $port is already in use"
}

# assert_refused NAME=VALUE TEXT: sshboot refuses the value before it writes
# anything: exit 2, a message naming the variable on one line, and no sshd
# config holding the value.
assert_refused() {
	local port
	port=$(free_port)
	sshboot_start SSH_PORT="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" "$1"
	sshboot_wait_exit
	assert_equal "$E2E_STATUS" 2
	run cat "$E2E_ERR"
	assert_output --partial "$2"
	assert_equal "$(wc -l <"$E2E_ERR")" 1
	[[ ! -e $E2E_ROOT/etc/sshboot/sshd_config ]] || fail "an sshd config was written"
	run grep -rl 'PermitEmptyPasswords yes' "$E2E_UPPER/etc"
	assert_failure
}

@test "SSH_USER, SSH_PORT and every value that reaches sshd's config refuse what would inject a line" {
	install_sshboot
	assert_refused SSH_USER=$'root\nPermitEmptyPasswords yes' "SSH_USER: not a valid user name"
	assert_refused SSH_USER='root PermitEmptyPasswords' "SSH_USER: not a valid user name"
	assert_refused SSH_PORT=$'22\nPermitEmptyPasswords yes' "SSH_PORT: '22\\nPermitEmptyPasswords yes' is not a port number"
	assert_refused SSH_PORT=70000 "SSH_PORT: '70000' is not a port number (1 to 65535)"
	assert_refused SSH_PORT=0 "SSH_PORT: '0' is not a port number"
	assert_refused SSH_PORT=-22 "SSH_PORT: '-22' is not a port number"
	assert_refused SSHBOOT_STATE_DIR=$'/var/lib/x\nPermitEmptyPasswords yes' "SSHBOOT_STATE_DIR: must be an absolute path"
	assert_refused SSHBOOT_STATE_DIR='/var/lib/a b' "SSHBOOT_STATE_DIR: must be an absolute path"
	assert_refused SSH_HOST_KEY_TYPES=$'ed25519\nPermitEmptyPasswords yes' "SSH_HOST_KEY_TYPES"
	assert_refused SSH_PUBLIC_HOST=$'1.2.3.4\nPermitEmptyPasswords yes' "contains spaces or control characters"
}

@test "a ~/.ssh symlink planted by the user is refused, its target is not touched, and COMMAND still runs" {
	root_prepare
	# alice's home is hers; she points ~/.ssh at root's.
	root_exec -- /usr/sbin/useradd -m -s /bin/bash alice >/dev/null
	install -d -m 0700 "$E2E_ROOT/root/.ssh"
	echo '# root only' >"$E2E_ROOT/root/.ssh/authorized_keys"
	chmod 0600 "$E2E_ROOT/root/.ssh/authorized_keys"
	cp -p "$E2E_ROOT/root/.ssh/authorized_keys" "$BATS_TEST_TMPDIR/root.ak"
	ln -s /root/.ssh "$E2E_ROOT/home/alice/.ssh"
	chown -h "$(stat -c %u "$E2E_ROOT/home/alice")" "$E2E_ROOT/home/alice/.ssh"
	sshboot_start SSH_PORT="$(free_port)" SSH_USER=alice SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" -- /bin/sh -c 'exit 5'
	sshboot_wait_exit
	# Only SSH keys are lost: sshd started and COMMAND ran with its exit code.
	assert_equal "$E2E_STATUS" 5
	run cat "$E2E_ERR"
	assert_output --partial "/home/alice/.ssh is a symlink"
	assert_output --partial "keys for alice were not installed"
	assert_output --regexp "sshd \(pid [0-9]+\) accepts connections"
	cmp "$BATS_TEST_TMPDIR/root.ak" "$E2E_ROOT/root/.ssh/authorized_keys"
	[[ $(stat -c '%a %u' "$E2E_ROOT/root/.ssh") == "700 0" ]]
}
