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
teardown() { cluster_teardown; }

# start_runpod_node I SECRET: node I with RunPod's variables only.
start_runpod_node() {
	cluster_node_start "$1" "$2" SSHBOOT_CLUSTER_RANK= SSHBOOT_CLUSTER_HOSTS= \
		NODE_RANK="$1" NUM_NODES=3 NODE_ADDR="10.213.0.$(($1 + 1))" PRIMARY_ADDR=10.213.0.1 \
		NUM_TRAINERS=2
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
