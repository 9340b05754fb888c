#!/usr/bin/env bats
# The README's first command, `bash scripts/demo.sh`, end to end: it builds
# docker/Dockerfile with podman (only BASE_IMAGE and BUILDER_IMAGE given, as
# the Dockerfile's header documents), starts the container, prints how to
# connect, and `demo.sh stop` stops it. The test gives it its own HOME (so the
# demo generates a key there), port and container name.

load test_helper
load images_helper

setup() {
	e2e_setup
	local why
	if why=$(img_missing_requirement); then
		e2e_fail_or_skip "$why"
	fi
	DEMO_NAME=sshboot-demo-test-$$
	DEMO_PORT=$(free_port)
	# demo.sh's own podman settings, for the checks below.
	export CONTAINERS_CONF=$E2E_BUILD_DIR/demo/containers.conf
}

teardown() {
	if [[ -n ${DEMO_NAME:-} ]]; then
		# The container, or the unshare + chroot fall-back.
		demo stop >/dev/null 2>&1 || true
		podman rm -f -t 0 "$DEMO_NAME" >/dev/null 2>&1 || true
		podman volume rm -f "$DEMO_NAME-state" >/dev/null 2>&1 || true
		podman rmi "localhost/$DEMO_NAME:latest" >/dev/null 2>&1 || true
	fi
	e2e_teardown
}

# demo [ARGS]: scripts/demo.sh as the README runs it, from the repository,
# with this test's HOME, port and container name (bounded: the first build
# compiles sshboot inside the image).
demo() {
	(cd "$E2E_REPO" && env -u SUDO_USER SSHBOOT_BUILD_DIR="$E2E_BUILD_DIR" \
		SSHBOOT_DEMO_PORT="$DEMO_PORT" SSHBOOT_DEMO_NAME="$DEMO_NAME" \
		timeout 1800 bash scripts/demo.sh "$@") </dev/null 3>&-
}

@test "demo.sh builds docker/Dockerfile with podman, runs the container, prints a command that logs in with the key it made, and demo.sh stop stops it" {
	[[ ! -e $HOME/.ssh/id_ed25519 ]]
	run demo
	DEMO_OUTPUT=$output
	assert_success
	# podman, not the fallback, and nothing printed after the instructions.
	assert_output --partial "runner: podman"
	refute_output --partial "unshare + chroot"
	assert_equal "${lines[-1]}" "  stop:  bash scripts/demo.sh stop"
	[[ -s $HOME/.ssh/id_ed25519 && -s $HOME/.ssh/id_ed25519.pub ]]
	run -0 podman ps --filter "name=^$DEMO_NAME\$" --format '{{.Names}} {{.Image}}'
	assert_output "$DEMO_NAME localhost/$DEMO_NAME:latest"

	# The printed command, verbatim, with the demo's key (and no other).
	local line words
	line=$(demo_connect_line) || fail "no connect command in the demo's output"
	assert_equal "$line" "ssh root@127.0.0.1 -p $DEMO_PORT"
	read -ra words <<<"$line"
	run -0 /usr/bin/ssh -F none -i "$HOME/.ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$HOME/known_hosts" \
		-o ConnectTimeout=10 -o LogLevel=ERROR "${words[@]:1}" 'cat /proc/1/comm; id -un'
	assert_line sshboot
	assert_line root

	run demo stop
	assert_success
	assert_output --partial "stopped and removed container $DEMO_NAME"
	run -0 podman ps -a --filter "name=^$DEMO_NAME\$" --format '{{.Names}}'
	assert_output ""
	run sb_port_in_use "$DEMO_PORT"
	assert_failure
}

# demo_connect_line: the connect command in the demo's output ($DEMO_OUTPUT),
# leading spaces cut.
demo_connect_line() {
	local l
	l=$(grep -E -m 1 -- "$E2E_CONNECT_RE" <<<"$DEMO_OUTPUT") || return 1
	printf '%s\n' "${l#"${l%%[! ]*}"}"
}

@test "when podman does not work the demo still starts sshboot, and says so as the last thing it prints" {
	# A podman that fails, first on PATH.
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho "Error: this podman is broken on purpose" >&2\nexit 125\n' >"$BATS_TEST_TMPDIR/bin/podman"
	chmod 0755 "$BATS_TEST_TMPDIR/bin/podman"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run demo
	DEMO_OUTPUT=$output
	assert_success
	assert_output --partial "runner: chroot"
	assert_equal "${lines[-1]}" "==> WARNING: podman does not work here (Error: this podman is broken on purpose); sshboot runs with unshare + chroot instead, not in a container"
	local line words
	line=$(demo_connect_line) || fail "no connect command in the demo's output"
	read -ra words <<<"$line"
	run -0 /usr/bin/ssh -F none -i "$HOME/.ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$HOME/known_hosts" \
		-o ConnectTimeout=10 -o LogLevel=ERROR "${words[@]:1}" 'cat /proc/1/comm'
	assert_output sshboot
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run demo stop
	assert_success
	assert_output --partial "stopped the demo"
	run sb_port_in_use "$DEMO_PORT"
	assert_failure
}
