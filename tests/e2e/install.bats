#!/usr/bin/env bats
# The one-line installer (templates/install.sh), end to end: served from a
# loopback HTTP server, run in a Debian root that has curl but no OpenSSH.

load test_helper

INSTALL_SH=$E2E_REPO/templates/install.sh

setup_file() {
	e2e_setup_file
	if _e2e_missing_requirement >/dev/null || ! command -v python3 >/dev/null; then
		return 0
	fi
	# A root without openssh-server, with curl: its own cache, beside the
	# shared one.
	local tar=$E2E_CACHE/root-nossh.tar base=$E2E_CACHE/rootfs-nossh
	sb_debian_root_tar "$tar" curl,ca-certificates,procps,passwd
	(
		flock 9
		if [[ ! -e $base/.complete || $tar -nt $base/.complete ]]; then
			rm -rf "$base"
			mkdir -p "$base"
			tar -C "$base" --numeric-owner -xf "$tar"
			# As Docker's Debian images do: packages do not start services.
			printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
			chmod 0755 "$base/usr/sbin/policy-rc.d"
			touch "$base/.complete"
		fi
	) 9>"$E2E_CACHE/rootfs-nossh.lock"

	# The release: install.sh, the binary and SHA256SUMS; a copy whose
	# checksum is wrong; an empty one (every download fails).
	local www=$BATS_FILE_TMPDIR/www
	mkdir -p "$www/good" "$www/bad" "$www/empty"
	for dir in good bad; do
		cp "$INSTALL_SH" "$www/$dir/install.sh"
		cp "$E2E_SSHBOOT" "$www/$dir/sshboot-linux-x86_64"
	done
	(cd "$www/good" && sha256sum sshboot-linux-x86_64 >SHA256SUMS)
	printf '%064d  sshboot-linux-x86_64\n' 0 >"$www/bad/SHA256SUMS"
	cp "$INSTALL_SH" "$www/empty/install.sh"
	HTTP_PORT=$(sb_free_port)
	python3 -m http.server --bind 127.0.0.1 --directory "$www" "$HTTP_PORT" \
		>"$BATS_FILE_TMPDIR/http.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/http.pid"
	echo "$HTTP_PORT" >"$BATS_FILE_TMPDIR/http.port"
	local i
	for ((i = 0; i < 100; i++)); do
		sb_port_in_use "$HTTP_PORT" && return 0
		sleep 0.1
	done
	echo "the HTTP server did not start" >&2
	return 1
}

teardown_file() {
	if [[ -f $BATS_FILE_TMPDIR/http.pid ]]; then
		kill "$(cat "$BATS_FILE_TMPDIR/http.pid")" 2>/dev/null || true
	fi
}

setup() {
	e2e_setup
	command -v python3 >/dev/null || e2e_fail_or_skip "needs python3 for the HTTP server"
	# shellcheck disable=SC2034 # read by test_helper's root_prepare
	E2E_ROOT_TAR=$E2E_CACHE/root-nossh.tar
	# shellcheck disable=SC2034
	E2E_ROOT_BASE=$E2E_CACHE/rootfs-nossh
	BASE_URL=http://127.0.0.1:$(cat "$BATS_FILE_TMPDIR/http.port" 2>/dev/null)
}

teardown() { e2e_teardown; }

@test "install.sh is POSIX sh and shellcheck-clean" {
	command -v shellcheck >/dev/null || skip "needs shellcheck"
	run -0 shellcheck -s sh "$INSTALL_SH"
	run -0 head -n 1 "$INSTALL_SH"
	assert_output '#!/bin/sh'
}

@test "the password one-liner in a root without OpenSSH installs it, starts sshd and the printed password logs in" {
	port=$(free_port)
	# shellcheck disable=SC2016
	root_start SSHBOOT_BASE_URL="$BASE_URL/good" SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 \
		RUNPOD_TCP_PORT_22="$port" -- /bin/sh -c \
		'curl -fsSL "$SSHBOOT_BASE_URL/install.sh" | sh -s -- password
		trap "exit 0" TERM; sleep infinity & wait $!'
	wait_for_connect_block 300
	[[ -x $E2E_UPPER/usr/sbin/sshd ]]
	[[ -x $E2E_UPPER/usr/local/bin/sshboot ]]
	pw=$(sed -n 's/^ *password: \([^ ]*\) .*/\1/p' "$E2E_OUT")
	[[ ${#pw} -ge 20 ]]
	assert_equal "$(connect_command)" "ssh root@127.0.0.1 -p $port"
	run -0 env SSHPASS="$pw" sshpass -e /usr/bin/ssh -F none -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o PubkeyAuthentication=no \
		-o PreferredAuthentications=password -o LogLevel=ERROR -p "$port" root@127.0.0.1 echo in
	assert_output in
	run grep -rlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -- "$pw" "$E2E_UPPER"
	assert_failure
}

@test "install mode puts sshboot and sshd in the image and removes the host keys the package created" {
	root_prepare # here, not inside `run`: teardown needs $E2E_ROOT
	run -0 root_exec SSHBOOT_BASE_URL="$BASE_URL/good" -- /bin/sh -c \
		'curl -fsSL "$SSHBOOT_BASE_URL/install.sh" | sh -s -- install'
	[[ -x $E2E_UPPER/usr/local/bin/sshboot ]]
	[[ -x $E2E_UPPER/usr/sbin/sshd ]]
	cmp "$E2E_SSHBOOT" "$E2E_UPPER/usr/local/bin/sshboot"
	run compgen -G "$E2E_ROOT/etc/ssh/ssh_host_*"
	assert_failure
	run -0 root_exec -- /usr/local/bin/sshboot --version
	assert_output --partial sshboot
}

@test "a wrong checksum exits non-zero and leaves no sshboot behind" {
	root_prepare # here, not inside `run`: teardown needs $E2E_ROOT
	run root_exec SSHBOOT_BASE_URL="$BASE_URL/bad" -- /bin/sh -c \
		'curl -fsSL "$SSHBOOT_BASE_URL/install.sh" | sh -s -- install'
	assert_failure
	assert_output --partial 'checksum mismatch'
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	run compgen -G "$E2E_ROOT/usr/local/bin/.sshboot*"
	assert_failure
	run compgen -G "$E2E_ROOT/tmp/sshboot-install.*"
	assert_failure
	# Nothing else was installed either.
	[[ ! -e $E2E_ROOT/usr/sbin/sshd ]]
}

@test "a failed download exits non-zero and leaves no sshboot behind" {
	root_prepare # here, not inside `run`: teardown needs $E2E_ROOT
	run root_exec SSHBOOT_BASE_URL="$BASE_URL/empty" -- /bin/sh -c \
		'curl -fsSL "$SSHBOOT_BASE_URL/install.sh" | sh -s -- password --generate'
	assert_failure
	assert_output --partial 'nothing was installed'
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	run compgen -G "$E2E_ROOT/tmp/sshboot-install.*"
	assert_failure
}
