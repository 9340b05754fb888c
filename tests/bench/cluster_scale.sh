#!/usr/bin/env bash
# Cluster mode at scale: N nodes, each in its own network namespace (one
# address each, port 22, joined by a bridge in one more namespace) with
# sshboot as PID 1 of its own PID, mount, UTS and IPC namespaces and its own
# writable copy of the cluster tests' root (pdsh, OpenMPI, MPICH). Prints
# figures with their targets; it is not a pass/fail test (exit 0 when every
# measurement could be made, whatever the figures).
#
#   sudo bash tests/bench/cluster_scale.sh N        (N from 2 to 250)
#
# What it measures:
#   overhead   each node's start, spawn to SSH banner (build/bench_ready), in
#              cluster mode (N nodes) against plain mode, each measured on its
#              second start (the first one writes the host key, and the
#              cluster's key, certificate and files): the cost of cluster
#              mode on a restart
#   wait       all N nodes started at once; `sshboot cluster wait` on node 0
#              alone (what a launcher runs), then on every node, from the last
#              node's spawn until it has logged in to every peer, and from the
#              moment the last node listens
#   launchers  from node 0: pdsh -w node-[0-(N-1)] true, OpenMPI's
#              mpirun -np N hostname and MPICH's mpiexec -n N hostname (each
#              through one SSH login to node 0, for the session's variables)
#   memory     VmRSS of sshboot (PID 1) and of the listening sshd on each node
#   storm      RunPod Instant Cluster mode: the primary up, then N-1 workers
#              started at once, each registering with the primary over SSH:
#              time until the primary's hostfiles name all N nodes
#
# Environment: SSHBOOT_BUILD_DIR (default build), BENCH_KEEP=1 (keep the
# nodes' logs; the directory is named at the end), BENCH_PARTS (the parts to
# run, default "overhead wait launchers memory storm"; launchers and memory
# run after wait).
set -euo pipefail

SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SCRIPT")/../.." && pwd)
BUILD=${SSHBOOT_BUILD_DIR:-$REPO/build}
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=scripts/lib/common.sh
SSHBOOT_REPO=$REPO SSHBOOT_BUILD_DIR=$BUILD source "$REPO/scripts/lib/common.sh"

# The cluster tests' root (and its cache), as tests/e2e/cluster_helper.bash
# names it.
# shellcheck disable=SC2034 # read by the lines eval'ed below
E2E_CACHE=$BUILD/e2e
eval "$(grep -E '^(CLUSTER_ROOT_PACKAGES|_cluster_root_id|CLUSTER_ROOT_TAR|CLUSTER_ROOT_BASE)=' \
	"$REPO/tests/e2e/cluster_helper.bash")"
CONTAINER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SUBNET=10.214.0

# Targets at N=32.
T_OVERHEAD_MS=5
T_WAIT_MS=2000
T_STORM_MS=5000

usage() {
	printf 'usage: bash %s N   (as root; N nodes, 2 to 250)\n' "$0" >&2
	exit 2
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "met" : "NOT met" }'; }

# stats NUMBER...: "median min max".
stats() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f %.1f %.1f\n", m, v[1], v[NR]
		}'
}

N=
TMP=
ID=bsc$$
SWITCH=
SECRET=
HOSTS=
PIDS=()
ROOTS=()

address() { echo "$SUBNET.$(($1 + 1))"; }
netns() { echo "$ID-n$1"; }

cleanup() {
	local status=$? i
	trap - EXIT INT TERM
	for i in "${!PIDS[@]}"; do
		node_stop "$i" || true
	done
	for i in "${!ROOTS[@]}"; do
		umount -R "${ROOTS[i]}" 2>/dev/null || umount -R -l "${ROOTS[i]}" 2>/dev/null || true
	done
	if [[ -n $N ]]; then
		for ((i = 0; i < N; i++)); do
			ip netns del "$(netns "$i")" 2>/dev/null || true
		done
	fi
	[[ -n $SWITCH ]] && ip netns del "$SWITCH" 2>/dev/null
	if [[ -n $TMP && -z ${BENCH_KEEP:-} ]]; then
		rm -rf "$TMP"
	elif [[ -n $TMP ]]; then
		sb_log "kept the nodes' logs in $TMP"
	fi
	exit "$status"
}

