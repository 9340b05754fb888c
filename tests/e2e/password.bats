#!/usr/bin/env bats
# Password login: SSH_PASSWORD / SSH_PASSWORD_FILE, new users, and
# `sshboot password` in a live container (sshd supervised by sshboot, sshd
# started by the image, no sshd at all).

load test_helper

setup_file() { e2e_setup_file; }
setup() { e2e_setup; }
teardown() { e2e_teardown; }

# A password with quotes, a dollar sign and spaces.
PW='it'"'"'s a "quoted" $HOME pass'

# ssh_password PASSWORD USER PORT [COMMAND...]: log in with a password only.
ssh_password() {
	local pw=$1 user=$2 port=$3
	shift 3
	SSHPASS=$pw sshpass -e /usr/bin/ssh -F none -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=5 \
		-o PubkeyAuthentication=no -o PreferredAuthentications=password \
		-o NumberOfPasswordPrompts=1 -o LogLevel=ERROR -p "$port" "$user@127.0.0.1" "$@"
}

# ssh_key USER PORT [COMMAND...]: log in with the file's client key only.
ssh_key() {
	local user=$1 port=$2
	shift 2
	# shellcheck disable=SC2046 # ssh_opts prints separate words on purpose
	/usr/bin/ssh -F none $(ssh_opts) -o PasswordAuthentication=no -p "$port" "$user@127.0.0.1" "$@"
}

# printed_password FILE: the generated password from a connect block.
printed_password() {
	sed -n 's/^ *password: \([^ ]*\) .*/\1/p' "$1"
}

# The environment `sshboot password` gets in a RunPod pod (docker exec).
runpod_env() {
	printf '%s\n' SSH_PORT="$1" RUNPOD_PUBLIC_IP=127.0.0.1 RUNPOD_TCP_PORT_22="$1"
}

# authorize_root_key: the client key in the root's /root/.ssh/authorized_keys.
authorize_root_key() {
	root_prepare
	install -d -m 0700 "$E2E_ROOT/root/.ssh"
	install -m 0600 "$CLIENT_PUB" "$E2E_ROOT/root/.ssh/authorized_keys"
}

# A PID 1 that is not sshboot and stops on SIGTERM, as an image's own
# start script would be; it runs $1 first, then marks /run/.ready.
idle_init() {
	# shellcheck disable=SC2016
	printf '%s' "$1"'touch /run/.ready; trap "exit 0" TERM; sleep infinity & wait $!'
}

# wait_for_idle_init: the container's mounts are in place and $1 of
# idle_init has run.
wait_for_idle_init() {
	local i
	for ((i = 0; i < 200; i++)); do
		root_nsexec -- /usr/bin/test -e /run/.ready 2>/dev/null && return 0
		sleep 0.05
	done
	fail "the container's init did not start$(_e2e_dump)"
}

@test "SSH_PASSWORD logs in, a wrong password does not, and the password is in no output or file" {
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" SSH_PASSWORD="$PW"
	run -0 ssh_password "$PW" root "$port" echo logged-in
	assert_output logged-in
	run ssh_password "$PW-wrong" root "$port" true
	assert_failure
	run -0 ssh_key root "$port" true
	grep -q 'password login is on' "$E2E_OUT"
	grep -q '^PasswordAuthentication yes' "$E2E_UPPER/etc/sshboot/sshd_config"
	grep -q '^PermitRootLogin yes' "$E2E_UPPER/etc/sshboot/sshd_config"
	grep -q '^PermitEmptyPasswords no' "$E2E_UPPER/etc/sshboot/sshd_config"
	grep -q '^root:\$y\$' "$E2E_UPPER/etc/shadow"
	# Neither sshd nor the sessions see the variable.
	run -0 ssh_key root "$port" env
	refute_output --partial "$PW"
	refute_output --partial SSH_PASSWORD
	assert_no_secret "$PW"
}

@test "SSH_PASSWORD_FILE sets the password from a file" {
	port=$(free_port)
	root_prepare
	printf '%s\n' "$PW" >"$E2E_ROOT/etc/ssh-password"
	start_runpod "$port" SSH_PASSWORD_FILE=/etc/ssh-password
	rm "$E2E_ROOT/etc/ssh-password"
	run -0 ssh_password "$PW" root "$port" echo ok
	assert_output ok
	run ssh_password "$PW " root "$port" true
	assert_failure
	assert_no_secret "$PW"
}

