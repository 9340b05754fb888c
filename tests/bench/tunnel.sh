#!/usr/bin/env bash
# Tunnel benchmark: SSH through nginx (TLS, WebSocket) and sshboot's tunnel,
# next to SSH through nginx's plain TCP proxy (the stream module), both on
# loopback, in one run. Prints figures with their targets; it is not a
# pass/fail test (exit 0 when every measurement could be made).
#
#   sudo bash tests/bench/tunnel.sh [ROUNDS]     ROUNDS default 3
#
#   throughput  `ssh HOST cat >/dev/null` fed BENCH_MIB MiB (default 1024),
#               the two paths interleaved (tunnel, tcp, tunnel, ...); median
#               MiB/s of each; ratio tunnel/tcp (target >= 0.8); beside them
#               the tunnel without the proxy (ws:// straight to the tunnel
#               port), TLS alone as a reference (socat's TLS client to
#               nginx's stream proxy ending TLS, straight to sshd: no
#               WebSocket, no tunnel; what any tunnel behind a TLS proxy
#               costs at least), and the CPU time per GiB of the tunnel's
#               client, its server and nginx on each path (what the tunnel
#               adds, by part)
#   latency     median round trip of one byte through `ssh HOST cat`
#               (BENCH_ECHOES, default 300, per path); the tunnel's added
#               latency = tunnel - tcp (target <= 0.3 ms)
#               and the machine's CPU time per GiB on each path
#   memory      the tunnel process's VmRSS idle, once the sessions above have
#               closed (target <= 2 MiB; also what of it is anonymous,
#               private and its PSS); with one tunnel open; and per further
#               open tunnel, from BENCH_TUNNELS (default 8) more idle ssh
#               sessions (target <= 256 KiB each)
#
# sshboot runs as PID 1 of its own namespaces in a writable copy (overlay) of
# the e2e tests' cached Debian root, as the e2e tests run it.
# Environment: SSHBOOT_BUILD_DIR (default build).
set -euo pipefail

SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SCRIPT")/../.." && pwd)
BUILD=${SSHBOOT_BUILD_DIR:-$REPO/build}
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=scripts/lib/common.sh
SSHBOOT_REPO=$REPO SSHBOOT_BUILD_DIR=$BUILD source "$REPO/scripts/lib/common.sh"
# shellcheck source=tests/e2e/tunnel_helper.bash
source "$REPO/tests/e2e/tunnel_helper.bash"

ROUNDS=${1:-3}
MIB=${BENCH_MIB:-1024}
ECHOES=${BENCH_ECHOES:-300}
TUNNELS=${BENCH_TUNNELS:-8}
ROOT_TAR=$BUILD/e2e/root.tar
ROOT_BASE=$BUILD/e2e/rootfs-base
CONTAINER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || sb_die "usage: bash $0 [ROUNDS]"
((EUID == 0)) || sb_die "run as root (namespaces, overlayfs, chroot)"
for tool in unshare mount chroot ssh ssh-keygen nginx openssl socat awk sort; do
	command -v "$tool" >/dev/null || sb_die "needs $tool (bash scripts/install-deps.sh)"
done
[[ -x /usr/bin/python3 ]] || sb_die "needs /usr/bin/python3"
[[ -x $BUILD/sshboot ]] || sb_die "no $BUILD/sshboot: build it first"
sb_debian_root_dir "$ROOT_TAR" "$ROOT_BASE" || sb_die "could not build the Debian root"

TMP=$(mktemp -d /tmp/sshboot-tunnel-bench.XXXXXX)
ROOT=$TMP/root
NS_PID=
SESSION_PIDS=()

