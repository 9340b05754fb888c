#!/usr/bin/env bats
# `sshboot doctor` in cluster mode: on a node of a three-node cluster on
# 127.0.0.1 its cluster checks pass (secret, host certificate, every peer,
# launchers); a stopped peer is named not reachable; the Secret-volume mode
# trap is named with what to change; a container not in cluster mode shows no
# cluster checks.

load test_helper
load cluster_helper

setup_file() { cluster_setup_file; }
setup() { cluster_setup 3; }
teardown() {
	# The secret file a test planted is not a leak (removed before the check).
	[[ -z ${CLUSTER_ROOTS[0]:-} ]] || rm -f "${CLUSTER_ROOTS[0]}/etc/cluster/secret"
	cluster_teardown
}

# node_doctor I [ARG...]: `sshboot doctor` inside node I, as `docker exec` would.
node_doctor() {
	local i=$1
	shift
	cluster_exec "$i" -- sshboot doctor "$@"
}

# start_node_with_secret_file I FILE: start node I as cluster_node_start does,
# but with the secret in FILE (a path inside its root) instead of the variable.
# shellcheck disable=SC2153 # CLUSTER_PORTS and CLUSTER_HOSTS: set by cluster_setup
start_node_with_secret_file() {
	local i=$1 file=$2 root=${CLUSTER_ROOTS[$1]}
	unshare --pid --fork --kill-child --mount --uts --ipc --mount-proc="$root/proc" \
		/bin/sh -c "$SB_NS_INIT" sshboot-init "$root" \
		/bin/sh -c "$_CLUSTER_HOSTNAME" "${CLUSTER_NAMES[i]}" \
		/usr/bin/env -i PATH="$E2E_CONTAINER_PATH" HOSTNAME="${CLUSTER_NAMES[i]}" HOME=/root \
		SSH_PORT="${CLUSTER_PORTS[i]}" SSHBOOT_CLUSTER_SECRET_FILE="$file" \
		SSHBOOT_CLUSTER_RANK="$i" SSHBOOT_CLUSTER_HOSTS="$CLUSTER_HOSTS" \
		/usr/sbin/chroot "$root" /usr/local/bin/sshboot \
		</dev/null >>"$BATS_TEST_TMPDIR/node$i.out" 2>>"$BATS_TEST_TMPDIR/node$i.err" 3>&- &
	CLUSTER_PIDS[i]=$!
	echo "${CLUSTER_PIDS[i]}" >>"$BATS_TEST_TMPDIR/pids"
}

@test "doctor on a node of a healthy private cluster passes every cluster check and exits 0" {
	local secret
	secret=$(cluster_secret)
	cluster_start_all "$secret"
	run -0 cluster_exec 0 -- sshboot cluster wait --timeout 60
	# No public address is set: the peers still reach the node, so a missing
	# external endpoint is a warning, not a failure.
	run -0 node_doctor 0
	assert_line --regexp "^WARN +RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing .*the other 2 node\(s\) of the cluster still reach this one over SSH"
	refute_line --regexp "^FAIL"
	assert_line --regexp "^OK +cluster mode: this is node-0 of 3 nodes"
	assert_line --regexp "^OK +cluster secret \(SSHBOOT_CLUSTER_SECRET\) is present and strong$"
	assert_line --regexp "^OK +~/.ssh/id_\* private keys are private"
	assert_line --regexp "^OK +host certificate /.*ssh_host_ed25519_key-cert.pub is valid .* for (.*, )?node-0, (.*, )?127\.0\.0\.1(, .*)?, signed by the cluster CA SHA256:.* that known_hosts trusts$"
	assert_line --regexp "^OK +every node accepts an SSH login .*: node-0, node-1, node-2$"
	assert_line --regexp "^OK +launchers found: .*pdsh, .*mpirun$"
	refute_output --partial "cluster-"
	# (the endpoint's warning above is the only one)
	refute_line --regexp "^(FAIL|WARN|SKIP) +[^ R].*(cluster|node-|certificate|pdsh|mpirun)"
	refute_output --partial "$secret"

	run node_doctor 0 --json
	assert_output --partial '"id": "cluster-certificate", "status": "ok"'
	assert_output --partial '"id": "cluster-peers", "status": "ok"'
	assert_output --partial '"id": "endpoint", "status": "warn"'
	assert_output --partial '"ok": true'
	refute_output --partial '"status": "fail"'
	refute_output --partial "$secret"
}

@test "doctor names a stopped peer as not reachable" {
	local secret
	secret=$(cluster_secret)
	cluster_start_all "$secret"
	run -0 cluster_exec 0 -- sshboot cluster wait --timeout 60
	cluster_node_stop 2
	run -1 node_doctor 0
	assert_line --regexp "^FAIL +node-2 \(127\.0\.0\.1:${CLUSTER_PORTS[2]}\) is not reachable: connection refused.*Fix: start it"
	refute_line --regexp "node-1 .*not reachable"
	refute_line --regexp "^OK +every node accepts"
	run node_doctor 0 --json
	assert_output --partial '"id": "cluster-peers", "status": "fail"'
}

@test "doctor fails the cluster secret when its file became readable by others, and names a private key with mode 0644, with the fixes" {
	local secret
	secret=$(cluster_secret)
	cluster_prepare_root 0
	local root=${CLUSTER_ROOTS[0]}
	mkdir -p "$root/etc/cluster"
	printf '%s\n' "$secret" >"$root/etc/cluster/secret"
	chmod 0400 "$root/etc/cluster/secret"
	mkdir -p "$root/root/.ssh"
	chmod 0700 "$root/root/.ssh"
	ssh-keygen -q -t ed25519 -N '' -C mounted -f "$root/root/.ssh/id_mounted"
	chmod 0644 "$root/root/.ssh/id_mounted"
	start_node_with_secret_file 0 /etc/cluster/secret
	cluster_node_ready 0
	# What a Kubernetes Secret volume without defaultMode gives: readable by all.
	chmod 0644 "$root/etc/cluster/secret"
	run -1 node_doctor 0
	assert_line --regexp "^FAIL +the cluster secret \(SSHBOOT_CLUSTER_SECRET_FILE /etc/cluster/secret\) is refused: .* is mode 0644, readable by other users .*defaultMode: 0400"
	assert_line --regexp "^FAIL +private key /root/.ssh/id_mounted is mode 0644: ssh refuses it .*Fix: chmod 600 /root/.ssh/id_mounted"
	refute_output --partial "$secret"
}

@test "doctor in a container not in cluster mode has no cluster checks" {
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	local init
	init=$(_e2e_init_pid) || true
	[[ -n $init ]] || fail "no running sshboot to enter"
	run -0 nsenter -t "$init" -m -p -- /usr/sbin/chroot "$E2E_ROOT" \
		/usr/bin/env -i PATH="$E2E_CONTAINER_PATH" HOME=/root /usr/local/bin/sshboot doctor --json
	refute_output --partial '"cluster-'
	assert_output --partial '"ok": true'
}
