# shellcheck shell=bash
# Helpers for the multi-node tests: several nodes, each a fresh writable root
# (an overlay over a cached Debian root that also holds pdsh, OpenMPI and
# mpi4py) with sshboot as PID 1 of its own PID, mount, UTS and IPC
# namespaces and its own hostname, all on the host's network (127.0.0.1,
# one port per node), sharing only the cluster secret.
#
# Use from a .bats file, after `load test_helper`:
#   load cluster_helper
#   setup_file()    { cluster_setup_file; }
#   setup()         { cluster_setup; }
#   teardown()      { cluster_teardown; }

# MPICH next to OpenMPI: both install mpirun/mpiexec alternatives, so tests
# call mpiexec.hydra (MPICH) and mpirun.openmpi (OpenMPI) by name.
CLUSTER_ROOT_PACKAGES=$SSHBOOT_ROOT_PACKAGES,pdsh,openmpi-bin,python3-mpi4py,mpich
# The cache is named after the package list, so a changed list builds anew.
_cluster_root_id=$(cksum <<<"$CLUSTER_ROOT_PACKAGES")
CLUSTER_ROOT_TAR=$E2E_CACHE/cluster-root-${_cluster_root_id%% *}.tar
CLUSTER_ROOT_BASE=$E2E_CACHE/cluster-rootfs-base-${_cluster_root_id%% *}

# cluster_setup_file: the client setup of every e2e file, and the cached
# cluster root (built once: a few minutes of downloads).
cluster_setup_file() {
	e2e_setup_file
	if ! _e2e_missing_requirement >/dev/null; then
		_cluster_base
	fi
}

# _cluster_base: the cached tarball (with the extra packages) and its copy.
_cluster_base() {
	sb_debian_root_tar "$CLUSTER_ROOT_TAR" "$CLUSTER_ROOT_PACKAGES" &&
		sb_debian_root_dir "$CLUSTER_ROOT_TAR" "$CLUSTER_ROOT_BASE"
}

# cluster_setup [N]: per-test state for N nodes (default 3) on 127.0.0.1
# with a free port each; CLUSTER_HOSTS lists them in rank order.
cluster_setup() {
	e2e_setup
	local why
	if why=$(_e2e_missing_requirement); then
		e2e_fail_or_skip "$why"
	fi
	command -v nsenter >/dev/null || e2e_fail_or_skip "needs nsenter"
	CLUSTER_N=${1:-3}
	CLUSTER_PORTS=()
	CLUSTER_PIDS=()
	CLUSTER_ROOTS=()
	CLUSTER_NETNS=()
	CLUSTER_NAMES=()
	CLUSTER_SWITCH=
	local i port hosts=
	for ((i = 0; i < CLUSTER_N; i++)); do
		while :; do
			port=$(free_port)
			[[ " ${CLUSTER_PORTS[*]} " != *" $port "* ]] && break
		done
		CLUSTER_PORTS+=("$port")
		CLUSTER_PIDS+=("")
		CLUSTER_ROOTS+=("")
		CLUSTER_NAMES+=("cnode$i")
		hosts+=${hosts:+,}127.0.0.1:$port
	done
	CLUSTER_HOSTS=$hosts
}