cleanup() {
	local pid i
	for pid in "${SESSION_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	tunnel_nginx_stop "$TMP/nginx" || true
	if [[ -n $NS_PID ]]; then
		kill -TERM "$(pgrep -P "$NS_PID" | head -n 1)" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$NS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$NS_PID" 2>/dev/null || true
		wait "$NS_PID" 2>/dev/null || true
	fi
	if mountpoint -q "$ROOT" 2>/dev/null; then
		umount -R "$ROOT" 2>/dev/null || umount -R -l "$ROOT"
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
verdict() { awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN { ok = (op == "le") ? (a <= b) : (a >= b); print ok ? "ok" : "MISSED" }'; }

# --- the container and the proxy ---------------------------------------------
mkdir -p "$ROOT" "$TMP/upper" "$TMP/work"
mount -t overlay overlay -o "lowerdir=$ROOT_BASE,upperdir=$TMP/upper,workdir=$TMP/work" "$ROOT"
install -m 0755 "$BUILD/sshboot" "$ROOT/usr/local/bin/sshboot"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/id" </dev/null
SSH_PORT=$(sb_free_port)
TUNNEL_PORT=$(sb_free_port)
tunnel_nginx_start "$TMP/nginx" "$TUNNEL_PORT" "$SSH_PORT" || sb_die "nginx did not start"
URL="wss://localhost:$TUNNEL_NGINX_PORT/ssh"
unshare --pid --fork --kill-child --mount --uts --ipc --mount-proc="$ROOT/proc" \
	/bin/sh -c "$SB_NS_INIT" sshboot-init "$ROOT" \
	/usr/bin/env -i PATH="$CONTAINER_PATH" HOSTNAME=sshboot HOME=/root \
	SSH_PORT="$SSH_PORT" SSHBOOT_TUNNEL_PORT="$TUNNEL_PORT" SSHBOOT_TUNNEL_URL="$URL" \
	SSH_PUBLIC_KEY="$(cat "$TMP/id.pub")" SSHBOOT_KEEP_ALIVE=1 \
	/usr/sbin/chroot "$ROOT" /usr/local/bin/sshboot </dev/null >"$TMP/out" 2>"$TMP/err" &
NS_PID=$!
for ((i = 0; i < 200; i++)); do
	sb_port_in_use "$SSH_PORT" && sb_port_in_use "$TUNNEL_PORT" && break
	kill -0 "$NS_PID" 2>/dev/null || sb_die "sshboot exited: $(tail -n 5 "$TMP/err")"
	sleep 0.1
done
sb_port_in_use "$TUNNEL_PORT" || sb_die "the tunnel does not listen on $TUNNEL_PORT: $(tail -n 5 "$TMP/err")"

# The client runs under a shell that appends its CPU time (bash's `times`:
# user and system time of itself and of its children, on one line) to
# client.times when it ends; ssh ends its ProxyCommand with SIGHUP, which the
# shell passes on, and does not wait for it to end.
cat >"$TMP/client.sh" <<'SH'
#!/bin/bash
"$@" <&0 &
child=$!
trap 'kill -HUP "$child" 2>/dev/null' HUP TERM
wait "$child"
while kill -0 "$child" 2>/dev/null; do wait "$child"; done
# (times in the shell itself: a command substitution would time a subshell)
times >"${0%/*}/client.$$"
paste -s -d ' ' "${0%/*}/client.$$" >>"${0%/*}/client.times"
rm -f "${0%/*}/client.$$"
SH
chmod +x "$TMP/client.sh"
cat >"$TMP/ssh_config" <<CONF
Host tunnel
  HostName localhost
  ProxyCommand $TMP/client.sh $BUILD/sshboot tunnel --cacert $TMP/nginx/ca.pem $URL
Host direct
  HostName localhost
  ProxyCommand $TMP/client.sh $BUILD/sshboot tunnel ws://127.0.0.1:$TUNNEL_PORT/ssh
Host tls
  HostName localhost
  ProxyCommand $TMP/client.sh socat -b 262144 - OPENSSL:localhost:$TUNNEL_STREAM_TLS_PORT,cafile=$TMP/nginx/ca.pem
Host tcp
  HostName 127.0.0.1
  Port $TUNNEL_STREAM_PORT
Host *
  User root
  IdentityFile $TMP/id
  IdentitiesOnly yes
  BatchMode yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  GlobalKnownHostsFile /dev/null
  LogLevel ERROR
CONF
SSH=(/usr/bin/ssh -F "$TMP/ssh_config")
for path in tunnel direct tls tcp; do
	"${SSH[@]}" "$path" true </dev/null || sb_die "no login through the $path path"
done

# The tunnel process: sshboot's tunnel server in the root, not running as root.
tunnel_pid() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		[[ $r == "$ROOT" ]] || continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- '__tunnel-serve' || continue
		awk '/^Uid:/ { exit !($2 != 0) }' "$p/status" 2>/dev/null && {
			printf '%s\n' "${p#/proc/}"
			return 0
		}
	done
	return 1
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# status_kib PID FIELD: a size from /proc/PID/status (RssAnon, RssFile).
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# rollup_kib PID FIELD: a sum from /proc/PID/smaps_rollup (Pss, Private_Dirty).
rollup_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup"; }
# busy_ticks: the whole machine's busy CPU time so far, in clock ticks.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# proc_ticks PID: one process's CPU time (user + system) so far, in clock
# ticks (fields 14 and 15 of /proc/PID/stat).
proc_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# client_ticks N: the CPU time of the clients that ended since the last call
# (the last two fields of each line client.sh wrote, "XmY.YYYs XmZ.ZZZs":
# its children's), in clock ticks, once N of them have (at most 10 s: ssh
# has gone before its ProxyCommand); starts a new count.
client_ticks() {
	local f=$TMP/client.times i
	touch "$f"
	for ((i = 0; i < 100 && $(wc -l <"$f") < $1; i++)); do sleep 0.1; done
	tr 'm' ' ' <"$f" | tr -d 's' |
		awk -v hz="$hz" '{ t += $5 * 60 + $6 + $7 * 60 + $8 } END { printf "%d", t * hz }'
	: >"$f"
}

# --- throughput ----------------------------------------------------------------
sb_log "throughput: $MIB MiB per transfer, $ROUNDS rounds, paths interleaved"
declare -A rates=() cpus=() parts=()
hz=$(getconf CLK_TCK)
server_pid=$(tunnel_pid) || sb_die "found no unprivileged sshboot (the tunnel process) in the root"
nginx_pid=$(pgrep -P "$(cat "$TMP/nginx/nginx.pid")" | head -n 1)
[[ -n $nginx_pid ]] || sb_die "found no nginx worker"
# per_gib TICKS: clock ticks as CPU seconds per GiB carried.
per_gib() { awk -v t="$1" -v hz="$hz" -v m="$MIB" 'BEGIN { printf "%.2f", t / hz / (m / 1024) }'; }
for ((r = 1; r <= ROUNDS; r++)); do
	for path in tunnel direct tls tcp; do
		client_ticks 0 >/dev/null
		ticks=$(busy_ticks)
		server_ticks=$(proc_ticks "$server_pid")
		nginx_ticks=$(proc_ticks "$nginx_pid")
		start=$(date +%s.%N)
		head -c "$((MIB * 1024 * 1024))" /dev/zero | "${SSH[@]}" "$path" 'cat >/dev/null'
		end=$(date +%s.%N)
		ticks=$(($(busy_ticks) - ticks))
		clients=1
		[[ $path != tcp ]] || clients=0
		parts[$path-client]+="$(per_gib "$(client_ticks "$clients")") "
		parts[$path-server]+="$(per_gib $(($(proc_ticks "$server_pid") - server_ticks))) "
		parts[$path-nginx]+="$(per_gib $(($(proc_ticks "$nginx_pid") - nginx_ticks))) "
		rate=$(awk -v m="$MIB" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", m / (e - s) }')
		# CPU time of the whole machine (every process on the path, and the
		# kernel's loopback TCP) per GiB carried.
		cpu=$(awk -v t="$ticks" -v hz="$hz" -v m="$MIB" 'BEGIN { printf "%.2f", t / hz / (m / 1024) }')
		rates[$path]+="$rate "
		cpus[$path]+="$cpu "
		printf '  round %d %-6s %8s MiB/s  %6s CPU s/GiB\n' "$r" "$path" "$rate" "$cpu"
	done
done
# of LIST: the median of a list of figures.
of() { tr ' ' '\n' <<<"$1" | grep . | median; }
tun_cpu=$(of "${cpus[tunnel]}")
tcp_cpu=$(of "${cpus[tcp]}")
tun_rate=$(of "${rates[tunnel]}")
tcp_rate=$(of "${rates[tcp]}")
direct_rate=$(of "${rates[direct]}")
tls_rate=$(of "${rates[tls]}")
# rate_ratio A B: A / B to two places.
rate_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ratio=$(rate_ratio "$tun_rate" "$tcp_rate")
direct_ratio=$(rate_ratio "$direct_rate" "$tcp_rate")
tls_ratio=$(rate_ratio "$tls_rate" "$tcp_rate")
tun_tls_ratio=$(rate_ratio "$tun_rate" "$tls_rate")

# --- latency -------------------------------------------------------------------
cat >"$TMP/echo.py" <<'PY'
import subprocess, sys, time
n = int(sys.argv[1])
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
p.stdin.write(b"x"); p.stdout.read(1)  # warm up: the session is set up
times = []
for _ in range(n):
    t = time.perf_counter()
    p.stdin.write(b"x")
    if p.stdout.read(1) != b"x":
        sys.exit("echo broke")
    times.append(time.perf_counter() - t)
p.stdin.close(); p.wait()
times.sort()
print("%.1f" % (times[len(times) // 2] * 1e6))
PY
declare -A lats=()
for ((r = 1; r <= ROUNDS; r++)); do
	for path in tunnel tcp; do
		lat=$(/usr/bin/python3 "$TMP/echo.py" "$ECHOES" "${SSH[@]}" -T "$path" 'exec cat')
		lats[$path]+="$lat "
	done
done
tun_lat=$(tr ' ' '\n' <<<"${lats[tunnel]}" | grep . | median)
tcp_lat=$(tr ' ' '\n' <<<"${lats[tcp]}" | grep . | median)
added=$(awk -v a="$tun_lat" -v b="$tcp_lat" 'BEGIN { printf "%.3f", (a - b) / 1000 }')

# --- memory --------------------------------------------------------------------
pid=$server_pid
# open_tunnels: connections the tunnel process has open now.
open_tunnels() { ss -Htn state established "( sport = :$TUNNEL_PORT )" | wc -l; }
# settle N: waits until N tunnels are open and the tunnel process's memory
# stops moving (a session's login is done some time after its connection).
settle() {
	local i prev=-1 cur
	for ((i = 0; i < 300 && $(open_tunnels) != $1; i++)); do sleep 0.1; done
	for ((i = 0; i < 50; i++)); do
		cur=$(rss_kib "$pid")
		[[ $cur == "$prev" ]] && break
		prev=$cur
		sleep 0.3
	done
}
# open_sessions N: N more idle ssh sessions through the tunnel.
open_sessions() {
	local i
	for ((i = 0; i < $1; i++)); do
		"${SSH[@]}" -N tunnel </dev/null 2>/dev/null &
		SESSION_PIDS+=("$!")
	done
}
# Idle: no tunnel open, after all the traffic above.
settle 0
idle_rss=$(rss_kib "$pid")
idle_anon=$(status_kib "$pid" RssAnon)
idle_file=$(status_kib "$pid" RssFile)
idle_pss=$(rollup_kib "$pid" Pss)
idle_private=$(($(rollup_kib "$pid" Private_Clean) + $(rollup_kib "$pid" Private_Dirty)))
# The first tunnel maps again the binary's pages the idle process gave back
# (shared with every process of the binary); each further tunnel costs what
# is its own (buffers, sockets, state).
open_sessions 1
settle 1
one_rss=$(rss_kib "$pid")
open_sessions "$TUNNELS"
settle $((TUNNELS + 1))
open=$(open_tunnels)
busy_rss=$(rss_kib "$pid")
per_tunnel=$(awk -v a="$busy_rss" -v b="$one_rss" -v n="$TUNNELS" 'BEGIN { printf "%.0f", (a - b) / n }')

printf '\n%-44s %12s %12s  %s\n' "figure" "value" "target" "verdict"
printf '%-44s %12s %12s\n' "throughput via nginx + tunnel (MiB/s)" "$tun_rate" ""
printf '%-44s %12s %12s\n' "throughput via nginx stream TCP (MiB/s)" "$tcp_rate" ""
printf '%-44s %12s %12s  %s\n' "ratio tunnel/TCP" "$ratio" ">= 0.8" "$(verdict "$ratio" 0.8 ge)"
printf '%-44s %12s %12s\n' "throughput via the tunnel, no proxy (MiB/s)" "$direct_rate" ""
printf '%-44s %12s %12s\n' "ratio tunnel without proxy/TCP" "$direct_ratio" ""
printf '%-44s %12s %12s\n' "throughput, TLS alone: socat, stream (MiB/s)" "$tls_rate" ""
printf '%-44s %12s %12s\n' "ratio TLS alone/TCP" "$tls_ratio" ""
printf '%-44s %12s %12s\n' "ratio tunnel/TLS alone" "$tun_tls_ratio" ""
printf '%-44s %12s %12s\n' "machine CPU per GiB via tunnel (s, median)" "$tun_cpu" ""
printf '%-44s %12s %12s\n' "  of it the tunnel client" "$(of "${parts[tunnel-client]}")" ""
printf '%-44s %12s %12s\n' "  of it the tunnel server" "$(of "${parts[tunnel-server]}")" ""
printf '%-44s %12s %12s\n' "  of it nginx (TLS, WebSocket proxy)" "$(of "${parts[tunnel-nginx]}")" ""
printf '%-44s %12s %12s\n' "machine CPU per GiB via TCP (s, median)" "$tcp_cpu" ""
printf '%-44s %12s %12s\n' "  of it nginx (stream proxy)" "$(of "${parts[tcp-nginx]}")" ""
printf '%-44s %12s %12s\n' "machine CPU per GiB, TLS alone (s, median)" "$(of "${cpus[tls]}")" ""
printf '%-44s %12s %12s\n' "  of it socat (TLS client)" "$(of "${parts[tls-client]}")" ""
printf '%-44s %12s %12s\n' "  of it nginx (stream proxy, TLS)" "$(of "${parts[tls-nginx]}")" ""
printf '%-44s %12s %12s\n' "tunnel client / server CPU, no proxy (s/GiB)" "$(of "${parts[direct-client]}")/$(of "${parts[direct-server]}")" ""
printf '%-44s %12s %12s\n' "echo round trip via tunnel (us, median)" "$tun_lat" ""
printf '%-44s %12s %12s\n' "echo round trip via TCP (us, median)" "$tcp_lat" ""
printf '%-44s %12s %12s  %s\n' "added round trip (ms)" "$added" "<= 0.3" "$(verdict "$added" 0.3 le)"
printf '%-44s %12s %12s  %s\n' "tunnel process RSS idle (KiB)" "$idle_rss" "<= 2048" "$(verdict "$idle_rss" 2048 le)"
printf '%-44s %12s %12s\n' "  of it anonymous (KiB)" "$idle_anon" ""
printf '%-44s %12s %12s\n' "  of it the binary's pages, shared (KiB)" "$idle_file" ""
printf '%-44s %12s %12s\n' "tunnel process idle, private to it (KiB)" "$idle_private" ""
printf '%-44s %12s %12s\n' "tunnel process idle, PSS (KiB)" "$idle_pss" ""
printf '%-44s %12s %12s\n' "tunnel process RSS, one tunnel open (KiB)" "$one_rss" ""
printf '%-44s %12s %12s  %s\n' "RSS per further open tunnel (KiB, $open open)" "$per_tunnel" "<= 256" "$(verdict "$per_tunnel" 256 le)"
