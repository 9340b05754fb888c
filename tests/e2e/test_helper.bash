# shellcheck shell=bash
# Shared helpers for the end-to-end tests.
#
# Every test gets a fresh, writable Debian root (an overlay over a cached
# mmdebstrap root) and runs sshboot in it as PID 1 of its own PID, mount, UTS
# and IPC namespaces, on the host's network, like a container with host
# networking. The real OpenSSH client on the host connects to 127.0.0.1.
#
# Use from a .bats file:
#   load test_helper
#   setup_file()    { e2e_setup_file; }
#   setup()         { e2e_setup; }
#   teardown()      { e2e_teardown; }
#
# Tests that need the namespace root skip with a reason when they cannot run
# here (not root, no unshare, ...); with CI=true they fail instead.

bats_require_minimum_version 1.5.0

load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

E2E_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
E2E_BUILD_DIR=${SSHBOOT_BUILD_DIR:-$E2E_REPO/build}
E2E_SSHBOOT=${SSHBOOT_BIN:-$E2E_BUILD_DIR/sshboot}
E2E_CACHE=$E2E_BUILD_DIR/e2e
E2E_ROOT_TAR=$E2E_CACHE/root.tar
E2E_ROOT_BASE=$E2E_CACHE/rootfs-base
# The PATH a container runtime gives a container's process.
E2E_CONTAINER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=scripts/lib/common.sh
SSHBOOT_REPO=$E2E_REPO SSHBOOT_BUILD_DIR=$E2E_BUILD_DIR source "$E2E_REPO/scripts/lib/common.sh"

# --- isolation --------------------------------------------------------------

# Nothing from the caller's environment that sshboot or ssh reads may leak in.
_e2e_isolate_env() {
	local var
	for var in $(compgen -e); do
		case $var in
		SSH* | PUBLIC_KEY* | PUBLIC_IPADDR | RUNPOD* | VAST*) unset "$var" ;; # SSH* covers SSHBOOT*
		esac
	done
	export PATH=$BATS_FILE_TMPDIR/bin:$E2E_CONTAINER_PATH
	export HOME=$BATS_TEST_TMPDIR/home
	mkdir -p "$HOME"
	export LC_ALL=C.UTF-8
}

# e2e_fail_or_skip REASON: skip this test, or fail it when CI=true.
e2e_fail_or_skip() {
	if [[ ${CI:-} == true ]]; then
		fail "cannot run here (CI=true makes this a failure): $1"
	fi
	skip "$1"
}

# _e2e_missing_requirement: print why the namespace root cannot be used here.
_e2e_missing_requirement() {
	if ((EUID != 0)); then
		echo "needs root (PID namespaces, chroot, mounts)"
		return 0
	fi
	local tool
	for tool in unshare chroot mount umount flock mmdebstrap tar ss pgrep ssh ssh-keygen ssh-keyscan scp sftp sshpass; do
		if ! command -v "$tool" >/dev/null; then
			echo "needs $tool (bash scripts/install-deps.sh installs it)"
			return 0
		fi
	done
	if ! unshare --pid --fork --mount true 2>/dev/null; then
		echo "unshare --pid --fork --mount does not work here"
		return 0
	fi
	return 1
}

# --- per file / per test setup ---------------------------------------------

# e2e_setup_file: client key pair, ssh client config and wrappers for the file;
# builds the cached Debian root when the namespace tests can run.
e2e_setup_file() {
	mkdir -p "$BATS_FILE_TMPDIR/bin"
	CLIENT_KEY=$BATS_FILE_TMPDIR/id_ed25519
	ssh-keygen -q -t ed25519 -N '' -C e2e-client -f "$CLIENT_KEY" </dev/null
	export CLIENT_KEY CLIENT_PUB=$CLIENT_KEY.pub

	# Options every client command uses. In a config file, so that a printed
	# command can be run verbatim; options given on a command line still win.
	E2E_SSH_CONFIG=$BATS_FILE_TMPDIR/ssh_config
	cat >"$E2E_SSH_CONFIG" <<-EOF
		Host *
		  BatchMode yes
		  StrictHostKeyChecking no
		  UserKnownHostsFile /dev/null
		  GlobalKnownHostsFile /dev/null
		  ConnectTimeout 5
		  IdentityFile $CLIENT_KEY
		  IdentitiesOnly yes
		  LogLevel ERROR
	EOF
	export E2E_SSH_CONFIG
	# ssh finds its config through the password database, not HOME: wrappers
	# first on PATH point ssh, scp and sftp at the file above.
	local tool
	for tool in ssh scp sftp; do
		printf '#!/bin/sh\nexec /usr/bin/%s -F %q "$@"\n' "$tool" "$E2E_SSH_CONFIG" \
			>"$BATS_FILE_TMPDIR/bin/$tool"
		chmod +x "$BATS_FILE_TMPDIR/bin/$tool"
	done

	if ! _e2e_missing_requirement >/dev/null; then
		e2e_prepare_base
	fi
}

