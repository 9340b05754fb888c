#!/usr/bin/env bats
# Cluster mode's identity: nodes sharing one cluster secret log in to each
# other with the derived client key and verify each other's host
# certificates with StrictHostKeyChecking yes; a node with another secret is
# refused; a weak secret or an unsafe secret file stops sshboot before it
# writes anything. Two nodes, each its own root with sshboot as PID 1, on
# 127.0.0.1 on different ports.

load test_helper

setup_file() { e2e_setup_file; }
setup() {
	e2e_setup
	NODE_PIDS=()
	NODE_DIRS=()
}
teardown() {
	nodes_stop
	e2e_teardown
	local dir
	for dir in "${NODE_DIRS[@]}"; do
		if mountpoint -q "$dir/root"; then
			umount -R "$dir/root" 2>/dev/null || umount -R -l "$dir/root"
		fi
		rm -rf "$dir"
	done
}

# node_root N: a fresh writable root for node N at $BATS_TEST_TMPDIR/node.N/root
# (an overlay over the cached Debian root) with sshboot installed, and a file
# /etc/node-name naming the node; its path in NODE_ROOT. Not in a subshell:
# teardown unmounts what NODE_DIRS lists.
node_root() {
	local n=$1 dir=$BATS_TEST_TMPDIR/node.$1 why
	if why=$(_e2e_missing_requirement); then
		e2e_fail_or_skip "$why"
	fi
	e2e_prepare_base || fail "could not build the Debian root in $E2E_CACHE"
	if ! mountpoint -q "$dir/root"; then
		mkdir -p "$dir/root" "$dir/upper" "$dir/work"
		mount -t overlay overlay \
			-o "lowerdir=$E2E_ROOT_BASE,upperdir=$dir/upper,workdir=$dir/work" "$dir/root" ||
			fail "overlay mount for node $n failed"
		NODE_DIRS+=("$dir")
	fi
	install -m 0755 "$E2E_SSHBOOT" "$dir/root/usr/local/bin/sshboot"
	echo "node$n" >"$dir/root/etc/node-name"
	NODE_ROOT=$dir/root
}

# node_start N [NAME=value...]: start sshboot as PID 1 of new namespaces in
# node N's root with exactly the given environment; stdout and stderr in
# $BATS_TEST_TMPDIR/out.node.N and err.node.N.
node_start() {
	local n=$1 root
	shift
	node_root "$n"
	root=$NODE_ROOT
	unshare --pid --fork --kill-child --mount --uts --ipc --mount-proc="$root/proc" \
		/bin/sh -c "$SB_NS_INIT" sshboot-init "$root" \
		/usr/bin/env -i PATH="$E2E_CONTAINER_PATH" HOME=/root "$@" \
		/usr/sbin/chroot "$root" /usr/local/bin/sshboot \
		</dev/null >"$BATS_TEST_TMPDIR/out.node.$n" 2>"$BATS_TEST_TMPDIR/err.node.$n" 3>&- &
	NODE_PIDS[n]=$!
}

# node_certificate N: the host certificate node N's sshd serves (the
# HostCertificate of its sshd_config, beside the key sshd reads: on a first
# start that key is a copy in the node's own /run), read in its namespaces.
node_certificate() {
	local n=$1 root=$BATS_TEST_TMPDIR/node.$1/root init path
	path=$(awk '$1 == "HostCertificate" { print $2 }' "$root/etc/sshboot/sshd_config")
	[[ -n $path ]] || fail "node $n: no HostCertificate in its sshd_config"
	init=$(pgrep -P "${NODE_PIDS[n]}" | head -n 1) || fail "node $n does not run"
	nsenter --target "$init" --mount -- cat "$root$path"
}

