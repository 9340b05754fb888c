#!/usr/bin/env bats
# The locale of SSH sessions. Every ssh client sends its own (SendEnv LANG
# LC_*); a minimal image lacks most of them, and then bash, perl and python
# warn in every session. A session gets a UTF-8 locale the image has and no
# warning; a client locale the image has is kept. The root is the cluster
# tests' root, which also holds python3.

load test_helper
load cluster_helper

setup_file() { cluster_setup_file; }
setup() {
	e2e_setup
	# shellcheck disable=SC2034 # read by test_helper's root_prepare
	E2E_ROOT_TAR=$CLUSTER_ROOT_TAR
	# shellcheck disable=SC2034
	E2E_ROOT_BASE=$CLUSTER_ROOT_BASE
	PORT=$(free_port)
}
teardown() { e2e_teardown; }

# What every session below runs: the locale's character set, then perl and
# python3 (both warn on stderr when the locale cannot be set).
# shellcheck disable=SC2016 # expanded in the session
PROBE='locale charmap; echo "LANG=$LANG LC_ALL=$LC_ALL LC_CTYPE=$LC_CTYPE"; perl -e 1; python3 -c "import locale; print(locale.getpreferredencoding())"'

# ssh_sending NAME=value... -- ARG...: ssh (ARG... are its options and the
# command) as root with the client key, sending the given locale variables as
# a laptop's client does.
ssh_sending() {
	local env=(env -u LANG -u LANGUAGE -u LC_ALL -u LC_CTYPE -u LC_MESSAGES) send=()
	while (($#)) && [[ $1 != -- ]]; do
		env+=("$1")
		send+=(-o "SendEnv=${1%%=*}")
		shift
	done
	(($#)) && shift
	local opts=()
	while (($#)) && [[ $1 == -* ]]; do
		opts+=("$1")
		shift
	done
	"${env[@]}" ssh "${send[@]}" "${opts[@]}" -p "$PORT" root@127.0.0.1 "$@"
}

@test "a client locale the image lacks gives a UTF-8 session with no warning from bash, perl or python" {
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	root_nsexec -- test -x /usr/bin/python3 || fail "no python3 in the root"
	# A command (bash -c).
	run -0 --separate-stderr ssh_sending LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 -- "$PROBE"
	assert_line --index 0 UTF-8
	assert_line --index 1 "LANG=C.UTF-8 LC_ALL= LC_CTYPE="
	assert_line --index 2 --regexp "^(UTF-8|utf-8)$"
	[[ -z $stderr ]] || fail "the session warned: $stderr"
	# macOS's LC_CTYPE=UTF-8.
	run -0 --separate-stderr ssh_sending LANG=en_GB.UTF-8 LC_CTYPE=UTF-8 -- "$PROBE"
	assert_line --index 0 UTF-8
	[[ -z $stderr ]] || fail "the session warned: $stderr"
	# A login shell reading its commands from stdin (no command given).
	run -0 --separate-stderr ssh_sending LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 -- <<<"$PROBE"
	assert_line UTF-8
	[[ -z $stderr ]] || fail "the login shell warned: $stderr"
	# With a terminal, as an interactive login.
	run -0 ssh_sending LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 -- -tt "$PROBE"
	refute_output --partial "warning"
	refute_output --partial "cannot change locale"
	assert_output --partial "UTF-8"
}

@test "the image's own LANG naming a missing locale is replaced by C.UTF-8, with a log line" {
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" LANG=de_DE.UTF-8
	run -0 --separate-stderr ssh_sending -- "$PROBE"
	assert_line --index 0 UTF-8
	assert_line --index 1 "LANG=C.UTF-8 LC_ALL= LC_CTYPE="
	[[ -z $stderr ]] || fail "the session warned: $stderr"
	grep -q 'SSH sessions do not get LANG=de_DE.UTF-8: this image has no such locale' "$E2E_ERR" ||
		fail "no log line about LANG$(_e2e_dump)"
}

@test "a client locale the image has is kept" {
	root_prepare
	# A second locale in the image (its data is C.UTF-8's, under another name):
	# sshd then accepts the client's locale variables.
	cp -a "$E2E_ROOT/usr/lib/locale/C.utf8" "$E2E_ROOT/usr/lib/locale/nl_NL.utf8"
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run -0 --separate-stderr ssh_sending LANG=nl_NL.UTF-8 LC_ALL=nl_NL.UTF-8 -- "$PROBE"
	assert_line --index 0 UTF-8
	assert_line --index 1 "LANG=nl_NL.UTF-8 LC_ALL=nl_NL.UTF-8 LC_CTYPE="
	[[ -z $stderr ]] || fail "the session warned: $stderr"
}

@test "a client sending C.UTF-8 keeps it in an image with no other locale" {
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run -0 --separate-stderr ssh_sending LANG=C.UTF-8 -- "$PROBE"
	assert_line --index 0 UTF-8
	assert_line --index 1 "LANG=C.UTF-8 LC_ALL= LC_CTYPE="
	[[ -z $stderr ]] || fail "the session warned: $stderr"
}

@test "sftp and scp work as before" {
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	echo hello >"$BATS_TEST_TMPDIR/f"
	run -0 env LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 scp -o SendEnv=LANG -o SendEnv=LC_ALL \
		-P "$PORT" "$BATS_TEST_TMPDIR/f" root@127.0.0.1:/tmp/f
	run -0 env LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 sftp -o SendEnv=LANG -o SendEnv=LC_ALL \
		-P "$PORT" -b - root@127.0.0.1 <<<"get /tmp/f $BATS_TEST_TMPDIR/g"
	run -0 cat "$BATS_TEST_TMPDIR/g"
	assert_output hello
}
