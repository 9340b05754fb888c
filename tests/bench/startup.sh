#!/usr/bin/env bash
# Startup benchmark: how long sshboot takes from spawn to sshd's SSH banner,
# next to sshd alone and to the usual `ssh-keygen -A && sshd` start script,
# plus sshboot's memory, idle wake-ups, binary size and key-merge time.
# Prints figures with their targets; it is not a pass/fail test (exit 0 when
# every measurement could be made, whatever the figures).
#
#   sudo bash tests/bench/startup.sh [RUNS]      RUNS per variant, default 15
#
# Everything runs in one private mount namespace, in one writable copy (an
# overlay) of the e2e tests' cached Debian root (build/e2e/rootfs-base), on
# 127.0.0.1 and a free high port. The variants run interleaved
# (a,b,c,d,e,f,a,...) after one warm-up round that is not counted:
#   (a) floor     sshd -D -e -f <minimal config>, one Ed25519 host key present
#   (b) baseline  sh -c 'ssh-keygen -A && exec sshd -D -e -p PORT', host keys
#                 removed before each run
#   (c) cold      sshboot with an empty state directory
#   (d) warm      sshboot with the state directory the run before left
#   (e) cluster cold  (c) in cluster mode: SSHBOOT_CLUSTER_SECRET, rank 0 of
#                 three nodes on 127.0.0.1 (the peers need not run for the
#                 banner); its cost per node is e - c
#   (f) cluster warm  (d) in cluster mode
# (e) and (f) run in a second copy of the root: the cluster client key in
# authorized_keys, the launch variables in the session environment and the
# cluster's sshd_config would otherwise be what (c) must rewrite (and fsync)
# at its next start, a cost no container pays on its own first start.
# build/bench_ready does the timing (spawn, chroot, exec, poll connect()).
#
#   (g) compare   only with BENCH_COMPARE=FILE (another sshboot binary, such
#                 as an older release's): (c) with that binary, so that a
#                 change's cost on the cold start is c/g from one run
# Environment: SSHBOOT_BUILD_DIR (default build), BENCH_INTERVAL_US (connect
# poll interval, default 500), BENCH_IDLE_MS (idle window, default 10000),
# BENCH_COMPARE (see (g)).
set -euo pipefail

SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SCRIPT")/../.." && pwd)
BUILD=${SSHBOOT_BUILD_DIR:-$REPO/build}
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=scripts/lib/common.sh
SSHBOOT_REPO=$REPO SSHBOOT_BUILD_DIR=$BUILD source "$REPO/scripts/lib/common.sh"

CACHE=$BUILD/e2e
ROOT_TAR=$CACHE/root.tar
ROOT_BASE=$CACHE/rootfs-base
CONTAINER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
STATE_DIR=/var/lib/sshboot-bench
INTERVAL_US=${BENCH_INTERVAL_US:-500}
IDLE_MS=${BENCH_IDLE_MS:-10000}
COMPARE=${BENCH_COMPARE:-}
TIMEOUT_MS=20000

# Targets.
T_COLD_FLOOR=1.15 # c/a at most
T_COLD_BASE=0.1   # c/b at most
T_RSS_KB=2048     # VmHWM at most 2 MiB
T_SIZE=2097152    # stripped binary at most 2 MiB
T_MERGE_MS=20     # merge + write of 10,000 keys at most
T_CLUSTER_MS=5    # e - c (cluster mode's cost on each node's start) at most

usage() {
	printf 'usage: bash %s [RUNS]   (as root; RUNS per variant, default 15)\n' "$0" >&2
	exit 2
}

# verdict OK: "met" or "NOT met".
verdict() {
	if [[ $1 == 1 ]]; then printf 'met'; else printf 'NOT met'; fi
}

# le A B: 1 when A <= B (decimal numbers), else 0.
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }

# stats NUMBER...: "median MIN MAX" (median of an even count: mean of the two
# middle values).
stats() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f %.1f %.1f\n", m, v[1], v[NR]
		}'
}