@test "/etc/shadow keeps its mode, owner and every other line" {
	port=$(free_port)
	start_runpod "$port" SSH_PASSWORD="$PW"
	before=$E2E_ROOT_BASE/etc/shadow after=$E2E_UPPER/etc/shadow
	[[ $(stat -c '%a %u %g' "$after") == "$(stat -c '%a %u %g' "$before")" ]]
	diff <(grep -v '^root:' "$before") <(grep -v '^root:' "$after")
	[[ $(wc -l <"$after") == "$(wc -l <"$before")" ]]
	# root's line: only the hash and the last-change day differ.
	[[ $(grep '^root:' "$after" | cut -d: -f4-) == "$(grep '^root:' "$before" | cut -d: -f4-)" ]]
	assert_no_secret "$PW"
}

@test "a new non-root SSH_USER is created and logs in by key and by password; root cannot by password" {
	port=$(free_port)
	start_runpod "$port" SSH_USER=bob SSH_SUDO=1 SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" SSH_PASSWORD="$PW"
	assert_equal "$(connect_command)" "ssh bob@127.0.0.1 -p $port"
	run -0 ssh_key bob "$port" 'id -un; echo $HOME; echo $SHELL; stat -c %U ~/.ssh/authorized_keys ~/.bashrc'
	assert_output "$(printf 'bob\n/home/bob\n/bin/bash\nbob\nbob')"
	run -0 ssh_password "$PW" bob "$port" id -un
	assert_output bob
	# Only bob has a password: root may not use one.
	grep -q '^PermitRootLogin prohibit-password' "$E2E_UPPER/etc/sshboot/sshd_config"
	run ssh_password "$PW" root "$port" true
	assert_failure
	# SSH_SUDO=1: sudo with bob's password.
	[[ $(stat -c %a "$E2E_UPPER/etc/sudoers.d/90-sshboot-bob") == 440 ]]
	result=$(printf '%s\n' "$PW" | ssh_password "$PW" bob "$port" 'sudo -S -p "" id -u')
	assert_equal "$result" 0
	grep -q '^bob:x:1000:1000::/home/bob:/bin/bash$' "$E2E_UPPER/etc/passwd"
	grep -q '^bob:x:1000:$' "$E2E_UPPER/etc/group"
	assert_no_secret "$PW"
}

@test "a new user without a password logs in by key (its account is not locked) and gets NOPASSWD sudo" {
	port=$(free_port)
	start_runpod "$port" SSH_USER=carol SSH_SUDO=1 SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	grep -q '^carol:\*:' "$E2E_UPPER/etc/shadow"
	grep -q '^PasswordAuthentication no' "$E2E_UPPER/etc/sshboot/sshd_config"
	run -0 ssh_key carol "$port" "sudo -n id -u 2>/dev/null"
	assert_output 0
}

@test "an invalid SSH_USER is refused" {
	port=$(free_port)
	sshboot_start SSH_PORT="$port" SSH_USER='Bad:User'
	sshboot_wait_exit
	assert_equal "$E2E_STATUS" 2
	grep -q 'SSH_USER: not a valid user name' "$E2E_ERR"
}

