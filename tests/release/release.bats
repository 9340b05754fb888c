#!/usr/bin/env bats
# scripts/release.sh for real: both architectures built twice in different
# directories (byte-identical), static and stripped, SHA256SUMS and its
# minisign signature, and the aarch64 binary run under qemu-user, up to a key
# login into an arm64 Debian root where it is PID 1.
#
# Slow (two cross builds and emulation): run by the `release` tier of
# scripts/test.sh, not by the e2e tier. RELEASE_REPRO_ARCHES (default
# x86_64,aarch64) picks which architectures the second build repeats.

load ../e2e/test_helper
load release_helper

setup_file() {
	e2e_setup_file
	mkdir -p "$REL_CACHE"
	: >"$REL_FIGURES"
	local failed=$BATS_FILE_TMPDIR/release.failed
	if ((EUID != 0)); then
		echo "needs root (scripts/release.sh installs packages; the emulated root needs namespaces)" >"$failed"
		return 0
	fi
	# A signing key without a password, as CI would hold in a secret.
	minisign -G -W -p "$BATS_FILE_TMPDIR/minisign.pub" -s "$BATS_FILE_TMPDIR/minisign.key" \
		</dev/null >/dev/null 2>&1 || {
		echo "minisign -G failed (is minisign installed? bash scripts/install-deps.sh)" >"$failed"
		return 0
	}
	# One commit stamp for both builds, so that an edit while they run does
	# not make them differ.
	local commit
	commit=$(git -C "$E2E_REPO" rev-parse --short=12 HEAD)
	[[ -z $(git -C "$E2E_REPO" status --porcelain --untracked-files=no) ]] || commit+=-dirty
	echo "$commit" >"$BATS_FILE_TMPDIR/commit"
	export SSHBOOT_COMMIT=$commit
	SSHBOOT_MINISIGN_KEY=$BATS_FILE_TMPDIR/minisign.key rel_release dist-a 2>"$failed.log" || {
		cat "$failed.log" >"$failed"
		return 0
	}
	rel_release dist-b --arch "${RELEASE_REPRO_ARCHES:-x86_64,aarch64}" 2>"$failed.log" || {
		cat "$failed.log" >"$failed"
		return 0
	}
	local f
	for f in "$REL_CACHE"/dist-a/sshboot-linux-*; do
		rel_figure "$(basename "$f"): $(stat -c %s "$f") bytes"
	done
	rel_binfmt_problem >"$BATS_FILE_TMPDIR/binfmt.problem" || rm -f "$BATS_FILE_TMPDIR/binfmt.problem"
	if [[ ! -e $BATS_FILE_TMPDIR/binfmt.problem ]] && ! _e2e_missing_requirement >/dev/null; then
		local t0=$SECONDS
		if [[ ! -s $E2E_CACHE/root-arm64.tar ]]; then
			sb_debian_root_tar "$E2E_CACHE/root-arm64.tar" "$SSHBOOT_ROOT_PACKAGES" arm64 ||
				echo "mmdebstrap --arch=arm64 failed" >"$BATS_FILE_TMPDIR/arm64-root.failed"
			rel_figure "arm64 Debian root (mmdebstrap under emulation, cached afterwards): $((SECONDS - t0))s"
		fi
	fi
}

setup() {
	e2e_setup
	if [[ -e $BATS_FILE_TMPDIR/release.failed ]]; then
		e2e_fail_or_skip "$(cat "$BATS_FILE_TMPDIR/release.failed")"
	fi
	DIST=$REL_CACHE/dist-a
	DIST_B=$REL_CACHE/dist-b
}

teardown() { e2e_teardown; }

# require_emulation: aarch64 binaries run here (binfmt_misc + qemu-user).
require_emulation() {
	if [[ -e $BATS_FILE_TMPDIR/binfmt.problem ]]; then
		e2e_fail_or_skip "cannot run aarch64 binaries: $(cat "$BATS_FILE_TMPDIR/binfmt.problem")"
	fi
}