# node_wait_ready N: wait (bounded) until node N's sshd accepts connections.
node_wait_ready() {
	local n=$1 i
	for ((i = 0; i < 200; i++)); do
		grep -q -- "accepts connections on port" "$BATS_TEST_TMPDIR/err.node.$n" && return 0
		_e2e_alive "${NODE_PIDS[n]}" || break
		sleep 0.1
	done
	fail "node $n is not ready:$(printf '\n')$(cat "$BATS_TEST_TMPDIR/err.node.$n")"
}

# node_wait_exit N: wait (bounded) for node N to end; its status in NODE_STATUS.
node_wait_exit() {
	local n=$1 i
	for ((i = 0; i < 200; i++)); do
		_e2e_alive "${NODE_PIDS[n]}" || break
		sleep 0.1
	done
	# Still running (it accepted what it should have refused): teardown stops it.
	_e2e_alive "${NODE_PIDS[n]}" && fail "node $n still runs after 20 s:$(printf '\n')$(cat "$BATS_TEST_TMPDIR/err.node.$n")"
	NODE_STATUS=0
	wait "${NODE_PIDS[n]}" || NODE_STATUS=$?
	NODE_PIDS[n]=
}

nodes_stop() {
	local n pid init i
	for n in "${!NODE_PIDS[@]}"; do
		pid=${NODE_PIDS[n]}
		[[ -n $pid ]] || continue
		init=$(pgrep -P "$pid" | head -n 1 || true)
		[[ -n $init ]] && kill -TERM "$init" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			_e2e_alive "$pid" || break
			sleep 0.05
		done
		_e2e_alive "$pid" && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null || true
		NODE_PIDS[n]=
	done
}

# node_ssh N COMMAND...: run the real ssh client inside node N's running
# namespaces and root, as its root user would in a shell there (the user's
# ~/.ssh/config, id_ed25519 and known_hosts; strict host checking; no prompt).
node_ssh() {
	local n=$1 init
	shift
	init=$(pgrep -P "${NODE_PIDS[n]}" | head -n 1) || fail "node $n does not run"
	nsenter --target "$init" --pid --mount --uts --ipc -- \
		/usr/sbin/chroot "$BATS_TEST_TMPDIR/node.$n/root" /usr/bin/env -i \
		PATH="$E2E_CONTAINER_PATH" HOME=/root \
		/usr/bin/ssh -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 "$@" \
		</dev/null 3>&-
}

# two_ports: P0 and P1, two different free ports.
two_ports() {
	P0=$(free_port)
	P1=$(free_port)
	while [[ $P1 == "$P0" ]]; do P1=$(free_port); done
}