# cluster_use_netns: put every node in its own network namespace instead,
# all on port 22 at 10.213.0.<rank+1>, joined by veth pairs to a bridge in
# one more namespace (nothing of the host's network is touched).
# CLUSTER_HOSTS lists the addresses without ports.
cluster_use_netns() {
	command -v ip >/dev/null || e2e_fail_or_skip "needs ip (iproute2)"
	local id=sbc$$ i hosts=
	CLUSTER_SWITCH=$id-sw
	ip netns add "$CLUSTER_SWITCH" || fail "cannot create a network namespace"
	ip -n "$CLUSTER_SWITCH" link add br0 type bridge || fail "cannot create a bridge"
	ip -n "$CLUSTER_SWITCH" link set br0 up
	for ((i = 0; i < CLUSTER_N; i++)); do
		CLUSTER_NETNS[i]=$id-n$i
		ip netns add "${CLUSTER_NETNS[i]}"
		ip -n "$CLUSTER_SWITCH" link add "v$i" type veth peer name eth0 netns "${CLUSTER_NETNS[i]}" ||
			fail "cannot create a veth pair"
		ip -n "$CLUSTER_SWITCH" link set "v$i" master br0 up
		ip -n "${CLUSTER_NETNS[i]}" addr add "10.213.0.$((i + 1))/24" dev eth0
		ip -n "${CLUSTER_NETNS[i]}" link set eth0 up
		ip -n "${CLUSTER_NETNS[i]}" link set lo up
		CLUSTER_PORTS[i]=22
		hosts+=${hosts:+,}10.213.0.$((i + 1))
	done
	CLUSTER_HOSTS=$hosts
}

# _cluster_port_in_use I: node I's port listens (in its network namespace).
_cluster_port_in_use() {
	local i=$1
	if [[ -n ${CLUSTER_NETNS[i]:-} ]]; then
		ip netns exec "${CLUSTER_NETNS[i]}" ss -Htln "sport = :${CLUSTER_PORTS[i]}" 2>/dev/null | grep -q .
	else
		sb_port_in_use "${CLUSTER_PORTS[i]}"
	fi
}

cluster_teardown() {
	local i secret leaked=0
	for ((i = 0; i < ${CLUSTER_N:-0}; i++)); do
		cluster_node_stop "$i" || true
	done
	if [[ -s $BATS_TEST_TMPDIR/secrets ]]; then
		while IFS= read -r -d '' secret; do
			(cluster_assert_no_secret "$secret") || leaked=1
		done <"$BATS_TEST_TMPDIR/secrets"
	fi
	for ((i = 0; i < ${CLUSTER_N:-0}; i++)); do
		local root=${CLUSTER_ROOTS[i]:-}
		[[ -n $root ]] || continue
		if mountpoint -q "$root"; then
			umount -R "$root" 2>/dev/null || umount -R -l "$root"
		fi
		rm -rf "$BATS_TEST_TMPDIR/node$i"
	done
	for ((i = 0; i < ${CLUSTER_N:-0}; i++)); do
		[[ -n ${CLUSTER_NETNS[i]:-} ]] && ip netns del "${CLUSTER_NETNS[i]}"
	done
	[[ -n ${CLUSTER_SWITCH:-} ]] && ip netns del "$CLUSTER_SWITCH"
	: >"$BATS_TEST_TMPDIR/secrets"
	e2e_teardown
	((!leaked)) || fail "a secret this test set reached a node's output or files (above)"
}

# cluster_assert_no_secret TEXT: TEXT is in no node's output and in no file a
# node wrote.
cluster_assert_no_secret() {
	local text=$1 hits=
	hits=$(grep -rlF -- "$text" "$BATS_TEST_TMPDIR"/node*.out "$BATS_TEST_TMPDIR"/node*.err 2>/dev/null || true)
	local i
	for ((i = 0; i < ${CLUSTER_N:-0}; i++)); do
		[[ -d $BATS_TEST_TMPDIR/node$i/upper ]] || continue
		hits+=$(grep -rlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -- "$text" \
			"$BATS_TEST_TMPDIR/node$i/upper" 2>/dev/null || true)
	done
	[[ -z $hits ]] || fail "secret text found in: $hits"
}

# cluster_secret: a new cluster secret from `sshboot cluster secret` (its
# last line), recorded as a secret of this test.
cluster_secret() {
	local out
	out=$("$E2E_SSHBOOT" cluster secret) || fail "sshboot cluster secret failed: $out"
	out=$(tail -n 1 <<<"$out")
	[[ -n $out ]] || fail "sshboot cluster secret printed nothing"
	e2e_secret "$out"
	printf '%s\n' "$out"
}