@test "release.sh puts both binaries, install.sh, SHA256SUMS, its signature and the public key in dist/" {
	run -0 ls "$DIST"
	assert_output "$(printf '%s\n' SHA256SUMS SHA256SUMS.minisig install.sh sshboot-linux-aarch64 sshboot-linux-x86_64 sshboot.pub)"
	assert_equal "$(sed -n 2p "$DIST/sshboot.pub")" "$(sed -n 2p "$BATS_FILE_TMPDIR/minisign.pub")"
	# install.sh is the template with the release's public key and version
	# filled in.
	run -0 grep -x "sshboot_release_pubkey=$(sed -n 2p "$BATS_FILE_TMPDIR/minisign.pub")" "$DIST/install.sh"
	run -0 grep -x "sshboot_release_version=$(rel_version)" "$DIST/install.sh"
	run -0 diff <(sed -e 's/^sshboot_release_pubkey=.*/sshboot_release_pubkey=/' \
		-e 's/^sshboot_release_version=.*/sshboot_release_version=/' "$DIST/install.sh") \
		"$E2E_REPO/templates/install.sh"
	[[ -x $DIST/sshboot-linux-x86_64 && -x $DIST/sshboot-linux-aarch64 && -x $DIST/install.sh ]]
}

@test "both binaries are static, stripped executables for their architecture" {
	local arch machine
	for arch in x86_64 aarch64; do
		case $arch in
		x86_64) machine='X86-64' ;;
		aarch64) machine='AArch64' ;;
		esac
		run -0 readelf -hW "$DIST/sshboot-linux-$arch"
		assert_line --regexp "^ *Type: +EXEC "
		assert_line --regexp "^ *Machine: .*$machine\$"
		run -0 readelf -lW "$DIST/sshboot-linux-$arch"
		refute_output --partial INTERP
		refute_output --partial DYNAMIC
		run -0 readelf -SW "$DIST/sshboot-linux-$arch"
		refute_output --partial .symtab
		refute_output --partial .debug_
	done
}

@test "SHA256SUMS lists every file in sha256sum format and verifies with sha256sum -c" {
	run -0 cat "$DIST/SHA256SUMS"
	assert_equal "${#lines[@]}" 4
	assert_line --regexp '^[0-9a-f]{64}  sshboot\.pub$'
	assert_line --regexp '^[0-9a-f]{64}  install\.sh$'
	assert_line --regexp '^[0-9a-f]{64}  sshboot-linux-aarch64$'
	assert_line --regexp '^[0-9a-f]{64}  sshboot-linux-x86_64$'
	(cd "$DIST" && run -0 sha256sum -c --strict SHA256SUMS)
}

@test "the minisign signature of SHA256SUMS verifies with the public key and fails for a changed file" {
	run -0 minisign -V -p "$BATS_FILE_TMPDIR/minisign.pub" -m "$DIST/SHA256SUMS" -x "$DIST/SHA256SUMS.minisig"
	assert_output --partial "Signature and comment signature verified"
	assert_output --partial "sshboot $(rel_version) SHA256SUMS"
	# The trusted comment is exactly what install.sh reads the version from.
	run -0 minisign -V -Q -p "$BATS_FILE_TMPDIR/minisign.pub" -m "$DIST/SHA256SUMS" -x "$DIST/SHA256SUMS.minisig"
	assert_output "sshboot $(rel_version) SHA256SUMS"
	local changed=$BATS_TEST_TMPDIR/SHA256SUMS
	cp "$DIST/SHA256SUMS" "$changed"
	printf '%064d  sshboot-linux-x86_64\n' 0 >>"$changed"
	run minisign -V -p "$BATS_FILE_TMPDIR/minisign.pub" -m "$changed" -x "$DIST/SHA256SUMS.minisig"
	assert_failure
}

