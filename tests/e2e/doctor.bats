#!/usr/bin/env bats
# `sshboot doctor` inside a container: each broken state users really end up
# in, built on purpose in a Debian root, is named with its fix; a healthy
# container passes.

load test_helper

setup_file() { e2e_setup_file; }
setup() { e2e_setup; }
teardown() { e2e_teardown; }

# --- helpers ----------------------------------------------------------------

# in_container COMMAND [ARG...]: run COMMAND inside the running sshboot's
# container (its mount and PID namespaces, chrooted into the root, a clean
# environment), as `docker exec` would.
in_container() {
	local init
	init=$(_e2e_init_pid) || true
	[[ -n $init ]] || fail "no running sshboot to enter$(_e2e_dump)"
	nsenter -t "$init" -m -p -- /usr/sbin/chroot "$E2E_ROOT" \
		/usr/bin/env -i PATH="$E2E_CONTAINER_PATH" HOME=/root "$@" </dev/null
}

# doctor [ARG...]: `sshboot doctor` in the running container.
doctor() { in_container /usr/local/bin/sshboot doctor "$@"; }

# start_healthy: sshboot as RunPod runs it, with the file's client key, and
# wait until it accepts connections.
start_healthy() {
	PORT=$(free_port)
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
}

# start_restarted: start_healthy, then a restart of the container: sshd then
# reads the host key saved in the state directory (the first start serves a
# new key from its copy in /run/sshboot/hostkeys).
start_restarted() {
	start_healthy
	sshboot_stop
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
}

# The state dir holding the host keys (no /workspace in the root).
host_key() { printf '%s\n' "$E2E_ROOT/var/lib/sshboot/ssh_host_ed25519_key"; }

refute_logs_in() {
	run ssh_with_key "$CLIENT_KEY" "$PORT" echo logged-in
	assert_failure
	refute_output logged-in
}

# --- healthy ----------------------------------------------------------------

@test "a healthy container passes every check and doctor exits 0" {
	start_healthy
	run -0 doctor
	assert_output --partial "All checks passed."
	refute_output --partial "FAIL"
	assert_output --regexp "OK    sshd \(pid [0-9]+\) listens on port $PORT \(SSH_PORT\)"
	assert_output --partial "OK    1 usable key in /root/.ssh/authorized_keys"
	assert_output --partial "ssh root@127.0.0.1 -p $PORT (from RunPod)"
	assert_output --partial "OK    sshd -t -f /etc/sshboot/sshd_config passes"
}

@test "doctor --json parses and says ok" {
	start_healthy
	run -0 doctor --json
	/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] is True, d; assert all(c["status"] != "fail" for c in d["checks"])' <<<"$output" ||
		fail "bad JSON: $output"
}

# --- broken on purpose ------------------------------------------------------

@test "home directory 0777 is named with chmod 755, and sshd indeed refuses the key" {
	start_healthy
	chmod 0777 "$E2E_ROOT/root"
	run -1 doctor
	assert_output --partial "FAIL  home directory /root is mode 0777 (group/world-writable): sshd ignores root's keys. Fix: chmod 755 /root"
	refute_logs_in
}

@test "authorized_keys 0666 is named with chmod 600" {
	start_healthy
	chmod 0666 "$E2E_ROOT/root/.ssh/authorized_keys"
	run -1 doctor
	assert_output --partial "FAIL  authorized_keys /root/.ssh/authorized_keys is mode 0666"
	assert_output --partial "Fix: chmod 600 /root/.ssh/authorized_keys"
}

@test "authorized_keys owned by another user is named with chown" {
	start_healthy
	chown 65534 "$E2E_ROOT/root/.ssh/authorized_keys"
	run -1 doctor
	assert_output --partial "FAIL  authorized_keys /root/.ssh/authorized_keys is owned by nobody (uid 65534), not root"
	assert_output --partial "Fix: chown root /root/.ssh/authorized_keys"
	refute_logs_in
}

@test "no host keys: named, and the config test fails" {
	start_restarted
	rm -f "$E2E_ROOT"/var/lib/sshboot/ssh_host_*
	run -1 doctor
	assert_output --partial "FAIL  host key /var/lib/sshboot/ssh_host_ed25519_key (HostKey in /etc/sshboot/sshd_config) does not exist"
	assert_output --partial "FAIL  sshd -t -f /etc/sshboot/sshd_config fails"
}

