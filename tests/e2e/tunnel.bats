#!/usr/bin/env bats
# `sshboot tunnel` end to end: SSH through a real TLS proxy (Debian's nginx
# with a private CA and 3 s idle timeouts) in front of the container's tunnel
# port, as on a platform that only proxies HTTPS into the container.

# shellcheck disable=SC2154 # $stderr is set by run --separate-stderr
load test_helper
load tunnel_helper

setup_file() {
	e2e_setup_file
	TUNNEL_DIR=$BATS_FILE_TMPDIR/proxy
	export TUNNEL_DIR
	tunnel_make_ca "$TUNNEL_DIR"
}

setup() {
	e2e_setup
	# The client reads these; none from the caller's environment may apply.
	unset https_proxy HTTPS_PROXY http_proxy HTTP_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
	command -v nginx >/dev/null || e2e_fail_or_skip "needs nginx (nginx-light; bash scripts/install-deps.sh)"
	[[ -x $E2E_SSHBOOT ]] || fail "no sshboot binary at $E2E_SSHBOOT"
}

teardown() {
	local pid
	if [[ -s $BATS_TEST_TMPDIR/client-pids ]]; then
		while read -r pid; do
			kill "$pid" 2>/dev/null || true
		done <"$BATS_TEST_TMPDIR/client-pids"
	fi
	tunnel_proxy_stop "$BATS_TEST_TMPDIR/connect-proxy"
	tunnel_hub_stop "$BATS_TEST_TMPDIR/hub"
	tunnel_nginx_stop "$TUNNEL_DIR"
	e2e_teardown
}

# start_tunnel [NAME=value...]: sshboot with its tunnel on a free port behind
# nginx (SSHBOOT_TUNNEL_URL is nginx's wss:// URL, by the name localhost),
# no TCP endpoint; waits for the tunnel block. Sets SSH_PORT_USED, TUNNEL_PORT.
start_tunnel() {
	SSH_PORT_USED=$(free_port)
	TUNNEL_PORT=$(free_port)
	tunnel_nginx_start "$TUNNEL_DIR" "$TUNNEL_PORT" || fail "nginx did not start"
	sshboot_start SSH_PORT="$SSH_PORT_USED" SSHBOOT_TUNNEL_PORT="$TUNNEL_PORT" \
		SSHBOOT_TUNNEL_URL="wss://localhost:$TUNNEL_NGINX_PORT/ssh" \
		SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" "$@"
	wait_for_output 'ProxyCommand sshboot tunnel '
	wait_for_port "$TUNNEL_PORT"
}

# start_connect_proxy [--user U --password P]: an HTTP CONNECT proxy on
# 127.0.0.1 for this test, as a corporate network's HTTPS_PROXY. Sets
# TUNNEL_PROXY_PORT and PROXY_LOG (one line per CONNECT: target, status).
start_connect_proxy() {
	[[ -x /usr/bin/python3 ]] || e2e_fail_or_skip "needs /usr/bin/python3"
	tunnel_proxy_start "$BATS_TEST_TMPDIR/connect-proxy" "$@" || fail "the CONNECT proxy did not start"
	PROXY_LOG=$BATS_TEST_TMPDIR/connect-proxy/connect.log
}