# e2e_prepare_base: the cached root tarball and its extracted copy, shared by
# every test and test run. Baked host keys from the openssh-server package are
# kept in it, as in an image built from that package: sshboot must not serve
# them (their fingerprints are in $E2E_ROOT_BASE.baked-host-keys).
e2e_prepare_base() {
	sb_debian_root_dir "$E2E_ROOT_TAR" "$E2E_ROOT_BASE"
}

# e2e_setup: per-test isolation. The root itself is made on first use.
e2e_setup() {
	_e2e_isolate_env
	E2E_ROOT=
	E2E_UPPER=
	E2E_PID=
	E2E_RUN=0
	E2E_WRAP=()
	E2E_OUT=$BATS_TEST_TMPDIR/out
	E2E_ERR=$BATS_TEST_TMPDIR/err
	E2E_STATUS=
}

e2e_teardown() {
	sshboot_stop || true
	local secret leaked=0
	if [[ -s $BATS_TEST_TMPDIR/secrets ]]; then
		while IFS= read -r -d '' secret; do
			(assert_no_secret "$secret") || leaked=1
		done <"$BATS_TEST_TMPDIR/secrets"
	fi
	if [[ -n ${E2E_ROOT:-} ]] && mountpoint -q "$E2E_ROOT"; then
		# -R: with whatever a test mounted inside the root.
		umount -R "$E2E_ROOT" 2>/dev/null || umount -R -l "$E2E_ROOT"
	fi
	if [[ -n ${E2E_ROOT:-} ]]; then
		rm -rf "$BATS_TEST_TMPDIR/root" "$BATS_TEST_TMPDIR/upper" "$BATS_TEST_TMPDIR/work"
	fi
	((!leaked)) || fail "a secret this test set reached its output or a file (above)"
}

# --- the container root -----------------------------------------------------

# root_prepare: give this test a fresh writable root at $E2E_ROOT (an overlay
# whose changes land in $E2E_UPPER; a full copy when overlayfs is missing).
root_prepare() {
	[[ -n ${E2E_ROOT:-} ]] && return 0
	local why
	if why=$(_e2e_missing_requirement); then
		e2e_fail_or_skip "$why"
	fi
	e2e_prepare_base || fail "could not build the Debian root in $E2E_CACHE"
	local root=$BATS_TEST_TMPDIR/root upper=$BATS_TEST_TMPDIR/upper work=$BATS_TEST_TMPDIR/work
	mkdir -p "$root" "$upper" "$work"
	if mount -t overlay overlay -o "lowerdir=$E2E_ROOT_BASE,upperdir=$upper,workdir=$work" "$root" 2>/dev/null; then
		E2E_UPPER=$upper
	else
		cp -a "$E2E_ROOT_BASE/." "$root/"
		E2E_UPPER=$root
	fi
	E2E_ROOT=$root
}

# install_sshboot: copy the built binary into the root as /usr/local/bin/sshboot.
install_sshboot() {
	root_prepare
	[[ -x $E2E_SSHBOOT ]] || fail "no sshboot binary at $E2E_SSHBOOT (build it: cmake --build $E2E_BUILD_DIR)"
	# Only when it differs: a test may have made the root read-only.
	cmp -s "$E2E_SSHBOOT" "$E2E_ROOT/usr/local/bin/sshboot" ||
		install -m 0755 "$E2E_SSHBOOT" "$E2E_ROOT/usr/local/bin/sshboot"
}

