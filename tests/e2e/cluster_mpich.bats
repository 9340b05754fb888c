#!/usr/bin/env bats
# MPICH on a cluster: mpiexec (Hydra) launches its proxies over ssh, and the
# proxies then connect back to the launching node. Each node here has its own
# network namespace, address and host name, and no node resolves another's
# host name, as on a real multi-node job. MPICH is called by its own name
# (mpiexec.hydra), since OpenMPI's mpirun is in the same root. A hang is a
# failure: every launch runs under a time limit.

load test_helper
load cluster_helper

setup_file() { cluster_setup_file; }
setup() {
	cluster_setup 3
	cluster_use_netns
}
teardown() { cluster_teardown; }

# MPICH's launch must finish well within this (it takes about a second).
MPICH_TIMEOUT=60

start_cluster() {
	local secret
	secret=$(cluster_secret)
	cluster_start_all "$secret"
	run -0 cluster_exec 0 -- sshboot cluster wait --timeout 60
}

@test "mpiexec.hydra with the MPICH hostfile runs on all three nodes with no extra flags" {
	start_cluster
	cluster_exec 0 -- test -x /usr/bin/mpiexec.hydra || fail "no MPICH in the cluster root"
	# The host names are each node's own: node 0's is unknown to the others.
	run cluster_exec 1 -- getent hosts cnode0
	assert_failure
	# Through a session on node 0 (ssh node-0), as a user logged in there.
	run -0 --separate-stderr cluster_exec 0 -- ssh node-0 \
		"timeout $MPICH_TIMEOUT mpiexec.hydra -f /job/hostfile.mpich -n 3 hostname | sort"
	assert_output "cnode0
cnode1
cnode2"
	# HYDRA_HOST_FILE in the session: no -f needed either.
	run -0 --separate-stderr cluster_exec 0 -- ssh node-0 \
		"timeout $MPICH_TIMEOUT mpiexec.hydra -n 3 hostname | sort"
	assert_output "cnode0
cnode1
cnode2"
}

@test "mpiexec.hydra launched from another node reaches every node" {
	start_cluster
	run -0 --separate-stderr cluster_exec 2 -- ssh node-2 \
		"timeout $MPICH_TIMEOUT mpiexec.hydra -f /job/hostfile.mpich -n 3 hostname | sort"
	assert_output "cnode0
cnode1
cnode2"
}