make_network() {
	local i ns
	SWITCH=$ID-sw
	ip netns add "$SWITCH"
	ip -n "$SWITCH" link add br0 type bridge
	ip -n "$SWITCH" link set br0 up
	for ((i = 0; i < N; i++)); do
		ns=$(netns "$i")
		ip netns add "$ns"
		ip -n "$SWITCH" link add "v$i" type veth peer name eth0 netns "$ns"
		ip -n "$SWITCH" link set "v$i" master br0 up
		ip -n "$ns" addr add "$(address "$i")/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" link set lo up
		HOSTS+=${HOSTS:+,}$(address "$i")
	done
}

# make_root I: node I's writable root (an overlay over the cached root).
make_root() {
	local i=$1 dir=$TMP/node$1
	mkdir -p "$dir/root" "$dir/upper" "$dir/work"
	mount -t overlay overlay \
		-o "lowerdir=$CLUSTER_ROOT_BASE,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
	install -m 0755 "$BUILD/sshboot" "$dir/root/usr/local/bin/sshboot"
	printf '127.0.0.1\tlocalhost\n%s\tnode%s\n' "$(address "$i")" "$i" >"$dir/root/etc/hosts"
	ROOTS[i]=$dir/root
}

# bench_start I NAME=value...: one timed start of sshboot on node I (spawn to
# banner, then stopped); prints banner_ms.
bench_start() {
	local i=$1 root=${ROOTS[$1]} env=()
	shift
	local v
	for v in "$@"; do env+=(--env "$v"); done
	# shellcheck disable=SC2016 # expanded by sh -c
	ip netns exec "$(netns "$i")" unshare --mount --uts --propagation private -- sh -c '
		root=$1 init=$2; shift 2
		sh -c "$init" bench-init "$root" true
		mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
		exec "$@"' sh "$root" "$SB_NS_INIT" "$BUILD/bench_ready" --root "$root" --port 22 --timeout-ms 20000 \
		--log "$TMP/bench.log" --env "PATH=$CONTAINER_PATH" --env HOME=/root "${env[@]}" \
		-- /usr/local/bin/sshboot | sed -n 's/.*banner_ms=\([0-9.]*\).*/\1/p'
}

# node_start I NAME=value...: sshboot as PID 1 of node I, in the background.
node_start() {
	local i=$1 root=${ROOTS[$1]}
	shift
	# shellcheck disable=SC2016 # expanded by sh -c
	ip netns exec "$(netns "$i")" \
		unshare --pid --fork --kill-child --mount --uts --ipc --mount-proc="$root/proc" \
		/bin/sh -c "$SB_NS_INIT" sshboot-init "$root" \
		/bin/sh -c 'hostname "$0" && exec "$@"' "node$i" \
		/usr/bin/env -i PATH="$CONTAINER_PATH" HOSTNAME="node$i" HOME=/root "$@" \
		/usr/sbin/chroot "$root" /usr/local/bin/sshboot \
		</dev/null >>"$TMP/node$i.out" 2>>"$TMP/node$i.err" &
	PIDS[i]=$!
}

# init_pid I: node I's PID 1 (the child of unshare).
init_pid() { pgrep -P "${PIDS[$1]}" | head -n 1; }

# listening I: node I's sshd listens on port 22 (read from its network
# namespace's /proc/net/tcp, which costs no process).
listening() {
	local pid
	pid=$(init_pid "$1") || return 1
	[[ -n $pid ]] && awk '$2 ~ /:0016$/ && $4 == "0A" { found = 1 } END { exit !found }' \
		"/proc/$pid/net/tcp" 2>/dev/null
}

node_exec() {
	local i=$1 pid
	shift
	pid=$(init_pid "$i")
	nsenter --target "$pid" --pid --mount --uts --ipc --net -- /usr/sbin/chroot "${ROOTS[i]}" \
		/usr/bin/env -i PATH="$CONTAINER_PATH" HOME=/root USER=root LOGNAME=root "$@"
}