# cluster_prepare_root I: make node I's root (kept across restarts) and set
# CLUSTER_ROOTS[I]; a test may change files in it before the node starts.
cluster_prepare_root() {
	local i=$1 dir=$BATS_TEST_TMPDIR/node$1
	[[ -z ${CLUSTER_ROOTS[i]} ]] || return 0
	_cluster_base || fail "could not build the cluster root in $E2E_CACHE"
	mkdir -p "$dir/root" "$dir/upper" "$dir/work"
	if ! mount -t overlay overlay \
		-o "lowerdir=$CLUSTER_ROOT_BASE,upperdir=$dir/upper,workdir=$dir/work" "$dir/root" 2>/dev/null; then
		cp -a "$CLUSTER_ROOT_BASE/." "$dir/root/"
		rmdir "$dir/upper" && ln -s root "$dir/upper"
	fi
	install -m 0755 "$E2E_SSHBOOT" "$dir/root/usr/local/bin/sshboot"
	CLUSTER_ROOTS[i]=$dir/root
}

# Sets the UTS namespace's hostname to $0, then runs the rest.
# shellcheck disable=SC2016 # expanded by sh -c
_CLUSTER_HOSTNAME='hostname "$0" && exec "$@"'

# cluster_node_start I SECRET [NAME=value...]: start sshboot as PID 1 of node
# I (hostname ${CLUSTER_NAMES[I]}, default cnodeI; SSH_PORT its port, rank I, the cluster's hosts, and
# CLUSTER_MARK=mark-I in its environment) with the given extra variables.
cluster_node_start() {
	local i=$1 secret=$2
	shift 2
	cluster_prepare_root "$i"
	local root=${CLUSTER_ROOTS[i]}
	# /etc/hosts names the container's hostname, as container runtimes
	# write it: without it OpenMPI's orted asks DNS for it and waits out
	# the resolver's timeout (5 s) where DNS is unreachable.
	local address=127.0.0.1
	[[ -n ${CLUSTER_NETNS[i]:-} ]] && address=10.213.0.$((i + 1))
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n' \
		"$address" "${CLUSTER_NAMES[i]}" >"$root/etc/hosts"
	[[ -z ${CLUSTER_PIDS[i]} ]] || fail "node $i already runs"
	local v
	for v in "$@"; do
		[[ $v == [A-Za-z_]*=* ]] || fail "cluster_node_start: expected NAME=value, got: $v"
	done
	local netns=()
	[[ -n ${CLUSTER_NETNS[i]:-} ]] && netns=(ip netns exec "${CLUSTER_NETNS[i]}")
	"${netns[@]}" unshare --pid --fork --kill-child --mount --uts --ipc --mount-proc="$root/proc" \
		/bin/sh -c "$SB_NS_INIT" sshboot-init "$root" \
		/bin/sh -c "$_CLUSTER_HOSTNAME" "${CLUSTER_NAMES[i]}" \
		/usr/bin/env -i PATH="$E2E_CONTAINER_PATH" HOSTNAME="${CLUSTER_NAMES[i]}" HOME=/root \
		SSH_PORT="${CLUSTER_PORTS[i]}" SSHBOOT_CLUSTER_SECRET="$secret" \
		SSHBOOT_CLUSTER_RANK="$i" SSHBOOT_CLUSTER_HOSTS="$CLUSTER_HOSTS" \
		CLUSTER_MARK="mark-$i" "$@" \
		/usr/sbin/chroot "$root" /usr/local/bin/sshboot \
		</dev/null >>"$BATS_TEST_TMPDIR/node$i.out" 2>>"$BATS_TEST_TMPDIR/node$i.err" 3>&- &
	CLUSTER_PIDS[i]=$!
	echo "${CLUSTER_PIDS[i]}" >>"$BATS_TEST_TMPDIR/pids"
}

# cluster_node_ready I [TIMEOUT]: wait until node I's sshd listens.
cluster_node_ready() {
	local i=$1 timeout=${2:-30} n
	for ((n = 0; n < timeout * 10; n++)); do
		_cluster_port_in_use "$i" && return 0
		_e2e_alive "${CLUSTER_PIDS[i]}" || fail "node $i exited$(cluster_dump "$i")"
		sleep 0.1
	done
	fail "node $i does not listen on ${CLUSTER_PORTS[i]} after ${timeout}s$(cluster_dump "$i")"
}