# field NAME LINE: the value of NAME=VALUE in a bench_ready output line.
field() {
	local re="(^| )$1=([^ ]*)"
	[[ $2 =~ $re ]] || sb_die "no $1 in bench_ready output: $2"
	printf '%s\n' "${BASH_REMATCH[2]}"
}

# --- outside the namespace ---------------------------------------------------

# The cached root, shared with the e2e tests.
prepare_base() {
	sb_debian_root_dir "$ROOT_TAR" "$ROOT_BASE" || sb_die "could not build the Debian root $ROOT_TAR"
}

# Builds the binaries the benchmark needs when they are missing.
ensure_binaries() {
	local missing=() target
	for target in sshboot bench_ready bench_merge; do
		[[ -x $BUILD/$target ]] || missing+=("$target")
	done
	((${#missing[@]})) || return 0
	command -v cmake >/dev/null || sb_die "needs cmake to build ${missing[*]}"
	[[ -e $BUILD/CMakeCache.txt ]] ||
		sb_die "no build in $BUILD: cmake -S $REPO -B $BUILD && cmake --build $BUILD"
	sb_log "building ${missing[*]}"
	cmake --build "$BUILD" -j"$(nproc)" --target "${missing[@]}" >&2
}

outer_main() {
	local runs=${1:-15}
	(($# <= 1)) || usage
	[[ $runs =~ ^[1-9][0-9]*$ ]] || usage
	((EUID == 0)) || sb_die "run as root (mount namespaces, overlayfs, chroot)"
	local tool
	for tool in unshare mount umount chroot flock tar ss ssh-keygen strip awk sort; do
		command -v "$tool" >/dev/null || sb_die "needs $tool (bash scripts/install-deps.sh)"
	done
	ensure_binaries
	if [[ -n $COMPARE && ! (-f $COMPARE && -x $COMPARE) ]]; then
		sb_die "BENCH_COMPARE=$COMPARE is not an executable file: give the path of another sshboot binary"
	fi
	prepare_base
	local tmp
	tmp=$(mktemp -d /tmp/sshboot-bench.XXXXXX)
	# The mounts live in the namespace and vanish with it; the files are ours.
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	# --uts: SB_NS_INIT sets a hostname, which must not be the machine's.
	# In the background, so that INT and TERM can be passed on to it; it
	# cleans up and ends within bounds.
	unshare --mount --uts --propagation private -- bash "$SCRIPT" __inner "$runs" "$tmp" &
	local inner=$! status=0
	# shellcheck disable=SC2064 # expand now: inner is local
	trap "kill -TERM $inner 2>/dev/null || true" INT TERM
	wait "$inner" || status=$?
	while kill -0 "$inner" 2>/dev/null; do
		status=0
		wait "$inner" || status=$?
	done
	trap - INT TERM
	return "$status"
}

# --- inside the namespace ----------------------------------------------------

ROOT=
CLUSTER_ROOT=
TMP=
PORT=
BENCH_PID=
RESULT=

# pids of processes whose root directory is one of the benchmark roots.
procs_in_root() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		[[ $r == "$ROOT" || $r == "$CLUSTER_ROOT" ]] && printf '%s\n' "${p#/proc/}"
	done
	return 0
}

inner_cleanup() {
	local status=$? pids p deadline
	trap - INT TERM
	if [[ -n $BENCH_PID ]]; then
		# bench_ready stops its child and reaps what is left, within bounds.
		kill -TERM "$BENCH_PID" 2>/dev/null || true
		wait "$BENCH_PID" 2>/dev/null || true
	fi
	if [[ -n $ROOT ]]; then
		# Anything still running in the root (bench_ready died?) goes first.
		deadline=$((SECONDS + 5))
		while pids=$(procs_in_root) && [[ -n $pids ]] && ((SECONDS < deadline)); do
			for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
			sleep 0.05
		done
		local r
		for r in "$ROOT" "$CLUSTER_ROOT"; do
			[[ -n $r ]] || continue
			umount -R "$r" 2>/dev/null || umount -R -l "$r" 2>/dev/null || true
		done
	fi
	exit "$status"
}

# wait_clean: bounded poll until no process runs in the root and the port is
# free (bench_ready reaps what it started; this checks it did).
wait_clean() {
	local deadline=$((SECONDS + 10))
	while [[ -n $(procs_in_root) ]] || sb_port_in_use "$PORT"; do
		((SECONDS < deadline)) || sb_die "port $PORT still in use or processes left in the root: $(procs_in_root | tr '\n' ' ')"
		sleep 0.02
	done
}

# bench VARIANT [bench_ready OPTIONS] -- ARGV...: one timed start (in
# $CLUSTER_ROOT for e and f, else $ROOT); leaves bench_ready's output line in
# $RESULT. bench_ready runs in the background so
# that a signal to this script reaches the traps at once (cleanup stops it).
bench() {
	local variant=$1 status=0 root=$ROOT
	shift
	[[ $variant != [ef] ]] || root=$CLUSTER_ROOT
	wait_clean
	"$BUILD/bench_ready" --root "$root" --port "$PORT" --timeout-ms "$TIMEOUT_MS" \
		--interval-us "$INTERVAL_US" --log "$TMP/log.$variant" --env "PATH=$CONTAINER_PATH" \
		"$@" >"$TMP/result" &
	BENCH_PID=$!
	wait "$BENCH_PID" || status=$?
	BENCH_PID=
	if ((status != 0)); then
		printf '%s\n' "--- last lines of $TMP/log.$variant ---" >&2
		tail -n 20 "$TMP/log.$variant" >&2 || true
		sb_die "variant $variant did not come up"
	fi
	RESULT=$(<"$TMP/result")
}

SSHBOOT_ENV=()
CLUSTER_ENV=()
CONNECT_LINE=

# mount_root NAME: a writable copy of the cached root at $TMP/NAME, mounted as
# a container runtime would, with sshboot installed.
mount_root() {
	local root=$TMP/$1 upper=$TMP/$1.upper work=$TMP/$1.work
	mkdir -p "$root" "$upper" "$work"
	mount -t overlay overlay -o "lowerdir=$ROOT_BASE,upperdir=$upper,workdir=$work" "$root"
	# /dev with the basic nodes, devpts, /dev/shm, a tmpfs on /run, /sys (what
	# a container runtime mounts); then /proc of this PID namespace (the
	# host's: sshboot is not PID 1 here and becomes a child subreaper).
	sh -c "$SB_NS_INIT" bench-init "$root" true
	mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
	install -m 0755 "$BUILD/sshboot" "$root/usr/local/bin/sshboot"
	mkdir -p "$root/run/sshd"
	chmod 0755 "$root/run/sshd"
}

prepare_root() {
	ROOT=$TMP/root
	CLUSTER_ROOT=$TMP/cluster-root
	mount_root root
	mount_root cluster-root
	# (g) runs in $ROOT only.
	[[ -z $COMPARE ]] || install -m 0755 "$COMPARE" "$ROOT/usr/local/bin/sshboot-compare"

	PORT=$(sb_free_port) || sb_die "found no free TCP port"

	# (a): one Ed25519 host key and a minimal config.
	ssh-keygen -q -t ed25519 -N '' -C bench-floor -f "$ROOT/etc/ssh/bench_floor_ed25519_key" </dev/null
	cat >"$ROOT/etc/ssh/bench_floor_config" <<-EOF
		Port $PORT
		HostKey /etc/ssh/bench_floor_ed25519_key
		PidFile none
	EOF
	chroot "$ROOT" /usr/sbin/sshd -t -f /etc/ssh/bench_floor_config ||
		sb_die "sshd -t rejects the floor config"

	# A real public key for sshboot to install.
	ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$TMP/client" </dev/null
	SSHBOOT_ENV=(
		--env HOME=/root
		--env "SSH_PUBLIC_KEY=$(cat "$TMP/client.pub")"
		--env "SSH_PORT=$PORT"
		--env RUNPOD_PUBLIC_IP=127.0.0.1
		--env "RUNPOD_TCP_PORT_22=$PORT"
		--env "SSHBOOT_STATE_DIR=$STATE_DIR"
	)
	CONNECT_LINE="ssh root@127.0.0.1 -p $PORT"

	# (e), (f): node 0 of three on 127.0.0.1; the other two ports stay closed.
	local secret p1 p2
	secret=$("$BUILD/sshboot" cluster secret | tail -n 1)
	[[ -n $secret ]] || sb_die "sshboot cluster secret printed nothing"
	p1=$(sb_free_port) || sb_die "found no free TCP port"
	p2=$p1
	while [[ $p2 == "$p1" || $p2 == "$PORT" || $p1 == "$PORT" ]]; do
		p1=$(sb_free_port) || sb_die "found no free TCP port"
		p2=$(sb_free_port) || sb_die "found no free TCP port"
	done
	CLUSTER_ENV=(
		"${SSHBOOT_ENV[@]}"
		--env "SSHBOOT_CLUSTER_SECRET=$secret"
		--env SSHBOOT_CLUSTER_RANK=0
		--env "SSHBOOT_CLUSTER_HOSTS=127.0.0.1:$PORT,127.0.0.1:$p1,127.0.0.1:$p2"
	)
}

# run_variant a|b|c|d|e|f: prepare and time one start; bench_ready's line in $RESULT.
run_variant() {
	case $1 in
	a)
		bench a --env HOME=/root -- /usr/sbin/sshd -D -e -f /etc/ssh/bench_floor_config
		;;
	b)
		rm -f "$ROOT"/etc/ssh/ssh_host_*
		mkdir -p "$ROOT/run/sshd"
		bench b --env HOME=/root -- /bin/sh -c \
			"ssh-keygen -A && exec /usr/sbin/sshd -D -e -p $PORT"
		;;
	c | g)
		local bin=/usr/local/bin/sshboot
		[[ $1 == c ]] || bin+=-compare
		rm -rf "${ROOT:?}$STATE_DIR"
		bench "$1" "${SSHBOOT_ENV[@]}" --stdout-marker "$CONNECT_LINE" -- "$bin"
		;;
	d)
		[[ -d $ROOT$STATE_DIR ]] || sb_die "no state directory left for the warm run"
		bench d "${SSHBOOT_ENV[@]}" --stdout-marker "$CONNECT_LINE" -- /usr/local/bin/sshboot
		;;
	e)
		rm -rf "${CLUSTER_ROOT:?}$STATE_DIR"
		bench e "${CLUSTER_ENV[@]}" --stdout-marker "$CONNECT_LINE" -- /usr/local/bin/sshboot
		;;
	f)
		[[ -d $CLUSTER_ROOT$STATE_DIR ]] || sb_die "no state directory left for the warm cluster run"
		bench f "${CLUSTER_ENV[@]}" --stdout-marker "$CONNECT_LINE" -- /usr/local/bin/sshboot
		;;
	esac
}