node_stop() {
	local i=$1 pid=${PIDS[$1]:-} init deadline
	[[ -n $pid ]] || return 0
	init=$(pgrep -P "$pid" | head -n 1 || true)
	[[ -n $init ]] && kill -TERM "$init" 2>/dev/null
	deadline=$((SECONDS + 10))
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	PIDS[i]=
}

stop_all() {
	local i
	for ((i = 0; i < N; i++)); do node_stop "$i"; done
}

measure_overhead() {
	local i plain cluster overheads=() plains=() clusters=()
	local key
	key=$(cat "$TMP/client.pub")
	for ((i = 0; i < N; i++)); do
		# Each mode's first start writes its files (host key; cluster key,
		# certificate, launch files) durably; the second one is measured.
		bench_start "$i" "SSH_PUBLIC_KEY=$key" >/dev/null
		plain=$(bench_start "$i" "SSH_PUBLIC_KEY=$key")
		local c=("SSH_PUBLIC_KEY=$key" "SSHBOOT_CLUSTER_SECRET=$SECRET" "SSHBOOT_CLUSTER_RANK=$i"
			"SSHBOOT_CLUSTER_HOSTS=$HOSTS")
		bench_start "$i" "${c[@]}" >/dev/null
		cluster=$(bench_start "$i" "${c[@]}")
		[[ -n $plain && -n $cluster ]] || sb_die "node $i did not come up (see $TMP/bench.log)"
		plains+=("$plain")
		clusters+=("$cluster")
		overheads+=("$(awk -v a="$cluster" -v b="$plain" 'BEGIN { printf "%.2f", a - b }')")
	done
	read -r med min max < <(stats "${plains[@]}")
	printf 'start, plain mode (spawn to banner, ms):   median %s  min %s  max %s\n' "$med" "$min" "$max"
	read -r med min max < <(stats "${clusters[@]}")
	printf 'start, cluster mode of %d nodes (ms):      median %s  min %s  max %s\n' "$N" "$med" "$min" "$max"
	read -r med min max < <(stats "${overheads[@]}")
	printf 'overhead per node (cluster - plain, ms):   median %s  min %s  max %s   target <= %s: %s\n' \
		"$med" "$min" "$max" "$T_OVERHEAD_MS" "$(le "$med" "$T_OVERHEAD_MS")"
}

# measure_cluster WAITERS: start all N nodes at once, then run cluster wait on
# every node (WAITERS=all: N*(N-1) logins on this machine's few cores) or on
# node 0 only (WAITERS=0: what a launcher does before mpirun; on a real
# cluster each node has its own CPUs, so this is nearer to what a user sees).
measure_cluster() {
	local waiters=$1 i t_spawned t_listen t_done key
	local -a on
	if [[ $waiters == all ]]; then
		for ((i = 0; i < N; i++)); do on[i]=1; done
	else
		on[0]=1
	fi
	key=$(cat "$TMP/client.pub")
	stop_all
	for ((i = 0; i < N; i++)); do
		node_start "$i" SSH_PORT=22 "SSH_PUBLIC_KEY=$key" "SSHBOOT_CLUSTER_SECRET=$SECRET" \
			"SSHBOOT_CLUSTER_RANK=$i" "SSHBOOT_CLUSTER_HOSTS=$HOSTS"
	done
	t_spawned=$(now_ms)
	# cluster wait on every node: all started once every node has a PID 1 (so
	# that the waits already running do not slow the start of the others).
	local waits=()
	# Node 0's wait alone starts as soon as node 0 has a PID 1.
	local last=0
	[[ $waiters == all ]] && last=$((N - 1))
	for ((i = 0; i <= last; i++)); do
		until [[ -n $(init_pid "$i") ]]; do sleep 0.002; done
	done
	for ((i = 0; i < N; i++)); do
		[[ -n ${on[i]:-} ]] || continue
		(
			now_ms >"$TMP/wait$i.start"
			st=0
			node_exec "$i" sshboot cluster wait --timeout 300 >"$TMP/wait$i.out" 2>&1 || st=$?
			echo "$st $(now_ms)" >"$TMP/wait$i.done"
		) &
		waits+=($!)
	done
	wait "${waits[@]}" || true
	t_done=0
	t_listen=0
	local pid listen
	for ((i = 0; i < N; i++)); do
		if [[ -n ${on[i]:-} ]]; then
			read -r status t <"$TMP/wait$i.done"
			((status == 0)) || sb_die "cluster wait failed on node $i: $(cat "$TMP/wait$i.out")"
			((t > t_done)) && t_done=$t
		fi
		# When sshd listened: it writes its pid file right after binding
		# (read afterwards, so that no polling competes for the CPU).
		pid=$(init_pid "$i")
		listen=$(stat -c %.3Y "/proc/$pid/root/run/sshboot/sshd.pid") ||
			sb_die "node $i has no sshd pid file"
		listen=${listen/./}
		((listen > t_listen)) && t_listen=$listen
	done
	local t_started=0 started
	for ((i = 0; i < N; i++)); do
		[[ -n ${on[i]:-} ]] || continue
		read -r started <"$TMP/wait$i.start"
		((started > t_started)) && t_started=$started
	done
	local where="on every node"
	[[ $waiters == all ]] || where="on node 0 only"
	printf 'all %d nodes listen, after the last spawn:   %d ms\n' "$N" $((t_listen - t_spawned))
	printf 'cluster wait %s, after the last spawn: %d ms (the last one started at %d ms)\n' \
		"$where" $((t_done - t_spawned)) $((t_started - t_spawned))
	printf 'cluster wait %s, after the last node listens: %d ms   target <= %s: %s\n' \
		"$where" $((t_done - t_listen)) "$T_WAIT_MS" "$(le $((t_done - t_listen)) "$T_WAIT_MS")"
}