@test "nodes sharing a cluster secret log in to each other with strict host checking and no prompt" {
	local secret
	secret=$(sshboot_bin_secret)
	e2e_secret "$secret"
	two_ports
	local hosts=127.0.0.1:$P0,127.0.0.1:$P1
	node_start 0 SSH_PORT="$P0" SSHBOOT_CLUSTER_SECRET="$secret" SSHBOOT_CLUSTER_RANK=0 SSHBOOT_CLUSTER_HOSTS="$hosts"
	node_start 1 SSH_PORT="$P1" SSHBOOT_CLUSTER_SECRET="$secret" SSHBOOT_CLUSTER_RANK=1 SSHBOOT_CLUSTER_HOSTS="$hosts"
	node_wait_ready 0
	node_wait_ready 1

	run -0 --separate-stderr node_ssh 0 node-1 'cat /etc/node-name; hostname'
	assert_line --index 0 node1
	run -0 --separate-stderr node_ssh 1 node-0 cat /etc/node-name
	assert_output node0
	# The peer's own address works too: it is a principal of its certificate.
	run -0 --separate-stderr node_ssh 0 -p "$P1" 127.0.0.1 cat /etc/node-name
	assert_output node1

	# What OpenSSH demands of the key files, and the trust written once.
	local r0=$BATS_TEST_TMPDIR/node.0/root
	run -0 stat -c '%a %U' "$r0/root/.ssh/id_ed25519" "$r0/root/.ssh/id_ed25519.pub"
	assert_line --index 0 '600 root'
	assert_line --index 1 '644 root'
	run -0 grep -c "^@cert-authority node-\*,\[127.0.0.1\]:$P0,\[127.0.0.1\]:$P1,[^ ]* ssh-ed25519 " "$r0/root/.ssh/known_hosts"
	assert_output 1
	run -0 ssh-keygen -L -f <(node_certificate 0)
	assert_output --partial 'host certificate'
	assert_output --partial 'node-0'
	# Same secret, same CA and client key on both nodes.
	cmp "$r0/root/.ssh/id_ed25519.pub" "$BATS_TEST_TMPDIR/node.1/root/root/.ssh/id_ed25519.pub"
	# The secret is in no output, no file of either root, no session.
	run -0 --separate-stderr node_ssh 0 node-1 env
	refute_output --partial SSHBOOT_CLUSTER_SECRET
	refute_output --partial "$secret"
	run grep -rlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -- "$secret" \
		"$BATS_TEST_TMPDIR/node.0/upper" "$BATS_TEST_TMPDIR/node.1/upper"
	assert_failure 1

	# A restart keeps the node trusted (same host key, same certificate).
	local r1=$BATS_TEST_TMPDIR/node.1/root before after
	before=$({ node_certificate 1 && cat "$r1/root/.ssh/id_ed25519"; } | sha256sum)
	nodes_stop_one 1
	node_start 1 SSH_PORT="$P1" SSHBOOT_CLUSTER_SECRET="$secret" SSHBOOT_CLUSTER_RANK=1 SSHBOOT_CLUSTER_HOSTS="$hosts"
	node_wait_ready 1
	run -0 --separate-stderr node_ssh 0 node-1 cat /etc/node-name
	assert_output node1
	# Same key and names: the same certificate, and the client key as it was.
	after=$({ node_certificate 1 && cat "$r1/root/.ssh/id_ed25519"; } | sha256sum)
	[[ $before == "$after" ]] || fail "the restart rewrote the certificate or the key"
	run -0 grep -c '^@cert-authority' "$r0/root/.ssh/known_hosts"
	assert_output 1
}

@test "a node started with another cluster secret is refused with a host verification error" {
	local secret other
	secret=$(sshboot_bin_secret)
	other=$(sshboot_bin_secret)
	e2e_secret "$secret"
	e2e_secret "$other"
	two_ports
	local hosts=127.0.0.1:$P0,127.0.0.1:$P1
	node_start 0 SSH_PORT="$P0" SSHBOOT_CLUSTER_SECRET="$secret" SSHBOOT_CLUSTER_RANK=0 SSHBOOT_CLUSTER_HOSTS="$hosts"
	node_start 1 SSH_PORT="$P1" SSHBOOT_CLUSTER_SECRET="$other" SSHBOOT_CLUSTER_RANK=1 SSHBOOT_CLUSTER_HOSTS="$hosts"
	node_wait_ready 0
	node_wait_ready 1
	run --separate-stderr node_ssh 0 node-1 cat /etc/node-name
	assert_failure 255
	refute_output node1
	# shellcheck disable=SC2154 # set by run --separate-stderr
	[[ $stderr == *"Host key verification failed"* ]] || fail "stderr: $stderr"
}

@test "a weak cluster secret stops sshboot with exit 2 before it writes anything" {
	local port
	port=$(free_port)
	node_start 0 SSH_PORT="$port" SSHBOOT_CLUSTER_SECRET=hunter2hunter2hunter2
	node_wait_exit 0
	[[ $NODE_STATUS == 2 ]] || fail "exit status $NODE_STATUS, expected 2"
	run -0 cat "$BATS_TEST_TMPDIR/err.node.0"
	assert_output --partial 'SSHBOOT_CLUSTER_SECRET is too weak'
	assert_output --partial 'sshboot cluster secret'
	refute_output --partial hunter2
	local r=$BATS_TEST_TMPDIR/node.0/root
	[[ ! -e $r/root/.ssh && ! -e $r/var/lib/sshboot ]] || fail "files were written"
	run grep -q HostCertificate "$r/etc/ssh/sshd_config"
	assert_failure
}