@test "two builds of one commit in different directories are byte-identical" {
	local arch n=0
	for arch in x86_64 aarch64; do
		if [[ -e $DIST_B/sshboot-linux-$arch ]]; then
			cmp "$DIST/sshboot-linux-$arch" "$DIST_B/sshboot-linux-$arch"
			n=$((n + 1))
		fi
	done
	((n >= 1)) || fail "the second build made no binary"
	[[ $REL_CACHE/work-dist-a != "$REL_CACHE/work-dist-b" ]]
	# Unsigned, install.sh is the template with only the release's version
	# filled in (no public key).
	run -0 grep -x "sshboot_release_version=$(rel_version)" "$DIST_B/install.sh"
	run -0 diff <(sed -e 's/^sshboot_release_version=.*/sshboot_release_version=/' "$DIST_B/install.sh") \
		"$E2E_REPO/templates/install.sh"
}

@test "the x86_64 binary's --version names the release version, the commit and x86_64" {
	local commit
	commit=$(cat "$BATS_FILE_TMPDIR/commit")
	run -0 "$DIST/sshboot-linux-x86_64" --version
	assert_output --regexp "^sshboot $(rel_version) commit=$commit arch=x86_64 compiler=gcc-[0-9.]+ libc=glibc-[0-9.]+ link=static libsodium=[0-9.]+\$"
}

@test "the aarch64 binary runs under qemu-user: --version names aarch64" {
	require_emulation
	run -0 "$DIST/sshboot-linux-aarch64" --version
	assert_output --regexp "^sshboot $(rel_version) commit=[0-9a-f]+(-dirty)? arch=aarch64 .* link=static "
}

@test "check-key of the aarch64 binary under qemu-user accepts a real key and refuses a private key" {
	require_emulation
	run -0 "$DIST/sshboot-linux-aarch64" check-key "$CLIENT_PUB"
	assert_output --partial "Key 1 of 1: usable"
	assert_output --partial "$(ssh-keygen -l -f "$CLIENT_PUB")"
	run -1 "$DIST/sshboot-linux-aarch64" check-key "$CLIENT_KEY"
	refute_output --partial "$(sed -n 2p "$CLIENT_KEY")"
}

@test "sshboot-linux-aarch64 as PID 1 of an arm64 Debian root under emulation lets the host's ssh log in with a key" {
	require_emulation
	[[ ! -e $BATS_FILE_TMPDIR/arm64-root.failed ]] || fail "$(cat "$BATS_FILE_TMPDIR/arm64-root.failed")"
	E2E_ROOT_TAR=$E2E_CACHE/root-arm64.tar
	E2E_ROOT_BASE=$E2E_CACHE/rootfs-arm64
	E2E_SSHBOOT=$DIST/sshboot-linux-aarch64
	root_prepare
	run -0 readelf -hW "$E2E_ROOT/usr/sbin/sshd"
	assert_line --regexp '^ *Machine: +AArch64$'
	local port t0 started connected
	port=$(free_port)
	t0=$(date +%s%3N)
	sshboot_start SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 RUNPOD_TCP_PORT_22="$port" \
		SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" -- sleep infinity
	wait_for_connect_block 180
	started=$(date +%s%3N)
	assert_equal "$(connect_command)" "ssh root@127.0.0.1 -p $port"
	# The printed command, verbatim.
	local cmd
	read -ra cmd <<<"$(connect_command)"
	run -0 "${cmd[@]}" 'uname -m; cat /proc/1/cmdline | tr "\0" " "'
	connected=$(date +%s%3N)
	assert_line aarch64
	assert_line --partial sshboot
	rel_figure "emulated aarch64: start to connect command $((started - t0)) ms, then the first key login $((connected - started)) ms"
	sshboot_stop
	[[ $E2E_STATUS == 0 || $E2E_STATUS == 143 ]] || fail "exit status $E2E_STATUS after SIGTERM$(_e2e_dump)"
}