# launch TEXT COMMAND: time COMMAND in a session on node 0 (ssh node-0).
launch() {
	local what=$1 t0 t1 out
	t0=$(now_ms)
	out=$(node_exec 0 ssh node-0 "$2" 2>&1) || sb_die "$what failed: $out"
	t1=$(now_ms)
	local lines
	lines=$(grep -c . <<<"$out" || true)
	printf '%-40s %6d ms  (%s output lines)\n' "$what:" $((t1 - t0)) "$lines"
	# A launcher's warnings are what a user sees too: shown, not counted away.
	grep -v -x -E 'node-?[0-9]+' <<<"$out" | grep . | head -n 12 | sed 's/^/    | /' || true
}

measure_launchers() {
	launch "ssh node-0 true (one login)" "true"
	launch "pdsh -w node-[0-$((N - 1))] true" "pdsh -R ssh -w 'node-[0-$((N - 1))]' true"
	launch "mpirun.openmpi -np $N hostname" "timeout 120 mpirun.openmpi -np $N hostname"
	launch "mpiexec.hydra -n $N hostname" "timeout 120 mpiexec.hydra -n $N hostname"
}

measure_memory() {
	local i pid sshd rss_boot=() rss_sshd=()
	for ((i = 0; i < N; i++)); do
		pid=$(init_pid "$i")
		rss_boot+=("$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")")
		sshd=$(pgrep -P "$pid" -x sshd | head -n 1 || true)
		[[ -n $sshd ]] && rss_sshd+=("$(awk '/^VmRSS:/ { print $2 }' "/proc/$sshd/status")")
	done
	read -r med min max < <(stats "${rss_boot[@]}")
	printf 'memory per node, sshboot (VmRSS, KiB):     median %s  min %s  max %s\n' "$med" "$min" "$max"
	if ((${#rss_sshd[@]})); then
		read -r med min max < <(stats "${rss_sshd[@]}")
		printf 'memory per node, listening sshd (KiB):     median %s  min %s  max %s\n' "$med" "$min" "$max"
	fi
}

measure_storm() {
	local i t0 t1 key root0=${ROOTS[0]} deadline
	key=$(cat "$TMP/client.pub")
	runpod() {
		node_start "$1" SSH_PORT=22 "SSH_PUBLIC_KEY=$key" "SSHBOOT_CLUSTER_SECRET=$SECRET" \
			NODE_RANK="$1" NUM_NODES="$N" NODE_ADDR="$(address "$1")" PRIMARY_ADDR="$(address 0)" \
			NUM_TRAINERS=1
	}
	rm -f "$root0"/job/hostfile*
	runpod 0
	deadline=$((SECONDS + 60))
	until listening 0; do
		((SECONDS < deadline)) || sb_die "the primary does not listen"
		sleep 0.005
	done
	t0=$(now_ms)
	for ((i = 1; i < N; i++)); do runpod "$i"; done
	deadline=$((SECONDS + 120))
	while :; do
		local n=0 m=0 o=0
		n=$(grep -c . "$root0/job/hostfile" 2>/dev/null || true)
		m=$(grep -c . "$root0/job/hostfile.mpich" 2>/dev/null || true)
		o=$(grep -c . "$root0/job/hostfile.openmpi" 2>/dev/null || true)
		((n == N && m == N && o == N)) && break
		((SECONDS < deadline)) || sb_die "after 120 s the primary's hostfiles name $n/$m/$o of $N nodes"
		sleep 0.005
	done
	t1=$(now_ms)
	local out
	out=$(node_exec 0 sshboot cluster wait --timeout 120 2>&1) || sb_die "the primary's cluster wait failed: $out"
	# Each worker logs its registration once the primary's answer is back.
	local registered=0
	deadline=$((SECONDS + 30))
	while :; do
		registered=0
		for ((i = 1; i < N; i++)); do
			grep -q "registered node-$i with the primary" "$TMP/node$i.err" && registered=$((registered + 1))
		done
		((registered == N - 1 || SECONDS >= deadline)) && break
		sleep 0.1
	done
	printf 'registration storm (%d workers at once):  %d ms until all %d nodes are in the 3 hostfiles; %d/%d workers logged their registration   target <= %s: %s\n' \
		$((N - 1)) $((t1 - t0)) "$N" "$registered" $((N - 1)) "$T_STORM_MS" "$(le $((t1 - t0)) "$T_STORM_MS")"
	printf 'primary after the storm: %s\n' "$out"
}

main() {
	(($# == 1)) || usage
	[[ $1 =~ ^[0-9]+$ ]] || usage
	(($1 >= 2 && $1 <= 250)) || usage
	N=$1
	((EUID == 0)) || sb_die "run as root (network namespaces, overlayfs, chroot)"
	local tool
	for tool in ip unshare nsenter mount chroot pgrep awk ssh-keygen; do
		command -v "$tool" >/dev/null || sb_die "needs $tool (bash scripts/install-deps.sh)"
	done
	for tool in sshboot bench_ready; do
		[[ -x $BUILD/$tool ]] || sb_die "no $BUILD/$tool: cmake --build $BUILD --target $tool"
	done
	{ sb_debian_root_tar "$CLUSTER_ROOT_TAR" "$CLUSTER_ROOT_PACKAGES" &&
		sb_debian_root_dir "$CLUSTER_ROOT_TAR" "$CLUSTER_ROOT_BASE"; } ||
		sb_die "could not build the cluster root $CLUSTER_ROOT_TAR"
	TMP=$(mktemp -d /tmp/sshboot-cluster-scale.XXXXXX)
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$TMP/client" </dev/null
	SECRET=$("$BUILD/sshboot" cluster secret | tail -n 1)
	make_network
	local i
	for ((i = 0; i < N; i++)); do make_root "$i"; done
	sb_log "$N nodes at $SUBNET.1-$N; load: $(cut -d' ' -f1-3 /proc/loadavg)"
	printf '== cluster_scale N=%d (%s)\n' "$N" "$("$BUILD/sshboot" --version)"
	local parts=" ${BENCH_PARTS:-overhead wait launchers memory storm} "
	[[ $parts != *" overhead "* ]] || measure_overhead
	if [[ $parts == *" wait "* ]]; then
		measure_cluster 0
		measure_cluster all
		[[ $parts != *" memory "* ]] || measure_memory
		[[ $parts != *" launchers "* ]] || measure_launchers
	fi
	stop_all
	[[ $parts != *" storm "* ]] || measure_storm
	stop_all
}

main "$@"
