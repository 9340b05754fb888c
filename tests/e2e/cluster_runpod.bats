#!/usr/bin/env bats
# Cluster mode on RunPod Instant Clusters: the platform gives each node only
# NODE_RANK, NUM_NODES, NODE_ADDR, PRIMARY_ADDR and NUM_TRAINERS, no list of
# the peers. Three nodes, each in its own network namespace with its own
# address and port 22, get only those and the cluster secret: every worker
# registers with the primary over SSH, and launchers on the primary reach all.

load test_helper
load cluster_helper

setup_file() { cluster_setup_file; }
setup() {
	cluster_setup 3
	cluster_use_netns
}
teardown() {
	# The silent primary of the registration test, when it still runs.
	if [[ -n ${LISTENER:-} ]]; then
		kill "$LISTENER" 2>/dev/null || true
		wait "$LISTENER" 2>/dev/null || true
	fi
	cluster_teardown
}

# start_runpod_node I SECRET [NAME=value...]: node I with RunPod's variables
# only (and the extra ones given).
start_runpod_node() {
	cluster_node_start "$1" "$2" SSHBOOT_CLUSTER_RANK= SSHBOOT_CLUSTER_HOSTS= \
		NODE_RANK="$1" NUM_NODES=3 NODE_ADDR="10.213.0.$(($1 + 1))" PRIMARY_ADDR=10.213.0.1 \
		NUM_TRAINERS=2 "${@:3}"
}

@test "RunPod nodes find each other: the primary's cluster wait, pdsh and mpirun reach all three" {
	local secret i
	secret=$(cluster_secret)
	for ((i = 0; i < 3; i++)); do
		start_runpod_node "$i" "$secret"
	done
	for ((i = 0; i < 3; i++)); do
		cluster_node_ready "$i"
	done
	run -0 cluster_exec 0 -- sshboot cluster wait --timeout 60
	assert_output --partial "all 3 nodes accept SSH"
	run -0 --separate-stderr cluster_exec 0 -- ssh node-0 'pdsh -R ssh -w "node-[0-2]" hostname | sort'
	assert_output "node-0: cnode0
node-1: cnode1
node-2: cnode2"
	# shellcheck disable=SC2016 # expanded on the nodes
	run -0 cluster_exec 0 -- ssh node-0 'mpirun sh -c '\''echo "$(hostname) $OMPI_MCA_plm_rsh_no_tree_spawn"'\'' 2>/dev/null | sort -u'
	assert_output "cnode0 1
cnode1 1
cnode2 1"
	run -0 cluster_exec 0 -- cat /job/hostfile
	assert_output "node-0 slots=2
node-1 slots=2
node-2 slots=2"
	grep -q "registered node-1 with the primary 10.213.0.1" "$BATS_TEST_TMPDIR/node1.err" ||
		fail "node 1 does not say it registered$(cluster_dump 1)"
}

@test "RunPod primary's cluster wait names a worker that has not registered, then succeeds once it has" {
	local secret
	secret=$(cluster_secret)
	start_runpod_node 0 "$secret"
	start_runpod_node 1 "$secret"
	cluster_node_ready 0
	cluster_node_ready 1
	run -1 cluster_exec 0 -- sshboot cluster wait --timeout 3
	assert_output --partial "node-2: not registered with this node yet"
	start_runpod_node 2 "$secret"
	cluster_node_ready 2
	run -0 cluster_exec 0 -- sshboot cluster wait --timeout 60
	assert_output --partial "all 3 nodes accept SSH"
}

@test "cluster register refuses a rank outside NUM_NODES or a bad address with exit 2" {
	local secret
	secret=$(cluster_secret)
	start_runpod_node 0 "$secret"
	cluster_node_ready 0
	run -2 cluster_exec 0 -- sshboot cluster register --rank 3 --addr 10.213.0.4 --nodes 3
	assert_output --partial "out of range"
	run -2 cluster_exec 0 -- sshboot cluster register --rank 1 --addr 'a;b' --nodes 3
	assert_output --partial "--addr"
	run -0 cluster_exec 0 -- sh -c 'ls /run/sshboot/cluster.d 2>/dev/null | wc -l'
	assert_output 0
}