@test "sshboot password where sshboot supervises sshd: a generated password printed once logs in, keys still work" {
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run ssh_password whatever root "$port" true
	assert_failure
	mapfile -t env < <(runpod_env "$port")
	out=$BATS_TEST_TMPDIR/out.exec err=$BATS_TEST_TMPDIR/err.exec
	root_nsexec "${env[@]}" -- /usr/local/bin/sshboot password --generate >"$out" 2>"$err" || {
		cat "$err"
		false
	}
	pw=$(printed_password "$out")
	[[ ${#pw} -ge 20 ]]
	[[ $(grep -cF -- "$pw" "$out") == 1 ]]
	run grep -qF -- "$pw" "$err"
	assert_failure
	grep -qE "^ *ssh root@127.0.0.1 -p $port$" "$out"
	run -0 ssh_password "$pw" root "$port" echo in
	assert_output in
	run -0 ssh_key root "$port" echo key
	assert_output key
	# No file holds the password.
	run grep -rlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -- "$pw" "$E2E_UPPER"
	assert_failure
	sshboot_alive
	# `sshboot password` asked for password login: the next start keeps it on,
	# in sshboot's own config too.
	[[ -f $E2E_ROOT/etc/sshboot/sshd_config.d/00-sshboot-password.conf ]]
	sshboot_stop
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	grep -q '^PasswordAuthentication yes' "$E2E_ROOT/etc/sshboot/sshd_config"
	grep -q '^PermitRootLogin yes' "$E2E_ROOT/etc/sshboot/sshd_config"
	run -0 ssh_password "$pw" root "$port" echo again
	assert_output again
}

@test "sshboot password where the image started sshd with a drop-in directory: password and key logins work" {
	port=$(free_port)
	authorize_root_key
	echo "Port $port" >"$E2E_ROOT/etc/ssh/sshd_config.d/10-port.conf"
	# A drop-in sorted before 50- that turns password login off, as cloud images ship.
	echo "PasswordAuthentication no" >"$E2E_ROOT/etc/ssh/sshd_config.d/20-no-password.conf"
	install_sshboot
	root_start -- /bin/sh -c "$(idle_init 'service ssh start >/dev/null; ')"
	wait_for_port "$port"
	run -0 ssh_key root "$port" true
	run ssh_password "$PW" root "$port" true
	assert_failure
	mapfile -t env < <(runpod_env "$port")
	printf '%s\n' "$PW" | root_nsexec "${env[@]}" -- /usr/local/bin/sshboot password --stdin \
		>"$BATS_TEST_TMPDIR/out.exec" 2>"$BATS_TEST_TMPDIR/err.exec" || {
		cat "$BATS_TEST_TMPDIR/err.exec"
		false
	}
	grep -qE "^ *ssh root@127.0.0.1 -p $port$" "$BATS_TEST_TMPDIR/out.exec"
	[[ -f $E2E_UPPER/etc/ssh/sshd_config.d/00-sshboot-password.conf ]]
	run -0 ssh_password "$PW" root "$port" echo in
	assert_output in
	run -0 ssh_key root "$port" echo key
	assert_output key
	assert_no_secret "$PW"
}

@test "sshboot password where the image's sshd_config has no Include: edited with a backup, logins work" {
	port=$(free_port)
	authorize_root_key
	cfg=$E2E_ROOT/etc/ssh/sshd_config
	sed -i '/^Include/d' "$cfg"
	printf 'Port %s\nPasswordAuthentication no\n' "$port" >>"$cfg"
	cp "$cfg" "$BATS_TEST_TMPDIR/original"
	install_sshboot
	root_start -- /bin/sh -c "$(idle_init 'mkdir -p /run/sshd; /usr/sbin/sshd; ')"
	wait_for_port "$port"
	mapfile -t env < <(runpod_env "$port")
	printf '%s\n' "$PW" | root_nsexec "${env[@]}" -- /usr/local/bin/sshboot password --stdin \
		>"$BATS_TEST_TMPDIR/out.exec" 2>"$BATS_TEST_TMPDIR/err.exec" || {
		cat "$BATS_TEST_TMPDIR/err.exec"
		false
	}
	cmp "$BATS_TEST_TMPDIR/original" "$cfg.sshboot.bak"
	run -0 ssh_password "$PW" root "$port" echo in
	assert_output in
	run -0 ssh_key root "$port" echo key
	assert_output key
	assert_no_secret "$PW"
}

@test "sshboot password where no sshd runs: starts one in the background; password and key logins work" {
	port=$(free_port)
	authorize_root_key
	install_sshboot
	root_start -- /bin/sh -c "$(idle_init '')"
	wait_for_idle_init
	mapfile -t env < <(runpod_env "$port")
	out=$BATS_TEST_TMPDIR/out.exec
	root_nsexec "${env[@]}" -- /usr/local/bin/sshboot password \
		>"$out" 2>"$BATS_TEST_TMPDIR/err.exec" || {
		cat "$BATS_TEST_TMPDIR/err.exec"
		false
	}
	sb_port_in_use "$port"
	pw=$(printed_password "$out")
	[[ ${#pw} -ge 20 ]]
	run -0 ssh_password "$pw" root "$port" echo in
	assert_output in
	run -0 ssh_key root "$port" echo key
	assert_output key
	[[ -f $E2E_UPPER/var/lib/sshboot/ssh_host_ed25519_key ]]
	run grep -rlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -- "$pw" "$E2E_UPPER"
	assert_failure
}

@test "sshboot password --generate without an external endpoint prints the password once, and it logs in" {
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	out=$BATS_TEST_TMPDIR/out.exec err=$BATS_TEST_TMPDIR/err.exec
	# As in a `docker exec` shell that has no endpoint variables.
	root_nsexec SSH_PORT="$port" -- /usr/local/bin/sshboot password --generate >"$out" 2>"$err" || {
		cat "$err"
		false
	}
	grep -q 'RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing' "$out"
	pw=$(printed_password "$out")
	[[ ${#pw} -ge 20 ]] || fail "no generated password on stdout: $(cat "$out")"
	[[ $(grep -cF -- "$pw" "$out") == 1 ]]
	run grep -qF -- "$pw" "$err"
	assert_failure
	run -0 ssh_password "$pw" root "$port" echo in
	assert_output in
}

# effective_sshd_config: `sshd -T` of sshboot's config inside the running root.
effective_sshd_config() {
	root_nsexec -- /usr/sbin/sshd -T -f /etc/sshboot/sshd_config -C user=root,host=client,addr=203.0.113.9
}

@test "SSH_PASSWORD is stored as yescrypt where the image's libcrypt verifies it, and the log says so" {
	port=$(free_port)
	start_runpod "$port" SSH_PASSWORD="$PW"
	grep -qE '^root:\$y\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{43}:' "$E2E_UPPER/etc/shadow" ||
		fail "root's hash is not yescrypt: $(cut -d: -f1,2 "$E2E_UPPER/etc/shadow" | grep '^root:' | cut -c1-12)"
	grep -q 'password hash: yescrypt' "$E2E_ERR" || fail "the log does not name the hash method$(_e2e_dump)"
	grep -q 'libcrypt.so.1' "$E2E_ERR" || fail "the log does not say why$(_e2e_dump)"
	run -0 ssh_password "$PW" root "$port" echo in-by-yescrypt
	assert_output in-by-yescrypt
	assert_no_secret "$PW"
}

@test "with password login on, sshd limits tries and login time and keeps TCP forwarding" {
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" SSH_PASSWORD="$PW"
	cfg=$E2E_UPPER/etc/sshboot/sshd_config
	grep -qx 'MaxAuthTries 4' "$cfg"
	grep -qx 'LoginGraceTime 30' "$cfg"
	# OpenSSH 9.2 has no PerSourcePenalties (9.8 and later): not written.
	run grep -c PerSourcePenalties "$cfg"
	assert_output 0
	run -0 effective_sshd_config
	assert_line 'maxauthtries 4'
	assert_line 'logingracetime 30'
	assert_line 'allowtcpforwarding yes'
	assert_line 'passwordauthentication yes'
	# Forwarding still works with a password login: a direct-tcpip channel
	# (ssh -W, what -L and VS Code Remote use) reaches sshd's own banner.
	run -0 timeout 20 env SSHPASS="$PW" sshpass -e /usr/bin/ssh -F none -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o PubkeyAuthentication=no -o LogLevel=ERROR \
		-W 127.0.0.1:"$port" -p "$port" root@127.0.0.1 </dev/null
	assert_output --partial SSH-2.0-OpenSSH
	run -0 ssh_key root "$port" true
}

@test "without password login, sshd keeps its default limits" {
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run grep -cE '^(MaxAuthTries|LoginGraceTime|PerSourcePenalties)' "$E2E_UPPER/etc/sshboot/sshd_config"
	assert_output 0
}

@test "sshboot password on a running sshboot: yescrypt in shadow, limits in its drop-in, sshd applies them" {
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	mapfile -t env < <(runpod_env "$port")
	printf '%s\n' "$PW" | root_nsexec "${env[@]}" -- /usr/local/bin/sshboot password --stdin \
		>"$BATS_TEST_TMPDIR/out.exec" 2>"$BATS_TEST_TMPDIR/err.exec" || {
		cat "$BATS_TEST_TMPDIR/err.exec"
		false
	}
	grep -q '^root:\$y\$' "$E2E_UPPER/etc/shadow"
	grep -q 'password hash: yescrypt' "$BATS_TEST_TMPDIR/err.exec"
	dropin=$E2E_UPPER/etc/sshboot/sshd_config.d/00-sshboot-password.conf
	grep -qx 'MaxAuthTries 4' "$dropin"
	grep -qx 'LoginGraceTime 30' "$dropin"
	run -0 effective_sshd_config
	assert_line 'maxauthtries 4'
	assert_line 'allowtcpforwarding yes'
	run -0 ssh_password "$PW" root "$port" echo in
	assert_output in
	assert_no_secret "$PW"
}

@test "sshboot password --hash sha512 stores SHA-512 with a high round count, and it logs in" {
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	mapfile -t env < <(runpod_env "$port")
	printf '%s\n' "$PW" | root_nsexec "${env[@]}" -- /usr/local/bin/sshboot password --stdin --hash sha512 \
		>"$BATS_TEST_TMPDIR/out.exec" 2>"$BATS_TEST_TMPDIR/err.exec" || {
		cat "$BATS_TEST_TMPDIR/err.exec"
		false
	}
	grep -qE '^root:\$6\$rounds=[0-9]{6,}\$' "$E2E_UPPER/etc/shadow" ||
		fail "not SHA-512 with many rounds: $(grep '^root:' "$E2E_UPPER/etc/shadow" | cut -c1-24)"
	grep -q 'password hash: sha512' "$BATS_TEST_TMPDIR/err.exec"
	run -0 ssh_password "$PW" root "$port" echo in
	assert_output in
	assert_no_secret "$PW"
}