@test "a cluster secret file others can write stops sshboot with exit 2 and says how to fix it" {
	local secret port r
	secret=$(sshboot_bin_secret)
	e2e_secret "$secret"
	port=$(free_port)
	node_root 0
	r=$NODE_ROOT
	printf '%s\n' "$secret" >"$r/etc/cluster-secret"
	chmod 0666 "$r/etc/cluster-secret"
	node_start 0 SSH_PORT="$port" SSHBOOT_CLUSTER_SECRET_FILE=/etc/cluster-secret
	node_wait_exit 0
	[[ $NODE_STATUS == 2 ]] || fail "exit status $NODE_STATUS, expected 2"
	run -0 cat "$BATS_TEST_TMPDIR/err.node.0"
	assert_output --partial 'SSHBOOT_CLUSTER_SECRET_FILE /etc/cluster-secret is mode 0666'
	assert_output --partial 'chmod 0400'
	[[ ! -e $r/root/.ssh && ! -e $r/var/lib/sshboot ]] || fail "files were written"
	rm -f "$r/etc/cluster-secret"
}

@test "the Kubernetes template's placeholder and the secret prefix followed by 43 A's stop sshboot with exit 2 and sshd never serves them" {
	local port r
	port=$(free_port)
	node_start 0 SSH_PORT="$port" SSHBOOT_CLUSTER_SECRET=replace-with-the-output-of-sshboot-cluster-secret \
		SSHBOOT_CLUSTER_RANK=0 SSHBOOT_CLUSTER_HOSTS="127.0.0.1:$port"
	node_wait_exit 0
	[[ $NODE_STATUS == 2 ]] || fail "exit status $NODE_STATUS, expected 2"
	run -0 cat "$BATS_TEST_TMPDIR/err.node.0"
	assert_output --partial 'SSHBOOT_CLUSTER_SECRET is a placeholder'
	assert_output --partial 'sshboot cluster secret'
	r=$BATS_TEST_TMPDIR/node.0/root
	[[ ! -e $r/root/.ssh && ! -e $r/var/lib/sshboot ]] || fail "files were written"

	# The generated form with a body anyone can guess, from a file as on
	# Kubernetes: decodes to 32 bytes, and is refused all the same.
	printf 'sshboot-cluster-v1:%s\n' "$(printf 'A%.0s' {1..43})" >"$r/etc/cluster-secret"
	chmod 0400 "$r/etc/cluster-secret"
	node_start 0 SSH_PORT="$port" SSHBOOT_CLUSTER_SECRET_FILE=/etc/cluster-secret \
		SSHBOOT_CLUSTER_RANK=0 SSHBOOT_CLUSTER_HOSTS="127.0.0.1:$port"
	node_wait_exit 0
	[[ $NODE_STATUS == 2 ]] || fail "exit status $NODE_STATUS, expected 2"
	run -0 cat "$BATS_TEST_TMPDIR/err.node.0"
	assert_output --partial 'SSHBOOT_CLUSTER_SECRET_FILE /etc/cluster-secret is too weak'
	assert_output --partial 'sshboot cluster secret'
	refute_output --partial AAAAAAAA
	# No sshd ever served a key derived from them: a real ssh is refused.
	run ssh -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -p "$port" root@127.0.0.1 true
	assert_failure 255
	assert_output --partial 'Connection refused'
	[[ ! -e $r/root/.ssh && ! -e $r/var/lib/sshboot ]] || fail "files were written"
	rm -f "$r/etc/cluster-secret"
}