@test "a host key readable by others (0644) is named as exposed, with a restart as the fix" {
	start_restarted
	chmod 0644 "$(host_key)"
	run -1 doctor
	assert_output --partial "FAIL  host key /var/lib/sshboot/ssh_host_ed25519_key is mode 0644: sshd refuses a private key that others can read, and whoever read it can impersonate this server. Fix: restart the container (sshboot sets an exposed key aside and makes a new one"
	assert_output --partial "chmod 600 /var/lib/sshboot/ssh_host_ed25519_key"
}

@test "sshd stopped: doctor in a container where sshd does not run says so" {
	# The container's first start set things up; then run doctor as the only
	# process of a fresh container on the same root (sshboot would restart a
	# stopped sshd while it runs).
	start_healthy
	sshboot_stop
	run -1 root_exec SSH_PORT="$PORT" -- /usr/local/bin/sshboot doctor
	assert_output --partial "FAIL  sshd is not running: nothing answers SSH connections. Fix: start it with sshboot"
	assert_output --partial "SKIP  sshd listening on port $PORT"
}

@test "/run/sshd missing is named with the mkdir that fixes it" {
	start_healthy
	in_container /bin/rm -rf /run/sshd
	run -1 doctor
	assert_output --partial "FAIL  the privilege-separation directory /run/sshd is missing"
	assert_output --partial "Fix: mkdir -p /run/sshd && chown root:root /run/sshd && chmod 755 /run/sshd"
}

@test "a locked account ('!') without PAM is named with its fix, and sshd indeed refuses" {
	install_sshboot
	rm -f "$E2E_ROOT/etc/pam.d/sshd" # an image without PAM for sshd: sshboot writes UsePAM no
	sed -i 's/^root:[^:]*:/root:!:/' "$E2E_ROOT/etc/shadow"
	start_healthy
	run -1 doctor
	assert_output --partial "FAIL  root's account is locked (its password field in /etc/shadow starts with '!') and UsePAM is no"
	assert_output --partial "Fix: usermod -p '*' root"
	refute_logs_in
}

@test "a locked account with PAM passes (key logins still work)" {
	install_sshboot
	sed -i 's/^root:[^:]*:/root:!:/' "$E2E_ROOT/etc/shadow"
	start_healthy
	run -0 doctor
	assert_output --partial "but UsePAM is yes: key logins still work"
	run -0 ssh_with_key "$CLIENT_KEY" "$PORT" echo logged-in
}

@test "a login shell that does not exist is named with usermod -s" {
	start_healthy
	sed -i 's#^\(root:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:\).*#\1/bin/zsh#' "$E2E_ROOT/etc/passwd"
	run -1 doctor
	assert_output --partial "FAIL  root's login shell /bin/zsh does not exist: sshd refuses every login of root. Fix: usermod -s /bin/bash root"
	refute_logs_in
}

@test "no key and no password: nobody can log in, and doctor says what to set" {
	PORT=$(free_port)
	start_runpod "$PORT"
	run -1 doctor
	assert_output --partial "FAIL  no usable key in /root/.ssh/authorized_keys"
	assert_output --partial "SSH_PUBLIC_KEY"
}

@test "a missing external endpoint is named" {
	PORT=$(free_port)
	sshboot_start SSH_PORT="$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	wait_for_port "$PORT"
	run -1 doctor
	assert_output --partial "FAIL  RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing"
}

@test "sshd listening elsewhere than SSH_PORT is named" {
	start_healthy
	run -1 in_container /usr/bin/env SSH_PORT=1 /usr/local/bin/sshboot doctor
	assert_output --partial "FAIL  sshd listens on port $PORT, not on port 1 (SSH_PORT)"
}

@test "doctor names the password hash method the image verifies (yescrypt on Debian 12)" {
	start_healthy
	run -0 doctor
	assert_output --partial 'OK    passwords are hashed with yescrypt ($y$)'
	assert_output --partial "libcrypt.so.1"
	run -0 doctor --json
	/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); c=[c for c in d["checks"] if c["id"] == "password-hash"]; assert c and "yescrypt" in c[0]["message"], c' <<<"$output" ||
		fail "no password-hash check in: $output"
}
