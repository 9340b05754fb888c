#!/usr/bin/env bats
# The HTTPS tunnel's server side (SSHBOOT_TUNNEL_PORT): SSH relayed over a
# WebSocket on plain ws:// on loopback, with Debian's python3-websockets as an
# independent client (tests/e2e/helpers/ws_relay.py as ProxyCommand); the
# page, the refusals, the bounds, the isolation of the server child.

load test_helper

setup_file() { e2e_setup_file; }
setup() {
	e2e_setup
	[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import websockets' 2>/dev/null ||
		e2e_fail_or_skip "needs /usr/bin/python3 with python3-websockets (bash scripts/install-deps.sh)"
	command -v curl >/dev/null || e2e_fail_or_skip "needs curl"
	RELAY=$BATS_TEST_DIRNAME/helpers/ws_relay.py
}
teardown() {
	[[ -z ${HOLDER_PID:-} ]] || kill "$HOLDER_PID" 2>/dev/null || true
	e2e_teardown
}

# start_tunnel [NAME=value...] [-- ARG...]: sshboot as on RunPod with the
# tunnel on a free port ($TPORT), its public URL the loopback one ($TURL).
start_tunnel() {
	PORT=$(free_port)
	TPORT=$(free_port)
	while [[ $TPORT == "$PORT" ]]; do TPORT=$(free_port); done
	TURL=ws://127.0.0.1:$TPORT/ssh
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" SSHBOOT_TUNNEL_PORT="$TPORT" \
		SSHBOOT_TUNNEL_URL="$TURL" "$@"
	wait_for_port "$TPORT"
}

# tunnel_pid: the pid (host view) of the tunnel server child in the root;
# empty when none runs.
tunnel_pid() {
	local init
	init=$(_e2e_init_pid) || return 0
	pgrep --ns "$init" --nslist pid -f -- '__tunnel-serve' | head -n 1
}

# wait_for_tunnel_pid [NOT_PID]: wait (bounded) for a tunnel server other than NOT_PID.
wait_for_tunnel_pid() {
	local i pid
	for ((i = 0; i < 100; i++)); do
		pid=$(tunnel_pid)
		if [[ -n $pid && $pid != "${1:-}" ]]; then
			printf '%s\n' "$pid"
			return 0
		fi
		sleep 0.1
	done
	fail "no tunnel server process within 10 s$(_e2e_dump)"
}

# tunnel_ssh [TOKEN] -- SSH ARGS...: ssh through the tunnel with the Python
# relay, strict host key checking against the known_hosts line the connect
# block printed for the alias, and the config block it printed (its
# ProxyCommand swapped for the relay).
tunnel_ssh() {
	local token=${1:-} conf=$BATS_TEST_TMPDIR/tunnel_config kh=$BATS_TEST_TMPDIR/tunnel_known_hosts
	shift 2
	local alias host
	alias=$(sed -nE 's/^ +HostKeyAlias ([^ ]+)$/\1/p' "$E2E_OUT" | tail -n 1)
	host=$(awk '/ProxyCommand sshboot tunnel/ { print prev } { if ($1 == "Host") prev = $2 }' "$E2E_OUT" | head -n 1)
	[[ -n $alias && -n $host ]] || fail "no tunnel config block printed$(_e2e_dump)"
	grep -E "^ *$alias ssh-ed25519 " "$E2E_OUT" | sed 's/^ *//' | sort -u >"$kh"
	[[ -s $kh ]] || fail "no known_hosts line for $alias printed$(_e2e_dump)"
	# The printed block, from its Host line to its last option.
	awk -v h="$host" '$1 == "Host" && $2 == h { on = 1; print "Host " h; next }
		on && /^        [A-Za-z]/ { sub(/^ +/, "    "); print; next } on { exit }' "$E2E_OUT" |
		sed "s#^ *ProxyCommand sshboot tunnel \(.*\)#    ProxyCommand /usr/bin/python3 $RELAY \1 $token#" >"$conf"
	grep -q "ProxyCommand /usr/bin/python3" "$conf" || fail "no ProxyCommand in: $(cat "$conf")"
	cat >>"$conf" <<-EOF
		Host *
		    BatchMode yes
		    StrictHostKeyChecking yes
		    UserKnownHostsFile $kh
		    GlobalKnownHostsFile /dev/null
		    IdentityFile $CLIENT_KEY
		    IdentitiesOnly yes
		    ConnectTimeout 10
		    LogLevel ERROR
	EOF
	timeout 60 /usr/bin/ssh -F "$conf" "$host" "$@"
}

# http_status PATH [CURL ARGS...]: the status code of a GET on the tunnel port.
http_status() {
	local path=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$@" "http://127.0.0.1:$TPORT$path"
}

upgrade_headers=(-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13'
	-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')

@test "a key login through the tunnel is checked against the alias and known_hosts line the connect block printed" {
	start_tunnel
	grep -qF "ProxyCommand sshboot tunnel $TURL" "$E2E_OUT" || fail "no ProxyCommand line$(_e2e_dump)"
	grep -qF "ProxyCommand websocat --binary $TURL" "$E2E_OUT" || fail "no websocat line$(_e2e_dump)"
	run -0 tunnel_ssh "" -- 'echo through-the-tunnel; id -u'
	assert_line through-the-tunnel
	assert_line 0
	# The one-paste command covers the tunnel block too.
	grep -qF '"    ProxyCommand sshboot tunnel '"$TURL"'"' "$E2E_OUT" || fail "one-paste lacks the tunnel$(_e2e_dump)"
}

@test "a plain GET gets the page, a browser gets it as HTML, an unknown path 404, oversized headers are refused" {
	start_tunnel
	run -0 curl -sS --max-time 15 "http://127.0.0.1:$TPORT/"
	assert_output --partial "ProxyCommand sshboot tunnel $TURL"
	assert_output --partial "ssh-ed25519 AAAA"
	refute_output --partial "<pre>"
	run -0 curl -sS --max-time 15 -H 'Accept: text/html,application/xhtml+xml,*/*;q=0.8' "http://127.0.0.1:$TPORT/"
	assert_output --partial "<pre>"
	assert_output --partial "ProxyCommand sshboot tunnel $TURL"
	run -0 http_status /nothing-here
	assert_output 404
	run -0 http_status /ssh
	assert_output 426
	run -0 http_status / -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)"
	assert_output 431
	sshboot_alive
}

@test "with a token an upgrade without it or with a wrong one gets 401, the right one logs in, and the token is never shown" {
	local token=tunnel-token-$RANDOM$RANDOM$RANDOM
	e2e_secret "$token"
	start_tunnel SSHBOOT_TUNNEL_TOKEN="$token"
	run -0 http_status /ssh "${upgrade_headers[@]}"
	assert_output 401
	run -0 http_status /ssh "${upgrade_headers[@]}" -H "Authorization: Bearer wrong-$token"
	assert_output 401
	# curl stays on the upgraded connection until its time is up (exit 28).
	run -28 http_status /ssh "${upgrade_headers[@]}" -H "Authorization: Bearer $token" --max-time 2
	assert_output 101
	run -0 curl -sS --max-time 15 "http://127.0.0.1:$TPORT/"
	refute_output --partial "$token"
	assert_output --partial SSHBOOT_TUNNEL_TOKEN
	run -0 tunnel_ssh "$token" -- 'echo token-ok'
	assert_line token-ok
	# Only PID 1 holds it: not sshd, not the sessions, not the tunnel server.
	run -0 root_nsexec -- /bin/sh -c 'for p in /proc/[0-9]*; do [ "$p" = /proc/1 ] || cat "$p/environ"; done 2>/dev/null | tr "\0" "\n" | grep -c TUNNEL_TOKEN || true'
	assert_output 0
}

@test "300 connections that never finish their headers leave a login through the tunnel working and PID 1 and COMMAND unaffected" {
	start_tunnel -- sleep infinity
	HOLDER_OUT=$BATS_TEST_TMPDIR/holder
	/usr/bin/python3 -c '
import socket, sys, time
socks = []
for _ in range(300):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
print("ready", flush=True)
time.sleep(120)
' "$TPORT" >"$HOLDER_OUT" &
	HOLDER_PID=$!
	local i
	for ((i = 0; i < 200; i++)); do
		grep -q ready "$HOLDER_OUT" && break
		sleep 0.1
	done
	grep -q ready "$HOLDER_OUT" || fail "the 300 connections were not opened"
	run -0 tunnel_ssh "" -- 'echo still-serving'
	assert_line still-serving
	sshboot_alive
	run -0 root_nsexec -- pgrep -x sleep
	run -0 ssh_root "$PORT" true
}

@test "the tunnel server killed with SIGKILL comes back and the next login works" {
	start_tunnel
	local old new
	old=$(wait_for_tunnel_pid)
	kill -KILL "$old"
	new=$(wait_for_tunnel_pid "$old")
	[[ $new != "$old" ]]
	wait_for_output 'tunnel server .* killed by signal 9'
	run -0 tunnel_ssh "" -- 'echo back'
	assert_line back
	sshboot_alive
}

@test "the tunnel server runs unprivileged, without secrets or new privileges" {
	local password=tunnel-pw-$RANDOM$RANDOM
	start_tunnel SSH_PASSWORD="$password"
	local pid
	pid=$(wait_for_tunnel_pid)
	run -0 ps -o uid= -p "$pid"
	[[ ${output// /} != 0 ]] || fail "the tunnel server runs as uid 0"
	run -0 grep -E '^(NoNewPrivs|CapEff|Groups):' "/proc/$pid/status"
	assert_line --regexp '^NoNewPrivs:[[:space:]]+1$'
	assert_line --regexp '^CapEff:[[:space:]]+0+$'
	assert_line --regexp '^Groups:[[:space:]]*$'
	run -0 tr '\0' '\n' <"/proc/$pid/environ"
	refute_output --partial SSH_
	refute_output --partial "$password"
	# Only stdio, the listening socket and Asio's own descriptors are open.
	run -0 ls -l "/proc/$pid/fd"
	refute_output --regexp '/(etc|var|run|workspace)/'
}

@test "an idle tunnel server gives back the binary's pages, makes no system calls, and the next login works" {
	command -v strace >/dev/null || e2e_fail_or_skip "needs strace"
	start_tunnel
	local pid trace=$BATS_TEST_TMPDIR/strace holder_out=$BATS_TEST_TMPDIR/holder
	local holder_in=$BATS_TEST_TMPDIR/holder_in i open_kib kib hold
	pid=$(wait_for_tunnel_pid)
	# One tunnel open until its ssh's input ends: the code that relays is mapped.
	mkfifo "$holder_in"
	tunnel_ssh "" -- 'echo holding; exec cat >/dev/null' <"$holder_in" >"$holder_out" 2>&1 &
	HOLDER_PID=$!
	exec {hold}>"$holder_in"
	for ((i = 0; i < 300; i++)); do
		grep -q holding "$holder_out" && break
		sleep 0.1
	done
	grep -q holding "$holder_out" || fail "the tunnel did not open: $(cat "$holder_out")"
	open_kib=$(awk '/^RssFile:/ { print $2 }' "/proc/$pid/status")
	exec {hold}>&-
	wait "$HOLDER_PID" || fail "the session did not end well: $(cat "$holder_out")"
	HOLDER_PID=
	# The last tunnel closed: the process unmaps its clean pages of the
	# binary (it maps a few again on its way back to sleep).
	for ((i = 0; i < 100; i++)); do
		kib=$(awk '/^RssFile:/ { print $2 }' "/proc/$pid/status")
		((kib * 4 < open_kib * 3)) && break
		sleep 0.1
	done
	((kib * 4 < open_kib * 3)) || fail "the binary's pages mapped: ${kib} KiB idle, ${open_kib} KiB with a tunnel open"
	# Closed tunnels leave no timer behind: nothing in two seconds.
	timeout -s INT 2 strace -f -qq -p "$pid" -o "$trace" || true
	run grep -vE 'resumed>|unfinished|detached|^[0-9]+ +\+\+\+' "$trace"
	assert_output ""
	# What was given back comes back on use.
	run -0 tunnel_ssh "" -- 'echo again'
	assert_line again
	[[ $(tunnel_pid) == "$pid" ]] || fail "the tunnel server restarted"
}

@test "a busy tunnel moves no timer per read: 16 MiB through it costs the server a few timer calls" {
	command -v strace >/dev/null || e2e_fail_or_skip "needs strace"
	start_tunnel
	local pid trace=$BATS_TEST_TMPDIR/strace i
	pid=$(wait_for_tunnel_pid)
	# The tracer is the test's background process (teardown stops it).
	strace -f -qq -e trace=timerfd_settime,sendto -p "$pid" -o "$trace" &
	HOLDER_PID=$!
	for ((i = 0; i < 100; i++)); do
		awk '/^TracerPid:/ { exit !($2 != 0) }' "/proc/$pid/status" && break
		sleep 0.1
	done
	awk '/^TracerPid:/ { exit !($2 != 0) }' "/proc/$pid/status" || fail "strace did not attach"
	head -c $((16 * 1024 * 1024)) /dev/zero | tunnel_ssh "" -- 'cat >/dev/null' ||
		fail "the transfer failed"
	kill -INT "$HOLDER_PID"
	wait "$HOLDER_PID" || true
	HOLDER_PID=
	local writes timers
	# Each chunk relayed to sshd is one sendto: at least 256 of 64 KiB.
	writes=$(grep -c 'sendto(' "$trace" || true)
	((writes >= 256)) || fail "only $writes writes to sshd were seen"
	# The tunnel's keepalive timer and the handshake's deadlines: a few.
	timers=$(grep -c 'timerfd_settime(' "$trace" || true)
	((timers < 20)) || fail "$timers timer calls for $writes writes"
}

@test "with the tunnel off no extra process runs and nothing else listens" {
	PORT=$(free_port)
	start_runpod "$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	local init
	init=$(_e2e_init_pid)
	[[ -z $(tunnel_pid) ]] || fail "a tunnel server runs"
	run -0 ss -Htlnp
	refute_output --partial "pid=$init,"
	# PID 1's only child is sshd.
	run -0 pgrep -P "$init"
	assert_equal "${#lines[@]}" 1
	run -0 ps -o comm= -p "${lines[0]}"
	assert_output sshd
	run -1 grep -c 'HTTPS tunnel' "$E2E_OUT"
	assert_output 0
}

@test "without a TCP endpoint the tunnel is the way in, and doctor checks it relays to sshd" {
	PORT=$(free_port)
	TPORT=$(free_port)
	TURL=ws://127.0.0.1:$TPORT/ssh
	sshboot_start SSH_PORT="$PORT" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" SSHBOOT_TUNNEL_PORT="$TPORT" \
		SSHBOOT_TUNNEL_URL="$TURL"
	wait_for_output 'The HTTPS tunnel needs no public IP'
	wait_for_port "$TPORT"
	grep -q 'RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing' "$E2E_OUT" || fail "no missing-endpoint line$(_e2e_dump)"
	run -0 tunnel_ssh "" -- 'echo only-way-in'
	assert_line only-way-in
	run root_nsexec -- /usr/local/bin/sshboot doctor
	assert_line --regexp "^OK +the HTTPS tunnel on port $TPORT relays to sshd \(SSH-2.0-"
	assert_line --regexp '^WARN +no TCP endpoint is known .*HTTPS tunnel'
	refute_line --regexp '^FAIL .*RUNPOD_PUBLIC_IP'
}

@test "a quiet tunnel gets a WebSocket ping every SSHBOOT_TUNNEL_PING seconds, and one that never answers is closed" {
	start_tunnel SSHBOOT_TUNNEL_PING=1
	# A bare client that answers nothing: it sees sshd's banner, then a
	# ping, then the end of the connection.
	run -0 timeout 20 /usr/bin/python3 -c '
import base64, os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ssh HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n" % key).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, buf = buf.split(b"\r\n\r\n", 1)
print(head.split(b"\r\n")[0].decode())
start = time.monotonic()
while True:
    while len(buf) < 2 or len(buf) < 2 + (buf[1] & 0x7F):
        chunk = s.recv(4096)
        if not chunk:
            print("closed after %.0f s" % (time.monotonic() - start))
            sys.exit(0)
        buf += chunk
    opcode, length = buf[0] & 0x0F, buf[1] & 0x7F
    payload, buf = buf[2:2 + length], buf[2 + length:]
    if opcode == 2 and payload.startswith(b"SSH-2.0-"):
        print("banner")
    if opcode == 9:
        print("ping after %.0f s" % (time.monotonic() - start))
' "$TPORT"
	assert_line --partial " 101 "
	assert_line banner
	assert_line --regexp '^ping after (1|2) s$'
	assert_line --regexp '^closed after (2|3) s$'
	sshboot_alive
}

@test "past SSHBOOT_TUNNEL_MAX open tunnels a new one is refused with 503 and the log says so" {
	start_tunnel SSHBOOT_TUNNEL_MAX=1
	# One tunnel held open by an ssh session that waits.
	local holder_out=$BATS_TEST_TMPDIR/holder
	tunnel_ssh "" -- 'echo holding; sleep 60' >"$holder_out" 2>&1 &
	HOLDER_PID=$!
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q holding "$holder_out" && break
		sleep 0.1
	done
	grep -q holding "$holder_out" || fail "the first tunnel did not open: $(cat "$holder_out")"
	run -0 http_status /ssh "${upgrade_headers[@]}"
	assert_output 503
	wait_for_output 'refused a tunnel from .*: 1 tunnels are open, the most allowed \(SSHBOOT_TUNNEL_MAX\)'
	kill "$HOLDER_PID"
	HOLDER_PID=
}