# secret_volume ROOT DIR MODE SECRET: DIR (under ROOT) laid out as the kubelet
# lays out a Secret volume: DIR/secret -> ..data/secret, ..data -> a
# timestamped directory holding the file with MODE, all owned by root.
secret_volume() {
	local root=$1 dir=$2 mode=$3 secret=$4 stamp=..2026_12_04_12_00_00.123456789
	mkdir -p "$root$dir/$stamp"
	printf '%s' "$secret" >"$root$dir/$stamp/secret"
	chmod "$mode" "$root$dir/$stamp/secret"
	ln -sfn "$stamp" "$root$dir/..data"
	ln -sfn ..data/secret "$root$dir/secret"
}

@test "a Kubernetes Secret volume's file others can read (0644) stops sshboot with exit 2 naming defaultMode: 0400; at 0400 the nodes log in" {
	local secret port r
	secret=$(sshboot_bin_secret)
	e2e_secret "$secret"
	port=$(free_port)
	node_root 0
	r=$NODE_ROOT
	secret_volume "$r" /etc/sshboot/cluster 0644 "$secret"
	node_start 0 SSH_PORT="$port" SSHBOOT_CLUSTER_SECRET_FILE=/etc/sshboot/cluster/secret \
		SSHBOOT_CLUSTER_RANK=0 SSHBOOT_CLUSTER_HOSTS="127.0.0.1:$port"
	node_wait_exit 0
	[[ $NODE_STATUS == 2 ]] || fail "exit status $NODE_STATUS, expected 2"
	run -0 cat "$BATS_TEST_TMPDIR/err.node.0"
	assert_output --partial 'SSHBOOT_CLUSTER_SECRET_FILE /etc/sshboot/cluster/secret is mode 0644, readable by other users'
	assert_output --partial 'defaultMode: 0400'
	[[ ! -e $r/root/.ssh && ! -e $r/var/lib/sshboot ]] || fail "files were written"

	# fsGroup turns defaultMode 0400 into 0440: refused too.
	chmod 0440 "$r/etc/sshboot/cluster/..data/secret"
	node_start 0 SSH_PORT="$port" SSHBOOT_CLUSTER_SECRET_FILE=/etc/sshboot/cluster/secret \
		SSHBOOT_CLUSTER_RANK=0 SSHBOOT_CLUSTER_HOSTS="127.0.0.1:$port"
	node_wait_exit 0
	[[ $NODE_STATUS == 2 ]] || fail "0440: exit status $NODE_STATUS, expected 2"

	# The fix the message names: the file the links lead to is checked.
	chmod 0400 "$r/etc/sshboot/cluster/..data/secret"
	node_start 0 SSH_PORT="$port" SSHBOOT_CLUSTER_SECRET_FILE=/etc/sshboot/cluster/secret \
		SSHBOOT_CLUSTER_RANK=0 SSHBOOT_CLUSTER_HOSTS="127.0.0.1:$port"
	node_wait_ready 0
	run -0 --separate-stderr node_ssh 0 node-0 cat /etc/node-name
	assert_output node0
	rm -rf "$r/etc/sshboot/cluster"
}