inner_main() {
	local runs=$1
	TMP=$2
	trap inner_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	prepare_root

	local -A banner=() connect=() marker=()
	local v i
	local -a variants=(a b c d e f)
	[[ -z $COMPARE ]] || variants+=(g)
	sb_log "port $PORT; 1 warm-up round, then $runs interleaved rounds of $(
		IFS=,
		printf '%s' "${variants[*]}"
	)"
	for v in "${variants[@]}"; do run_variant "$v"; done
	for ((i = 1; i <= runs; i++)); do
		for v in "${variants[@]}"; do
			run_variant "$v"
			banner[$v]+="$(field banner_ms "$RESULT") "
			connect[$v]+="$(field connect_ms "$RESULT") "
			if [[ $v == [cdefg] ]]; then
				marker[$v]+="$(field marker_ms "$RESULT") "
			fi
		done
		printf '.' >&2
	done
	printf '\n' >&2

	# A separate warm start for memory and idle wake-ups, measured once
	# sshboot has printed its connect block (it supervises from then on).
	sb_log "sshboot idle for $((IDLE_MS / 1000)) s (memory, context switches)"
	local idle
	bench idle "${SSHBOOT_ENV[@]}" --stdout-marker "$CONNECT_LINE" --idle-ms "$IDLE_MS" \
		-- /usr/local/bin/sshboot
	idle=$RESULT

	local stripped=$TMP/sshboot.stripped size merge_out
	strip -o "$stripped" "$BUILD/sshboot"
	size=$(stat -c %s "$stripped")
	merge_out=$("$BUILD/bench_merge" 10000)

	# --- report ---
	local -A med=()
	declare -A names=(
		[a]="(a) floor: sshd, host key present    "
		[b]="(b) baseline: ssh-keygen -A && sshd  "
		[c]="(c) sshboot cold (empty state dir)   "
		[d]="(d) sshboot warm (state dir kept)    "
		[e]="(e) cluster mode cold, node 0 of 3   "
		[f]="(f) cluster mode warm, node 0 of 3   "
		[g]="(g) BENCH_COMPARE cold               "
	)
	local -a words
	printf '\nsshboot startup benchmark: %s runs each, interleaved, 127.0.0.1:%s, connect poll every %s us\n' \
		"$runs" "$PORT" "$INTERVAL_US"
	printf '%s, %s, %s cores\n' "$(chroot "$ROOT" /usr/sbin/sshd -V 2>&1 | head -n 1)" "$(uname -r)" "$(nproc)"
	local m l h
	[[ -z $COMPARE ]] || printf '(g) is %s\n' "$COMPARE"
	printf '\nspawn to SSH banner (ms)          median     min     max\n'
	for v in "${variants[@]}"; do
		read -r -a words <<<"${banner[$v]}"
		read -r m l h <<<"$(stats "${words[@]}")"
		med[$v]=$m
		printf '  %s %7s %7s %7s\n' "${names[$v]}" "$m" "$l" "$h"
	done
	# Not targets: where the time between spawn and banner lies.
	printf '\nspawn to accepted connect(), i.e. sshd listens (ms)\n'
	for v in "${variants[@]}"; do
		read -r -a words <<<"${connect[$v]}"
		read -r m l h <<<"$(stats "${words[@]}")"
		printf '  %s %7s %7s %7s\n' "${names[$v]}" "$m" "$l" "$h"
	done
	printf '\nspawn to connect block on stdout (ms, sshboot only)\n'
	for v in "${variants[@]}"; do
		[[ $v == [cdefg] ]] || continue
		read -r -a words <<<"${marker[$v]}"
		read -r m l h <<<"$(stats "${words[@]}")"
		printf '  %s %7s %7s %7s\n' "${names[$v]}" "$m" "$l" "$h"
	done

	local ca da cb
	ca=$(awk -v x="${med[c]}" -v y="${med[a]}" 'BEGIN { printf "%.3f", x / y }')
	da=$(awk -v x="${med[d]}" -v y="${med[a]}" 'BEGIN { printf "%.3f", x / y }')
	cb=$(awk -v x="${med[c]}" -v y="${med[b]}" 'BEGIN { printf "%.3f", x / y }')
	printf '\nratios of the medians\n'
	printf '  c/a (cold vs floor)     %6s   target at most %s: %s\n' "$ca" "$T_COLD_FLOOR" "$(verdict "$(le "$ca" "$T_COLD_FLOOR")")"
	printf '  d/a (warm vs floor)     %6s   target at most %s (as c/a): %s\n' "$da" "$T_COLD_FLOOR" "$(verdict "$(le "$da" "$T_COLD_FLOOR")")"
	printf '  c/b (cold vs baseline)  %6s   target at most %s: %s\n' "$cb" "$T_COLD_BASE" "$(verdict "$(le "$cb" "$T_COLD_BASE")")"
	if [[ -n $COMPARE ]]; then
		local cg ga
		cg=$(awk -v x="${med[c]}" -v y="${med[g]}" 'BEGIN { printf "%.3f", x / y }')
		ga=$(awk -v x="${med[g]}" -v y="${med[a]}" 'BEGIN { printf "%.3f", x / y }')
		printf '  c/g (this build vs BENCH_COMPARE, cold)  %6s   (g/a %s)\n' "$cg" "$ga"
	fi

	# Cluster mode's cost is paid by each node on its own start (derive the
	# keys, sign the certificate, write the launch files), whatever the
	# cluster's size: e - c is that cost. Judged per start (the strict
	# reading of "per node"); divided by the 3 nodes for reference.
	local ec ecr ecn fd fdr fdn
	ec=$(awk -v x="${med[e]}" -v y="${med[c]}" 'BEGIN { printf "%.1f", x - y }')
	ecr=$(awk -v x="${med[e]}" -v y="${med[c]}" 'BEGIN { printf "%.3f", x / y }')
	ecn=$(awk -v x="$ec" 'BEGIN { printf "%.1f", x / 3 }')
	fd=$(awk -v x="${med[f]}" -v y="${med[d]}" 'BEGIN { printf "%.1f", x - y }')
	fdr=$(awk -v x="${med[f]}" -v y="${med[d]}" 'BEGIN { printf "%.3f", x / y }')
	fdn=$(awk -v x="$fd" 'BEGIN { printf "%.1f", x / 3 }')
	printf '\ncluster mode (node 0 of 3): added to one node start, difference of the medians\n'
	printf '  e-c (cold)              %6s ms (e/c %s; /3 nodes: %s ms)   target under %s ms: %s\n' \
		"$ec" "$ecr" "$ecn" "$T_CLUSTER_MS" "$(verdict "$(awk -v a="$ec" -v b="$T_CLUSTER_MS" 'BEGIN { print (a < b) ? 1 : 0 }')")"
	printf '  f-d (warm)              %6s ms (f/d %s; /3 nodes: %s ms)   target under %s ms: %s\n' \
		"$fd" "$fdr" "$fdn" "$T_CLUSTER_MS" "$(verdict "$(awk -v a="$fd" -v b="$T_CLUSTER_MS" 'BEGIN { print (a < b) ? 1 : 0 }')")"

	local hwm rss anon file v0 v1 n0 n1 idle_ms dv
	hwm=$(field vmhwm_kb "$idle")
	rss=$(field vmrss_kb "$idle")
	anon=$(field rssanon_kb "$idle")
	file=$(field rssfile_kb "$idle")
	v0=$(field vctx_before "$idle")
	v1=$(field vctx_after "$idle")
	n0=$(field nvctx_before "$idle")
	n1=$(field nvctx_after "$idle")
	idle_ms=$(field idle_ms "$idle")
	dv=$((v1 - v0))
	printf '\nsshboot while supervising\n'
	printf '  peak RSS (VmHWM)        %6s KiB (now VmRSS %s = anon %s + file %s)   target at most %s KiB: %s\n' \
		"$hwm" "$rss" "$anon" "$file" "$T_RSS_KB" "$(verdict "$(le "$hwm" "$T_RSS_KB")")"
	printf '  voluntary ctx switches  %6s in %s ms idle (%s -> %s; involuntary %s -> %s)   target 0: %s\n' \
		"$dv" "$idle_ms" "$v0" "$v1" "$n0" "$n1" "$(verdict "$(le "$dv" 0)")"

	printf '\nbinary\n'
	printf '  stripped size           %s bytes (%.2f MiB; unstripped %s)   target at most 2 MiB: %s\n' \
		"$size" "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" "$(stat -c %s "$BUILD/sshboot")" \
		"$(verdict "$(le "$size" "$T_SIZE")")"

	local merge_ms write_ms sum
	merge_ms=$(awk '/merge into the managed block/ { print $(NF - 5) }' <<<"$merge_out")
	write_ms=$(awk '/write authorized_keys/ { print $(NF - 5) }' <<<"$merge_out")
	[[ -n $merge_ms && -n $write_ms ]] || sb_die "cannot read bench_merge's output: $merge_out"
	sum=$(awk -v m="$merge_ms" -v w="$write_ms" 'BEGIN { printf "%.2f", m + w }')
	printf '\nbench_merge (build/bench_merge 10000)\n'
	# shellcheck disable=SC2001 # indent every line
	sed 's/^/  /' <<<"$merge_out"
	printf '  merge + write           %s ms (medians)   target at most %s ms: %s\n' \
		"$sum" "$T_MERGE_MS" "$(verdict "$(le "$sum" "$T_MERGE_MS")")"
}

if [[ ${1:-} == __inner ]]; then
	shift
	inner_main "$@"
else
	outer_main "$@"
fi