# _e2e_split_args ARGS...: assignments before "--" into _e2e_env, the rest
# into _e2e_cmd.
_e2e_split_args() {
	_e2e_env=()
	_e2e_cmd=()
	while (($#)); do
		if [[ $1 == -- ]]; then
			shift
			break
		fi
		[[ $1 == [A-Za-z_]*=* ]] || fail "expected NAME=value before --, got: $1"
		[[ $1 == SSH_PASSWORD=?* ]] && e2e_secret "${1#SSH_PASSWORD=}"
		_e2e_env+=("$1")
		shift
	done
	_e2e_cmd=("$@")
}

# _e2e_ns_argv: the argv that runs "${_e2e_cmd[@]}" as PID 1 in the root
# (under the host command in the array E2E_WRAP when a test sets one, e.g.
# strace, which then is PID 1 and runs chroot as its child).
_e2e_ns_argv() {
	_e2e_argv=(
		unshare --pid --fork --kill-child --mount --uts --ipc --mount-proc="$E2E_ROOT/proc"
		/bin/sh -c "$SB_NS_INIT" sshboot-init "$E2E_ROOT"
		/usr/bin/env -i PATH="$E2E_CONTAINER_PATH" HOSTNAME=sshboot HOME=/root
		"${_e2e_env[@]}"
		"${E2E_WRAP[@]}" /usr/sbin/chroot "$E2E_ROOT" "${_e2e_cmd[@]}"
	)
}

# root_start [NAME=value...] -- COMMAND [ARG...]: start COMMAND (a path inside
# the root) in the background as PID 1 of new namespaces, with exactly the
# given environment (plus PATH, HOME, HOSTNAME). Its stdout goes to $E2E_OUT,
# stderr to $E2E_ERR; each start gets new files (out.N, err.N) and out/err
# point at the latest.
root_start() {
	root_prepare
	[[ -z ${E2E_PID:-} ]] || fail "root_start: a process is still running; call sshboot_stop first"
	_e2e_split_args "$@"
	((${#_e2e_cmd[@]})) || fail "root_start: no command"
	_e2e_ns_argv
	E2E_RUN=$((E2E_RUN + 1))
	local out=$BATS_TEST_TMPDIR/out.$E2E_RUN err=$BATS_TEST_TMPDIR/err.$E2E_RUN
	: >"$out"
	: >"$err"
	ln -sfn "out.$E2E_RUN" "$BATS_TEST_TMPDIR/out"
	ln -sfn "err.$E2E_RUN" "$BATS_TEST_TMPDIR/err"
	E2E_OUT=$out
	E2E_ERR=$err
	E2E_STATUS=
	"${_e2e_argv[@]}" </dev/null >"$out" 2>"$err" 3>&- &
	E2E_PID=$!
	echo "$E2E_PID" >>"$BATS_TEST_TMPDIR/pids"
}

# sshboot_start [NAME=value...] [-- ARG...]: install the binary and start
# /usr/local/bin/sshboot ARG... as PID 1 of the root.
sshboot_start() {
	install_sshboot
	local env=()
	while (($#)) && [[ $1 != -- ]]; do
		env+=("$1")
		shift
	done
	(($#)) && shift
	root_start "${env[@]}" -- /usr/local/bin/sshboot "$@"
}

# root_exec [NAME=value...] -- COMMAND [ARG...]: run COMMAND in the root the
# same way, in the foreground; its status, stdout and stderr are the caller's.
# Use under bats' run.
root_exec() {
	root_prepare
	_e2e_split_args "$@"
	_e2e_ns_argv
	"${_e2e_argv[@]}" </dev/null 3>&-
}

# _e2e_alive PID: the process exists and is not a zombie.
_e2e_alive() {
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $state != Z* ]]
}

# _e2e_init_pid: PID (in the host's namespace) of the namespace's PID 1.
_e2e_init_pid() {
	pgrep -P "$E2E_PID" | head -n 1
}

# sshboot_alive: the process started last still runs.
sshboot_alive() {
	[[ -n ${E2E_PID:-} ]] && _e2e_alive "$E2E_PID"
}

# sshboot_stop [TIMEOUT]: SIGTERM the namespace's PID 1, wait up to TIMEOUT
# seconds (default 10), then SIGKILL. Leaves the exit status in $E2E_STATUS.
# Safe to call when nothing runs. The root stays for the next start.
# shellcheck disable=SC2120 # TIMEOUT is optional
sshboot_stop() {
	[[ -n ${E2E_PID:-} ]] || return 0
	local timeout=${1:-10} init deadline
	init=$(_e2e_init_pid || true)
	# It may be gone already (sshboot killed, its sshd stopped by the caller).
	[[ -z $init ]] || kill -TERM "$init" 2>/dev/null || true
	deadline=$((SECONDS + timeout))
	while _e2e_alive "$E2E_PID" && ((SECONDS < deadline)); do
		sleep 0.05
	done
	if _e2e_alive "$E2E_PID"; then
		echo "# sshboot_stop: PID 1 ignored SIGTERM for ${timeout}s; sending SIGKILL" >&3
		init=$(_e2e_init_pid || true)
		[[ -z $init ]] || kill -KILL "$init" 2>/dev/null || true
		kill -KILL "$E2E_PID" 2>/dev/null || true
	fi
	E2E_STATUS=0
	wait "$E2E_PID" || E2E_STATUS=$?
	E2E_PID=
	return 0
}

# sshboot_wait_exit [TIMEOUT]: wait (bounded) for the process to end by
# itself; its exit status is left in $E2E_STATUS.
sshboot_wait_exit() {
	local deadline=$((SECONDS + ${1:-20}))
	while _e2e_alive "$E2E_PID"; do
		((SECONDS < deadline)) || fail "still running after ${1:-20}s; stderr:$(printf '\n'; cat "$E2E_ERR")"
		sleep 0.05
	done
	E2E_STATUS=0
	wait "$E2E_PID" || E2E_STATUS=$?
	E2E_PID=
}

# --- waiting and reading output ---------------------------------------------

# The connect command: alone on its line, leading spaces allowed.
E2E_CONNECT_RE='^ *ssh [^ @]+@[^ ]+ -p [0-9]+$'

# wait_for_output EXTENDED_REGEX [TIMEOUT]: poll stdout and stderr (100 ms
# steps, default 20 s) until a line matches; fail with the captured output if
# the process exits or time runs out.
wait_for_output() {
	local re=$1 timeout=${2:-20} i
	for ((i = 0; i < timeout * 10; i++)); do
		grep -qE -- "$re" "$E2E_OUT" "$E2E_ERR" 2>/dev/null && return 0
		if ! sshboot_alive; then
			grep -qE -- "$re" "$E2E_OUT" "$E2E_ERR" 2>/dev/null && return 0
			fail "exited before printing /$re/$(_e2e_dump)"
		fi
		sleep 0.1
	done
	fail "no line matching /$re/ within ${timeout}s$(_e2e_dump)"
}

# wait_for_connect_block [TIMEOUT]: wait for the `ssh user@host -p N` line on
# stdout.
# shellcheck disable=SC2120 # TIMEOUT is optional
wait_for_connect_block() {
	local timeout=${1:-20} i
	for ((i = 0; i < timeout * 10; i++)); do
		grep -qE -- "$E2E_CONNECT_RE" "$E2E_OUT" && return 0
		if ! sshboot_alive; then
			grep -qE -- "$E2E_CONNECT_RE" "$E2E_OUT" && return 0
			fail "sshboot exited before printing the connect command$(_e2e_dump)"
		fi
		sleep 0.1
	done
	fail "no connect command on stdout within ${timeout}s$(_e2e_dump)"
}

# wait_for_port PORT [TIMEOUT]: wait until something accepts on 127.0.0.1:PORT.
wait_for_port() {
	local port=$1 timeout=${2:-20} i
	for ((i = 0; i < timeout * 10; i++)); do
		sb_port_in_use "$port" && return 0
		if [[ -n ${E2E_PID:-} ]] && ! sshboot_alive; then
			fail "exited before listening on port $port$(_e2e_dump)"
		fi
		sleep 0.1
	done
	fail "nothing listens on port $port after ${timeout}s$(_e2e_dump)"
}

_e2e_dump() {
	local status=
	[[ -n ${E2E_STATUS:-} ]] && status=" (exit status $E2E_STATUS)"
	printf '\n--- stdout%s ---\n%s\n--- stderr ---\n%s\n---' "$status" \
		"$(cat "$E2E_OUT" 2>/dev/null)" "$(cat "$E2E_ERR" 2>/dev/null)"
}

# connect_command: the printed connect command, verbatim (leading spaces cut).
connect_command() {
	local line
	line=$(grep -E -m 1 -- "$E2E_CONNECT_RE" "$E2E_OUT") ||
		fail "no connect command on stdout$(_e2e_dump)"
	printf '%s\n' "${line#"${line%%[! ]*}"}"
}

# free_port: a TCP port nobody listens on.
free_port() {
	sb_free_port || fail "found no free TCP port"
}

# ssh_opts [KEY]: client options for commands that do not go through the
# wrappers (KEY defaults to the file's client key).
ssh_opts() {
	printf '%s ' -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
		-o ConnectTimeout=5 -i "${1:-$CLIENT_KEY}" -o IdentitiesOnly=yes -o LogLevel=ERROR
}

# new_client_key NAME: another ed25519 key pair at $BATS_FILE_TMPDIR/NAME(.pub);
# prints the private key's path.
new_client_key() {
	local key=$BATS_FILE_TMPDIR/$1
	[[ -e $key ]] || ssh-keygen -q -t ed25519 -N '' -C "e2e-$1" -f "$key" </dev/null
	printf '%s\n' "$key"
}

# ssh_root PORT [COMMAND...]: log in as root on 127.0.0.1:PORT with the
# file's client key.
ssh_root() {
	local port=$1
	shift
	ssh -p "$port" root@127.0.0.1 "$@"
}

# ssh_with_key KEY PORT [COMMAND...]: log in as root offering only KEY (no
# config file, so no other identity is tried).
ssh_with_key() {
	local key=$1 port=$2
	shift 2
	# shellcheck disable=SC2046 # ssh_opts prints separate words on purpose
	/usr/bin/ssh -F none $(ssh_opts "$key") -p "$port" root@127.0.0.1 "$@"
}

# add_account_with_key NAME: create the account NAME in the root (before the
# start) with a home and its own client key in ~/.ssh/authorized_keys, as a
# second person sharing the container would have; prints the private key's
# path.
add_account_with_key() {
	local name=$1 key
	key=$(new_client_key "account-$name")
	# shellcheck disable=SC2016 # expanded by the shell in the root
	root_exec PUB="$(cat "$key.pub")" -- /bin/sh -c '
		/usr/sbin/useradd -m -s /bin/bash "$0" &&
		install -d -m 0700 -o "$0" -g "$0" "/home/$0/.ssh" &&
		printf "%s\n" "$PUB" >"/home/$0/.ssh/authorized_keys" &&
		chown "$0:$0" "/home/$0/.ssh/authorized_keys" &&
		chmod 0600 "/home/$0/.ssh/authorized_keys"' "$name" >/dev/null ||
		fail "could not create the account $name"
	printf '%s\n' "$key"
}

# ssh_as KEY USER PORT [COMMAND...]: log in as USER offering only KEY.
ssh_as() {
	local key=$1 user=$2 port=$3
	shift 3
	# shellcheck disable=SC2046 # ssh_opts prints separate words on purpose
	/usr/bin/ssh -F none $(ssh_opts "$key") -p "$port" "$user@127.0.0.1" "$@"
}

# start_runpod PORT [NAME=value...] [-- ARG...]: start sshboot as RunPod runs
# it (RUNPOD_PUBLIC_IP=127.0.0.1, RUNPOD_TCP_PORT_22=PORT, SSH_PORT=PORT) with
# the given keys and other settings, and wait for the connect block.
start_runpod() {
	local port=$1
	shift
	sshboot_start SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 RUNPOD_TCP_PORT_22="$port" "$@"
	wait_for_connect_block
}

# --- secrets ----------------------------------------------------------------

# e2e_secret TEXT: TEXT is secret; the test's teardown fails when it appears in
# any output of the test or in any file in the root. Every SSH_PASSWORD given
# to root_start, root_exec or root_nsexec is recorded this way.
e2e_secret() {
	printf '%s\0' "$1" >>"$BATS_TEST_TMPDIR/secrets"
}

# assert_no_secret TEXT: TEXT appears in no output of this test and in no file
# sshboot wrote into the root.
assert_no_secret() {
	local text=$1 hits
	[[ -n $text ]] || fail "assert_no_secret: empty text"
	hits=$(grep -rlF -- "$text" "$BATS_TEST_TMPDIR"/out.* "$BATS_TEST_TMPDIR"/err.* 2>/dev/null || true)
	if [[ -n ${E2E_UPPER:-} && -d $E2E_UPPER ]]; then
		hits+=$(grep -rlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -- "$text" "$E2E_UPPER" 2>/dev/null || true)
	fi
	[[ -z $hits ]] || fail "secret text found in: $hits"
}

# root_nsexec [NAME=value...] -- COMMAND [ARG...]: run COMMAND inside the
# namespaces and root of the process started last, like `docker exec`, with
# exactly the given environment (plus PATH and HOME). stdin, stdout, stderr
# and the exit status are the caller's.
root_nsexec() {
	local init
	init=$(_e2e_init_pid) || fail "root_nsexec: nothing runs in the root"
	[[ -n $init ]] || fail "root_nsexec: nothing runs in the root"
	_e2e_split_args "$@"
	nsenter --target "$init" --pid --mount --uts --ipc -- \
		/usr/sbin/chroot "$E2E_ROOT" /usr/bin/env -i PATH="$E2E_CONTAINER_PATH" HOME=/root \
		"${_e2e_env[@]}" "${_e2e_cmd[@]}" 3>&-
}