@test "a host certificate for github.com signed by the cluster CA is refused with strict host checking while node logins still work" {
	local secret r0
	secret=$(sshboot_bin_secret)
	e2e_secret "$secret"
	two_ports
	# Node 1 holds the secret and presents a certificate naming github.com
	# (what anyone with the secret can sign); node 0 lists the real nodes
	# and resolves github.com to node 1's address.
	node_root 0
	r0=$NODE_ROOT
	printf '127.0.0.1\tlocalhost\n127.0.0.1\tgithub.com\n' >"$r0/etc/hosts"
	node_start 0 SSH_PORT="$P0" SSHBOOT_CLUSTER_SECRET="$secret" SSHBOOT_CLUSTER_RANK=0 \
		SSHBOOT_CLUSTER_HOSTS="127.0.0.1:$P0,127.0.0.1:$P1"
	node_start 1 SSH_PORT="$P1" SSHBOOT_CLUSTER_SECRET="$secret" SSHBOOT_CLUSTER_RANK=1 \
		SSHBOOT_CLUSTER_HOSTS="127.0.0.1:$P0,github.com:$P1"
	node_wait_ready 0
	node_wait_ready 1
	run -0 ssh-keygen -L -f <(node_certificate 1)
	assert_output --partial 'github.com'

	run --separate-stderr node_ssh 0 -p "$P1" github.com cat /etc/node-name
	assert_failure 255
	refute_output node1
	# shellcheck disable=SC2154 # set by run --separate-stderr
	[[ $stderr == *"Host key verification failed"* ]] || fail "stderr: $stderr"
	run --separate-stderr node_ssh 0 -o HostKeyAlias=github.com -p "$P1" 127.0.0.1 cat /etc/node-name
	assert_failure 255
	[[ $stderr == *"Host key verification failed"* ]] || fail "stderr: $stderr"

	# The cluster's own names still verify: node 1 by its alias, node 0 by
	# its listed address.
	run -0 --separate-stderr node_ssh 0 node-1 cat /etc/node-name
	assert_output node1
	run -0 --separate-stderr node_ssh 0 -p "$P0" 127.0.0.1 cat /etc/node-name
	assert_output node0
	run grep -E '^@cert-authority (\*|[^ ]*,\*)[, ]' "$r0/root/.ssh/known_hosts"
	assert_failure 1
	rm -f "$r0/etc/hosts"
}

@test "a symlinked known_hosts costs only the node's own logins: sshd starts and the link's target is untouched" {
	local secret port r
	secret=$(sshboot_bin_secret)
	e2e_secret "$secret"
	port=$(free_port)
	node_root 0
	r=$NODE_ROOT
	install -d -m 0700 "$r/root/.ssh"
	echo "precious" >"$r/etc/precious"
	ln -s /etc/precious "$r/root/.ssh/known_hosts"
	node_start 0 SSH_PORT="$port" SSHBOOT_CLUSTER_SECRET="$secret" SSHBOOT_CLUSTER_RANK=0 SSHBOOT_CLUSTER_HOSTS="127.0.0.1:$port"
	node_wait_ready 0
	run -0 cat "$BATS_TEST_TMPDIR/err.node.0"
	assert_output --partial '/root/.ssh/known_hosts is not a regular file'
	assert_output --partial 'cannot log in to its peers'
	run -0 cat "$r/etc/precious"
	assert_output precious
	[[ -L $r/root/.ssh/known_hosts ]] || fail "the symlink was replaced"
	# The host certificate is served all the same.
	run -0 ssh-keygen -L -f <(node_certificate 0)
	assert_output --partial 'host certificate'
}

@test "sshboot cluster secret prints a strong secret alone on its last line" {
	run -0 --separate-stderr "$E2E_SSHBOOT" cluster secret
	[[ ${lines[-1]} =~ ^sshboot-cluster-v1:[A-Za-z0-9_-]{43}$ ]] || fail "last line: ${lines[-1]}"
	local first=${lines[-1]}
	run -0 --separate-stderr "$E2E_SSHBOOT" cluster secret
	[[ ${lines[-1]} != "$first" ]] || fail "the same secret twice"
}

# sshboot_bin_secret: a new secret from the built binary.
sshboot_bin_secret() {
	"$E2E_SSHBOOT" cluster secret | tail -n 1
}

# nodes_stop_one N: stop node N only.
nodes_stop_one() {
	local n=$1 pid=${NODE_PIDS[$1]} init i
	init=$(pgrep -P "$pid" | head -n 1 || true)
	[[ -n $init ]] && kill -TERM "$init" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		_e2e_alive "$pid" || break
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || true
	NODE_PIDS[n]=
}