# tunnel_ssh_config [PROXYCOMMAND]: an ssh config for host `tun` made from the
# connect block: its URL, HostKeyAlias and known_hosts line, with strict host
# key checking. PROXYCOMMAND replaces `sshboot tunnel --cacert CA URL`.
# Prints the file's path.
tunnel_ssh_config() {
	local url alias cfg=$BATS_TEST_TMPDIR/tunnel_ssh_config kh=$BATS_TEST_TMPDIR/tunnel_known_hosts
	url=$(grep -oE 'ProxyCommand sshboot tunnel [^ ]+$' "$E2E_OUT" | head -n 1)
	url=${url##* }
	alias=$(grep -oE '^ *HostKeyAlias [^ ]+$' "$E2E_OUT" | head -n 1)
	alias=${alias##* }
	[[ -n $url && -n $alias ]] || fail "no tunnel URL or HostKeyAlias in the connect block$(_e2e_dump)"
	grep -E "^ *$alias ssh-ed25519 AAAA" "$E2E_OUT" | sed 's/^ *//' | sort -u >"$kh"
	[[ -s $kh ]] || fail "no known_hosts line for $alias in the connect block$(_e2e_dump)"
	cat >"$cfg" <<-CONF
		Host tun
		  HostName tunnel.invalid
		  User root
		  HostKeyAlias $alias
		  ProxyCommand ${1:-$E2E_SSHBOOT tunnel --cacert $TUNNEL_DIR/ca.pem $url}
		  StrictHostKeyChecking yes
		  UserKnownHostsFile $kh
		  GlobalKnownHostsFile /dev/null
		  BatchMode yes
		  IdentityFile $CLIENT_KEY
		  IdentitiesOnly yes
		  ConnectTimeout 20
		  LogLevel ERROR
	CONF
	printf '%s\n' "$cfg"
}

@test "a key login through nginx and the tunnel checks the host key the connect block printed" {
	start_tunnel
	local cfg
	cfg=$(tunnel_ssh_config)
	grep -qF "ProxyCommand $E2E_SSHBOOT tunnel --cacert $TUNNEL_DIR/ca.pem wss://localhost:$TUNNEL_NGINX_PORT/ssh" "$cfg"
	run /usr/bin/ssh -F "$cfg" tun 'echo "tunnel-ok $USER"'
	assert_success
	assert_output "tunnel-ok root"
	# Another host key under the same alias: strict checking refuses it.
	sed -i 's/AAAA[^ ]*/AAAAC3NzaC1lZDI1NTE5AAAAIGl4eXl4eXl4eXl4eXl4eXl4eXl4eXl4eXl4eXl4eXl4/' \
		"$BATS_TEST_TMPDIR/tunnel_known_hosts"
	run /usr/bin/ssh -F "$cfg" tun true
	assert_failure
	assert_output --partial "HOST IDENTIFICATION HAS CHANGED"
}

@test "scp and sftp carry 32 MiB both ways byte for byte through the tunnel" {
	start_tunnel
	local cfg up=$BATS_TEST_TMPDIR/up.bin back=$BATS_TEST_TMPDIR/back.bin back2=$BATS_TEST_TMPDIR/back2.bin
	cfg=$(tunnel_ssh_config)
	head -c $((32 * 1024 * 1024 + 12345)) /dev/urandom >"$up"
	run /usr/bin/scp -q -F "$cfg" "$up" tun:/root/up.bin
	assert_success
	run /usr/bin/ssh -F "$cfg" tun 'sha256sum </root/up.bin'
	assert_success
	assert_output "$(sha256sum <"$up")"
	run /usr/bin/scp -q -F "$cfg" tun:/root/up.bin "$back"
	assert_success
	cmp "$up" "$back"
	run /usr/bin/sftp -q -F "$cfg" -b - tun <<-EOF
		put $up /root/sftp.bin
		get /root/sftp.bin $back2
	EOF
	assert_success
	cmp "$up" "$back2"
	run /usr/bin/ssh -F "$cfg" tun 'cmp /root/up.bin /root/sftp.bin && echo same'
	assert_output "same"
}

@test "local port forwarding (-L) works through the tunnel" {
	start_tunnel
	local cfg lport
	cfg=$(tunnel_ssh_config)
	lport=$(free_port)
	/usr/bin/ssh -F "$cfg" -N -o ExitOnForwardFailure=yes -L "127.0.0.1:$lport:127.0.0.1:$SSH_PORT_USED" tun \
		</dev/null 3>&- &
	echo "$!" >>"$BATS_TEST_TMPDIR/client-pids"
	wait_for_port "$lport"
	# A second login over the forwarded port reaches the container's sshd.
	run ssh_root "$lport" 'echo forwarded'
	assert_success
	assert_output "forwarded"
}

@test "an idle session outlives three times the proxy's idle timeout (the server pings)" {
	start_tunnel SSHBOOT_TUNNEL_PING=1
	local cfg fifo=$BATS_TEST_TMPDIR/in pid out=$BATS_TEST_TMPDIR/idle.out end
	cfg=$(tunnel_ssh_config)
	mkfifo "$fifo"
	/usr/bin/ssh -F "$cfg" -o ServerAliveInterval=0 tun 'read -r line; echo "got $line"' \
		<"$fifo" >"$out" 2>&1 3>&- &
	pid=$!
	echo "$pid" >>"$BATS_TEST_TMPDIR/client-pids"
	exec 4>"$fifo"
	# Idle for 3x the proxy's timeout; the session must stay up all along.
	end=$((SECONDS + 3 * TUNNEL_PROXY_TIMEOUT + 1))
	while ((SECONDS < end)); do
		kill -0 "$pid" 2>/dev/null || {
			exec 4>&-
			fail "the idle session ended after less than 3x ${TUNNEL_PROXY_TIMEOUT}s: $(cat "$out")"
		}
		sleep 0.2
	done
	echo hello >&4
	exec 4>&-
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	run cat "$out"
	assert_output "got hello"
}

@test "an independent WebSocket client (python3-websockets) carries an SSH session" {
	[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import websockets' 2>/dev/null ||
		e2e_fail_or_skip "needs /usr/bin/python3 with python3-websockets"
	[[ -f $E2E_REPO/tests/e2e/helpers/ws_relay.py ]] || fail "tests/e2e/helpers/ws_relay.py is missing"
	start_tunnel
	local cfg
	cfg=$(tunnel_ssh_config "env SSL_CERT_FILE=$TUNNEL_DIR/ca.pem /usr/bin/python3 $E2E_REPO/tests/e2e/helpers/ws_relay.py wss://localhost:$TUNNEL_NGINX_PORT/ssh")
	run /usr/bin/ssh -F "$cfg" tun 'echo python-ok; head -c 1000000 /dev/zero | sha256sum'
	assert_success
	assert_line "python-ok"
	assert_line "$(head -c 1000000 /dev/zero | sha256sum)"
}

@test "a tunnel with a token answers 401 without it, with the token line, and logs in with it" {
	local token=tunnel-token-0123456789abcdef
	e2e_secret "$token"
	start_tunnel SSHBOOT_TUNNEL_TOKEN="$token"
	run --separate-stderr "$E2E_SSHBOOT" tunnel --cacert "$TUNNEL_DIR/ca.pem" \
		"wss://localhost:$TUNNEL_NGINX_PORT/ssh" </dev/null
	assert_failure 1
	[[ $stderr == *"the tunnel needs a token: --token"* ]] || fail "stderr: $stderr"
	(($(wc -l <<<"$stderr") == 1)) || fail "more than one line: $stderr"
	local cfg
	cfg=$(tunnel_ssh_config)
	SSHBOOT_TUNNEL_TOKEN=$token run /usr/bin/ssh -F "$cfg" tun 'echo token-ok'
	assert_success
	assert_output "token-ok"
}

@test "the client refuses a proxy whose certificate the given CA did not sign" {
	tunnel_nginx_start "$TUNNEL_DIR" "$(free_port)" || fail "nginx did not start"
	run --separate-stderr "$E2E_SSHBOOT" tunnel --cacert "$TUNNEL_DIR/other-ca.pem" \
		"wss://localhost:$TUNNEL_NGINX_PORT/ssh" </dev/null
	assert_failure 1
	[[ $stderr == *"certificate of localhost:$TUNNEL_NGINX_PORT is not trusted"* ]] || fail "stderr: $stderr"
	(($(wc -l <<<"$stderr") == 1)) || fail "more than one line: $stderr"
	# Without --cacert the system's CA bundle is used, and it does not know
	# the private CA either.
	run --separate-stderr "$E2E_SSHBOOT" tunnel "wss://127.0.0.1:$TUNNEL_NGINX_PORT/ssh" </dev/null
	assert_failure 1
	[[ $stderr == *"certificate of 127.0.0.1:$TUNNEL_NGINX_PORT is not trusted"*"system's CA bundle"* ]] ||
		fail "stderr: $stderr"
}

@test "the client names a closed port and an unknown host name in one line each" {
	local port
	port=$(free_port)
	run --separate-stderr "$E2E_SSHBOOT" tunnel "ws://127.0.0.1:$port/ssh" </dev/null
	assert_failure 1
	[[ $stderr == *"cannot connect to the tunnel at 127.0.0.1:$port: Connection refused"* ]] || fail "stderr: $stderr"
	(($(wc -l <<<"$stderr") == 1)) || fail "more than one line: $stderr"
	run --separate-stderr "$E2E_SSHBOOT" tunnel "wss://no-such-pod.invalid/ssh" </dev/null
	assert_failure 1
	[[ $stderr == *"cannot resolve 'no-such-pod.invalid'"* ]] || fail "stderr: $stderr"
	(($(wc -l <<<"$stderr") == 1)) || fail "more than one line: $stderr"
	run --separate-stderr "$E2E_SSHBOOT" tunnel "ftp://example.invalid/ssh" </dev/null
	assert_failure 2
}

@test "a key login with HTTPS_PROXY goes through the proxy's CONNECT to nginx (ALL_PROXY too)" {
	start_tunnel
	start_connect_proxy
	local cfg
	cfg=$(tunnel_ssh_config)
	HTTPS_PROXY=http://127.0.0.1:$TUNNEL_PROXY_PORT run /usr/bin/ssh -F "$cfg" tun 'echo "proxied-ok $USER"'
	assert_success
	assert_output "proxied-ok root"
	# The proxy carried it: the CONNECT named nginx's host and port.
	run cat "$PROXY_LOG"
	assert_output "CONNECT localhost:$TUNNEL_NGINX_PORT 200"
	# ALL_PROXY when no HTTPS_PROXY is set, here without the scheme.
	ALL_PROXY=127.0.0.1:$TUNNEL_PROXY_PORT run /usr/bin/ssh -F "$cfg" tun 'echo all-proxy-ok'
	assert_success
	assert_output "all-proxy-ok"
	run cat "$PROXY_LOG"
	assert_output "CONNECT localhost:$TUNNEL_NGINX_PORT 200
CONNECT localhost:$TUNNEL_NGINX_PORT 200"
}

@test "a proxy that needs a password: 407 in one line without it or with a wrong one, a login with it, never the password shown" {
	# @ and : %-escaped in the URL, as the client's message says to.
	local pass='s3cret:p@ss-0123456789' pass_url='s3cret%3Ap%40ss-0123456789' wrong=wrong-pass-9876543210
	e2e_secret "$pass"
	e2e_secret "$pass_url"
	start_tunnel
	start_connect_proxy --user alice --password "$pass"
	local url="wss://localhost:$TUNNEL_NGINX_PORT/ssh" cfg
	local where="the proxy 127.0.0.1:$TUNNEL_PROXY_PORT (from HTTPS_PROXY)"
	HTTPS_PROXY=http://127.0.0.1:$TUNNEL_PROXY_PORT run --separate-stderr \
		"$E2E_SSHBOOT" tunnel --cacert "$TUNNEL_DIR/ca.pem" "$url" </dev/null
	assert_failure 1
	[[ $stderr == *"$where needs a user name and password (HTTP 407)"* ]] || fail "stderr: $stderr"
	(($(wc -l <<<"$stderr") == 1)) || fail "more than one line: $stderr"
	assert_output ""
	HTTPS_PROXY=http://alice:$wrong@127.0.0.1:$TUNNEL_PROXY_PORT run --separate-stderr \
		"$E2E_SSHBOOT" tunnel --cacert "$TUNNEL_DIR/ca.pem" "$url" </dev/null
	assert_failure 1
	[[ $stderr == *"$where refused the user name and password (HTTP 407)"* ]] || fail "stderr: $stderr"
	(($(wc -l <<<"$stderr") == 1)) || fail "more than one line: $stderr"
	[[ $stderr != *"$wrong"* && $output != *"$wrong"* ]] || fail "the password was shown: $stderr"
	assert_output ""
	cfg=$(tunnel_ssh_config)
	HTTPS_PROXY=http://alice:$pass_url@127.0.0.1:$TUNNEL_PROXY_PORT run /usr/bin/ssh -F "$cfg" tun 'echo proxy-auth-ok'
	assert_success
	assert_output "proxy-auth-ok"
	refute_output --partial "s3cret"
	run cat "$PROXY_LOG"
	assert_output "CONNECT localhost:$TUNNEL_NGINX_PORT 407
CONNECT localhost:$TUNNEL_NGINX_PORT 407
CONNECT localhost:$TUNNEL_NGINX_PORT 200"
}

@test "NO_PROXY naming the tunnel's host bypasses HTTPS_PROXY" {
	start_tunnel
	start_connect_proxy
	local cfg closed
	cfg=$(tunnel_ssh_config)
	HTTPS_PROXY=http://127.0.0.1:$TUNNEL_PROXY_PORT NO_PROXY=example.invalid,localhost \
		run /usr/bin/ssh -F "$cfg" tun 'echo direct-ok'
	assert_success
	assert_output "direct-ok"
	[[ ! -s $PROXY_LOG ]] || fail "the proxy was used: $(cat "$PROXY_LOG")"
	# A proxy on a closed port: named without NO_PROXY, never tried with it.
	closed=$(free_port)
	HTTPS_PROXY=http://127.0.0.1:$closed run --separate-stderr \
		"$E2E_SSHBOOT" tunnel --cacert "$TUNNEL_DIR/ca.pem" "wss://localhost:$TUNNEL_NGINX_PORT/ssh" </dev/null
	assert_failure 1
	[[ $stderr == *"cannot connect to the proxy 127.0.0.1:$closed: Connection refused"* ]] || fail "stderr: $stderr"
	(($(wc -l <<<"$stderr") == 1)) || fail "more than one line: $stderr"
	HTTPS_PROXY=http://127.0.0.1:$closed no_proxy=localhost run /usr/bin/ssh -F "$cfg" tun 'echo direct-ok'
	assert_success
	assert_output "direct-ok"
}

@test "behind a notebook hub's proxy (node-http-proxy, as JupyterHub's) at /user/NAME/proxy/PORT/ssh: the page, a 403 in one line without the hub's token, a strict login with it" {
	command -v node >/dev/null || e2e_fail_or_skip "needs node (nodejs; bash scripts/install-deps.sh)"
	[[ -d $TUNNEL_NODE_PATH/http-proxy ]] || e2e_fail_or_skip "needs node-http-proxy (bash scripts/install-deps.sh)"
	local token=hub-api-token-0123456789abcdef hub=$BATS_TEST_TMPDIR/hub
	e2e_secret "$token"
	tunnel_hub_start "$hub" alice "$token" || fail "the hub's proxy did not start"
	SSH_PORT_USED=$(free_port)
	TUNNEL_PORT=$(free_port)
	local url="wss://localhost:$TUNNEL_HUB_PORT/user/alice/proxy/$TUNNEL_PORT/ssh"
	sshboot_start SSH_PORT="$SSH_PORT_USED" SSHBOOT_TUNNEL_PORT="$TUNNEL_PORT" \
		SSHBOOT_TUNNEL_URL="$url" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	wait_for_output 'ProxyCommand sshboot tunnel '
	wait_for_port "$TUNNEL_PORT"
	# The hub's link to the port shows the page with the connect block.
	run curl -fsS --cacert "$hub/ca.pem" -H "Authorization: token $token" \
		"https://localhost:$TUNNEL_HUB_PORT/user/alice/proxy/$TUNNEL_PORT/"
	assert_success
	assert_output --partial "ProxyCommand sshboot tunnel $url"
	# Without the hub's token the hub refuses the upgrade: one line, 403.
	run --separate-stderr "$E2E_SSHBOOT" tunnel --cacert "$hub/ca.pem" "$url" </dev/null
	assert_failure 1
	[[ $stderr == *"access to the tunnel was refused (HTTP 403"* ]] || fail "stderr: $stderr"
	(($(wc -l <<<"$stderr") == 1)) || fail "more than one line: $stderr"
	# With it (sent as Authorization: Bearer), a login with strict host
	# checking, the alias and known_hosts line from the connect block.
	local cfg
	cfg=$(tunnel_ssh_config "$E2E_SSHBOOT tunnel --cacert $hub/ca.pem $url")
	SSHBOOT_TUNNEL_TOKEN=$token run /usr/bin/ssh -F "$cfg" tun 'echo "hub-ok $USER"'
	assert_success
	assert_output "hub-ok root"
	grep -qx "UPGRADE /user/alice/proxy/$TUNNEL_PORT/ssh proxied" "$hub/hub_proxy.err" ||
		fail "the login did not go through the hub: $(cat "$hub/hub_proxy.err")"
	assert_no_secret "$token"
}