# cluster_start_all SECRET [NAME=value...]: start every node and wait for all.
cluster_start_all() {
	local i
	for ((i = 0; i < CLUSTER_N; i++)); do
		cluster_node_start "$i" "$@"
	done
	for ((i = 0; i < CLUSTER_N; i++)); do
		cluster_node_ready "$i"
	done
}

cluster_dump() {
	printf '\n--- node %s stdout ---\n%s\n--- stderr ---\n%s\n---' "$1" \
		"$(cat "$BATS_TEST_TMPDIR/node$1.out" 2>/dev/null)" \
		"$(cat "$BATS_TEST_TMPDIR/node$1.err" 2>/dev/null)"
}

# cluster_node_stop I: SIGTERM node I's PID 1, bounded wait, then SIGKILL.
cluster_node_stop() {
	local i=$1 pid=${CLUSTER_PIDS[$1]:-} init deadline
	[[ -n $pid ]] || return 0
	init=$(pgrep -P "$pid" | head -n 1 || true)
	[[ -n $init ]] && kill -TERM "$init" 2>/dev/null
	deadline=$((SECONDS + 10))
	while _e2e_alive "$pid" && ((SECONDS < deadline)); do
		sleep 0.05
	done
	if _e2e_alive "$pid"; then
		init=$(pgrep -P "$pid" | head -n 1 || true)
		[[ -n $init ]] && kill -KILL "$init" 2>/dev/null
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	CLUSTER_PIDS[i]=
	# Wait for the port to be free again, so a restart can bind it.
	local n
	for ((n = 0; n < 100; n++)); do
		_cluster_port_in_use "$i" || return 0
		sleep 0.1
	done
}

# cluster_exec I [-u USER] [NAME=value...] -- COMMAND [ARG...]: run COMMAND
# inside node I's namespaces and root as a process started there would (as
# root, or as USER with a login-like environment), like `docker exec`.
cluster_exec() {
	local i=$1
	shift
	local user=root
	if [[ ${1:-} == -u ]]; then
		user=$2
		shift 2
	fi
	local pid=${CLUSTER_PIDS[i]:-} init
	[[ -n $pid ]] || fail "cluster_exec: node $i does not run"
	init=$(pgrep -P "$pid" | head -n 1) || fail "cluster_exec: node $i has no PID 1"
	local env=()
	while (($#)) && [[ $1 != -- ]]; do
		env+=("$1")
		shift
	done
	(($#)) && shift
	local home=/root
	[[ $user == root ]] || home=/home/$user
	local net=()
	[[ -n ${CLUSTER_NETNS[i]:-} ]] && net=(--net)
	nsenter --target "$init" --pid --mount --uts --ipc "${net[@]}" -- \
		/usr/sbin/chroot "${CLUSTER_ROOTS[i]}" \
		/usr/sbin/runuser -u "$user" -- \
		/usr/bin/env -i PATH="$E2E_CONTAINER_PATH" HOME="$home" USER="$user" LOGNAME="$user" \
		"${env[@]}" "$@" 3>&-
}

# cluster_node_wait_exit I [TIMEOUT]: wait (bounded) for node I to end by
# itself; its exit status is left in $CLUSTER_STATUS.
# shellcheck disable=SC2034 # CLUSTER_STATUS is read by the tests
cluster_node_wait_exit() {
	local i=$1 deadline=$((SECONDS + ${2:-20})) pid=${CLUSTER_PIDS[$1]}
	while _e2e_alive "$pid"; do
		((SECONDS < deadline)) || fail "node $i still runs after ${2:-20}s$(cluster_dump "$i")"
		sleep 0.05
	done
	CLUSTER_STATUS=0
	wait "$pid" || CLUSTER_STATUS=$?
	CLUSTER_PIDS[i]=
}