@test "a local user holding a lock on the registry directory no longer blocks cluster register" {
	local secret i
	secret=$(cluster_secret)
	start_runpod_node 0 "$secret"
	cluster_node_ready 0
	run -0 cluster_exec 0 -- sshboot cluster register --rank 1 --addr 10.213.0.2 --nodes 3
	# What any local user can do: flock the directory (a read-only open)...
	# (ended with the node: its PID namespace goes with its PID 1)
	cluster_exec 0 -u nobody -- flock /run/sshboot/cluster.d sleep infinity </dev/null >/dev/null 2>&1 3>&- &
	for ((i = 0; i < 100; i++)); do
		cluster_exec 0 -- flock -n /run/sshboot/cluster.d true || break
		sleep 0.1
	done
	((i < 100)) || fail "the user's flock was not taken"
	# ... but not open the lock file registrations take.
	run cluster_exec 0 -u nobody -- flock -n /run/sshboot/cluster.d/.lock true
	assert_failure
	assert_output --partial 'Permission denied'
	run cluster_exec 0 -- timeout 20 sshboot cluster register --rank 2 --addr 10.213.0.3 --nodes 3
	assert_success
	assert_output --partial "registered node-2"
	run -0 cluster_exec 0 -- cat /job/hostfile
	assert_output "node-0 slots=2
node-1 slots=2
node-2 slots=2"
}

# node_descendants PID: the host PIDs of PID's descendants, one per line.
node_descendants() {
	local child
	for child in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
		echo "$child"
		node_descendants "$child"
	done
}

@test "a worker's registration and its ssh run without PID 1's secrets in their environment" {
	local secret init pid reg= ssh_pid= i
	secret=$(cluster_secret)
	e2e_secret "hunter2-registration-password"
	# A primary that accepts connections and never answers: the worker's
	# ssh waits there, long enough to be looked at.
	ip netns exec "${CLUSTER_NETNS[0]}" /usr/bin/python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.213.0.1", 22)); s.listen(8)
conns = []
while True:
    conns.append(s.accept()[0])
' </dev/null >/dev/null 2>&1 3>&- &
	LISTENER=$!
	start_runpod_node 1 "$secret" SSH_PASSWORD=hunter2-registration-password
	cluster_node_ready 1
	init=$(pgrep -P "${CLUSTER_PIDS[1]}" | head -n 1)
	for ((i = 0; i < 200; i++)); do
		for pid in $(node_descendants "$init"); do
			if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == ssh ]]; then
				ssh_pid=$pid
				reg=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status")
			fi
		done
		[[ -n $ssh_pid ]] && break
		sleep 0.1
	done
	[[ -n $ssh_pid ]] || fail "no registration ssh seen$(cluster_dump 1)"
	[[ $(cat "/proc/$reg/comm") == sshboot ]] || fail "the ssh's parent is $(cat "/proc/$reg/comm")"
	[[ $reg != "$init" ]] || fail "the ssh was started by PID 1 itself"
	local p env
	for p in "$ssh_pid" "$reg"; do
		env=$(tr '\0' '\n' <"/proc/$p/environ")
		[[ $env != *SSHBOOT_CLUSTER_SECRET* && $env != *SSH_PASSWORD* && $env != *CLUSTER_MARK* ]] ||
			fail "process $p ($(cat "/proc/$p/comm")) has: $env"
		[[ $env != *"$secret"* && $env != *hunter2-registration-password* ]] ||
			fail "process $p holds a secret in its environment"
	done
	env=$(tr '\0' '\n' <"/proc/$ssh_pid/environ")
	[[ $env == *PATH=* ]] || fail "the ssh has no PATH: $env"
	# PID 1 itself still has them: this is where they are read from.
	grep -qF SSHBOOT_CLUSTER_SECRET "/proc/$init/environ" || fail "not a fair comparison"
}
