#!/usr/bin/env bats
# Cluster mode: three nodes, each its own root with sshboot as PID 1 and its
# own hostname, all on 127.0.0.1 on different ports, sharing only the cluster
# secret. Launchers on node 0 (ssh, pdsh, mpirun, mpi4py) reach every node by
# its alias, with strict host checking, no prompt and the container's
# environment; `sshboot cluster wait` says which node is not ready and why.

load test_helper
load cluster_helper

setup_file() { cluster_setup_file; }
setup() { cluster_setup 3; }
teardown() {
	kube_cleanup
	cluster_teardown
}

# on_node0 COMMAND: run COMMAND in a shell of an SSH session on node 0, logged
# in from outside with the client key, as a user of the job would.
on_node0() {
	ssh -p "${CLUSTER_PORTS[0]}" root@127.0.0.1 "$1"
}

start_cluster() {
	local secret
	secret=$(cluster_secret)
	cluster_start_all "$secret" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" "$@"
	run -0 cluster_exec 0 -- sshboot cluster wait --timeout 60
}

@test "node 0 logs in to node-1 and node-2 by alias with strict host checking and no prompt" {
	start_cluster
	# (not `i`: bats' run changes a caller's i)
	local peer
	for peer in 1 2; do
		run -0 --separate-stderr cluster_exec 0 -- \
			ssh -o StrictHostKeyChecking=yes -o BatchMode=yes "node-$peer" hostname
		assert_output "cnode$peer"
	done
	# The aliases come from the managed block of ~/.ssh/config.
	run -0 cluster_exec 0 -- ssh -G node-2
	assert_line "port ${CLUSTER_PORTS[2]}"
	assert_line "stricthostkeychecking true"
	# DeepSpeed's hostfile names the aliases; ~/.deepspeed_env carries PATH.
	run -0 cluster_exec 0 -- cat /job/hostfile
	assert_output "node-0 slots=1
node-1 slots=1
node-2 slots=1"
	run -0 cluster_exec 0 -- cat /root/.deepspeed_env
	assert_line "PATH=$E2E_CONTAINER_PATH"
	refute_output --partial SSHBOOT_CLUSTER
}

@test "pdsh over ssh runs on all three nodes and sees each container's environment" {
	start_cluster
	# shellcheck disable=SC2016 # expanded on the nodes
	run -0 on_node0 'pdsh -R ssh -w "node-[0-2]" '\''echo "$(hostname) $CLUSTER_MARK"'\'' | sort'
	assert_output "node-0: cnode0 mark-0
node-1: cnode1 mark-1
node-2: cnode2 mark-2"
}

@test "mpirun with the generated hostfile runs on all three nodes with their environment" {
	start_cluster
	# shellcheck disable=SC2016 # expanded on the nodes
	run -0 on_node0 'mpirun --hostfile /job/hostfile.openmpi sh -c '\''echo "$(hostname) $CLUSTER_MARK"'\'' 2>/dev/null | sort'
	assert_output "cnode0 mark-0
cnode1 mark-1
cnode2 mark-2"
	# The session names the hostfile, so a bare mpirun uses it too; DeepSpeed's
	# /job/hostfile has the same format.
	run -0 on_node0 'mpirun --hostfile /job/hostfile hostname 2>/dev/null | sort'
	assert_output "cnode0
cnode1
cnode2"
	run -0 on_node0 'mpirun hostname 2>/dev/null | sort | tr "\n" " "'
	assert_output "cnode0 cnode1 cnode2 "
}

@test "an mpi4py allreduce over three nodes gets the right sum" {
	start_cluster
	run -0 on_node0 "mpirun --hostfile /job/hostfile python3 -c 'from mpi4py import MPI
c = MPI.COMM_WORLD
s = c.allreduce(10 * (c.Get_rank() + 1))
print(\"rank\", c.Get_rank(), \"of\", c.Get_size(), \"sum\", s)' 2>/dev/null | sort"
	assert_output "rank 0 of 3 sum 60
rank 1 of 3 sum 60
rank 2 of 3 sum 60"
}

@test "a non-root SSH_USER gets the aliases, pdsh and mpirun without root's consent variables" {
	start_cluster SSH_USER=alice
	run -0 cluster_exec 0 -u alice -- sshboot cluster wait --timeout 30
	run -0 --separate-stderr cluster_exec 0 -u alice -- ssh node-2 'id -un; hostname'
	assert_output "alice
cnode2"
	run -0 cluster_exec 0 -u alice -- pdsh -R ssh -w "node-[0-2]" id -un
	assert_line --partial "node-0: alice"
	assert_line --partial "node-2: alice"
	run -0 cluster_exec 0 -u alice -- sh -c 'mpirun --hostfile /job/hostfile.openmpi hostname 2>/dev/null | sort'
	assert_output "cnode0
cnode1
cnode2"
}

@test "cluster wait reports a stopped node as refused, and ready once it restarts with the same host key" {
	local secret
	secret=$(cluster_secret)
	cluster_start_all "$secret"
	run -0 cluster_exec 0 -- sshboot cluster wait --timeout 60
	assert_output --regexp 'all 3 nodes'
	run -0 ssh-keyscan -p "${CLUSTER_PORTS[1]}" 127.0.0.1
	local before=$output

	cluster_node_stop 1
	run -1 cluster_exec 0 -- sshboot cluster wait --timeout 1
	assert_output --partial "node-1 (127.0.0.1:${CLUSTER_PORTS[1]}): connection refused"
	refute_output --partial "node-0 ("
	refute_output --partial "node-2 ("

	# A wait started while node 1 is down returns once it is back.
	cluster_exec 0 -- sshboot cluster wait --timeout 60 >"$BATS_TEST_TMPDIR/wait.out" 2>&1 &
	local waiter=$!
	local n
	for ((n = 0; n < 100; n++)); do
		grep -q 'node-1 .*connection refused.*trying again' "$BATS_TEST_TMPDIR/wait.out" && break
		sleep 0.1
	done
	cluster_node_start 1 "$secret"
	local status=0
	wait "$waiter" || status=$?
	run -0 cat "$BATS_TEST_TMPDIR/wait.out"
	((status == 0)) || fail "cluster wait exited $status: $output"
	assert_output --regexp "node-1 \\(127.0.0.1:${CLUSTER_PORTS[1]}\\): connection refused.*; trying again"
	assert_output --partial "node-1 (127.0.0.1:${CLUSTER_PORTS[1]}) is ready"
	assert_output --regexp 'cluster ready: all 3 nodes'
	run -0 --separate-stderr cluster_exec 0 -- ssh node-1 hostname
	assert_output cnode1
	run -0 ssh-keyscan -p "${CLUSTER_PORTS[1]}" 127.0.0.1
	[[ $output == "$before" ]] || fail "node 1's host keys changed across the restart"
}

@test "a node started with another secret fails host verification and cluster wait says so" {
	local secret other
	secret=$(cluster_secret)
	other=$(cluster_secret)
	cluster_node_start 0 "$secret"
	cluster_node_start 1 "$secret"
	cluster_node_start 2 "$other"
	local i
	for i in 0 1 2; do cluster_node_ready "$i"; done
	run -255 --separate-stderr cluster_exec 0 -- ssh node-2 true
	# shellcheck disable=SC2154 # set by run --separate-stderr
	[[ $stderr == *"Host key verification failed"* ]] ||
		fail "ssh did not fail host verification: $stderr"
	run -1 cluster_exec 0 -- sshboot cluster wait --timeout 2
	assert_output --partial "node-2 (127.0.0.1:${CLUSTER_PORTS[2]}): host certificate not accepted"
	refute_output --partial "node-1 ("
}

@test "cluster wait with every node up returns at once and prints how long it took" {
	local secret
	secret=$(cluster_secret)
	cluster_start_all "$secret"
	run -0 cluster_exec 0 -- sshboot cluster wait --timeout 60
	run -0 cluster_exec 0 -- sshboot cluster wait --timeout 60
	assert_output --regexp '^cluster ready: all 3 nodes accept SSH \([0-9.]+ s\)$'
	echo "# cluster wait with 3 nodes up: $output" >&3
	run -0 cluster_exec 2 -- sshboot cluster wait --timeout 0
}

@test "with each node in its own network namespace on port 22, pdsh and mpirun reach every node" {
	cluster_use_netns
	local secret
	secret=$(cluster_secret)
	cluster_start_all "$secret"
	run -0 cluster_exec 0 -- sshboot cluster wait --timeout 60
	run -0 --separate-stderr cluster_exec 0 -- ssh -o StrictHostKeyChecking=yes node-2 hostname
	assert_output cnode2
	# Through a session on node 0 (ssh node-0), as a user logged in there.
	# shellcheck disable=SC2016 # expanded on the nodes
	run -0 cluster_exec 0 -- ssh node-0 'pdsh -R ssh -w "node-[0-2]" '\''echo "$(hostname) $CLUSTER_MARK"'\'' | sort'
	assert_output "node-0: cnode0 mark-0
node-1: cnode1 mark-1
node-2: cnode2 mark-2"
	# shellcheck disable=SC2016 # expanded on the nodes
	run -0 cluster_exec 0 -- ssh node-0 'mpirun sh -c '\''echo "$(hostname) $CLUSTER_MARK"'\'' 2>/dev/null | sort'
	assert_output "cnode0 mark-0
cnode1 mark-1
cnode2 mark-2"
}

@test "an unknown peer pattern or a rank outside the list stops with exit 2 naming the variable and writes nothing" {
	local secret root
	secret=$(cluster_secret)
	cluster_node_start 0 "$secret" SSHBOOT_CLUSTER_HOSTS= \
		SSHBOOT_CLUSTER_PATTERN='trainer-{index}.trainer' SSHBOOT_CLUSTER_SIZE=3
	cluster_node_wait_exit 0
	[[ $CLUSTER_STATUS == 2 ]] || fail "exit status $CLUSTER_STATUS, not 2$(cluster_dump 0)"
	grep -q 'SSHBOOT_CLUSTER_PATTERN' "$BATS_TEST_TMPDIR/node0.err" ||
		fail "the message does not name SSHBOOT_CLUSTER_PATTERN$(cluster_dump 0)"

	cluster_node_start 1 "$secret" SSHBOOT_CLUSTER_RANK=5
	cluster_node_wait_exit 1
	[[ $CLUSTER_STATUS == 2 ]] || fail "exit status $CLUSTER_STATUS, not 2$(cluster_dump 1)"
	grep -q 'SSHBOOT_CLUSTER_RANK' "$BATS_TEST_TMPDIR/node1.err" ||
		fail "the message does not name SSHBOOT_CLUSTER_RANK$(cluster_dump 1)"

	for root in "${CLUSTER_ROOTS[0]}" "${CLUSTER_ROOTS[1]}"; do
		for f in job/hostfile root/.ssh/config root/.ssh/id_ed25519 root/.deepspeed_env; do
			[[ ! -e $root/$f ]] || fail "$f was written"
		done
	done
}

@test "the Kubernetes cluster manifest's pattern gives a pod its rank from its hostname and its peers by DNS name" {
	run -0 python3 - "$E2E_REPO/templates/kubernetes-cluster.yaml" <<-'PY'
		import os, sys, yaml
		docs = list(yaml.safe_load_all(open(sys.argv[1])))
		by_kind = {d["kind"]: d for d in docs}
		# No Secret in the manifest: `kubectl apply` must never replace the
		# real secret with a placeholder.
		assert set(by_kind) == {"Service", "StatefulSet"}, sorted(by_kind)
		text = open(sys.argv[1]).read()
		assert "stringData" not in text and "replace-with" not in text
		svc, sts = by_kind["Service"], by_kind["StatefulSet"]
		assert svc["spec"]["clusterIP"] == "None", "the Service must be headless"
		assert svc["spec"].get("publishNotReadyAddresses") is True
		assert sts["spec"]["serviceName"] == svc["metadata"]["name"]
		assert sts["spec"].get("podManagementPolicy") == "Parallel"
		pod = sts["spec"]["template"]["spec"]
		(c,) = pod["containers"]
		env = {e["name"]: e.get("value") for e in c["env"]}
		pattern, size = env["SSHBOOT_CLUSTER_PATTERN"], env["SSHBOOT_CLUSTER_SIZE"]
		name = sts["metadata"]["name"]
		assert pattern == f"{name}-{{rank}}.{svc['metadata']['name']}", pattern
		assert int(size) == sts["spec"]["replicas"], (size, sts["spec"]["replicas"])
		secret_file = env["SSHBOOT_CLUSTER_SECRET_FILE"]
		volumes = {v["name"]: v for v in pod["volumes"]}
		(mount,) = [m for m in c["volumeMounts"] if "secret" in volumes[m["name"]]]
		assert os.path.dirname(secret_file) == mount["mountPath"].rstrip("/"), (secret_file, mount)
		secret_name = volumes[mount["name"]]["secret"]["secretName"]
		# The steps create that Secret with that key from `sshboot cluster secret`.
		create = (f"kubectl create secret generic {secret_name} \\\n#          "
		          f"--from-literal={os.path.basename(secret_file)}=\"$(sshboot cluster secret | tail -n 1)\"")
		assert create in text, create
		assert volumes[mount["name"]]["secret"]["defaultMode"] == 0o400
		assert "SSHBOOT_CLUSTER_SECRET" not in env
		print(pattern, size, name)
	PY
	local pattern size name secret
	read -r pattern size name <<<"$output"
	secret=$(cluster_secret)
	# shellcheck disable=SC2034 # read by cluster_node_start
	CLUSTER_NAMES[0]=$name-1
	cluster_node_start 0 "$secret" SSHBOOT_CLUSTER_RANK= SSHBOOT_CLUSTER_HOSTS= \
		SSHBOOT_CLUSTER_PATTERN="$pattern" SSHBOOT_CLUSTER_SIZE="$size"
	cluster_node_ready 0
	run -0 cluster_exec 0 -- ssh -G node-2
	assert_line "hostname $name-2.$name"
	run -0 cluster_exec 0 -- cat /job/hostfile
	assert_output "node-0 slots=1
node-1 slots=1
node-2 slots=1"
	run -1 cluster_exec 0 -- sshboot cluster wait --timeout 0
	assert_output --partial "node-0 ($name-0.$name:${CLUSTER_PORTS[0]}): DNS"
	assert_output --partial "node-2 ($name-2.$name:${CLUSTER_PORTS[0]}): DNS"
}

@test "a symlinked ~/.ssh/config costs only the aliases: the node starts, the link's target is untouched" {
	local secret root
	secret=$(cluster_secret)
	cluster_prepare_root 0
	root=${CLUSTER_ROOTS[0]}
	mkdir -m 0700 "$root/root/.ssh"
	printf 'keep me\n' >"$root/root/target"
	ln -s /root/target "$root/root/.ssh/config"
	cluster_node_start 0 "$secret"
	cluster_node_ready 0
	grep -q 'config is not a regular file' "$BATS_TEST_TMPDIR/node0.err" ||
		fail "no warning about ~/.ssh/config$(cluster_dump 0)"
	run -0 cat "$root/root/target"
	assert_output "keep me"
	run -0 cluster_exec 0 -- cat /job/hostfile.mpich
	assert_output "node-0:1
node-1:1
node-2:1"
}

# --- the Kubernetes manifest's pods under podman kube play --------------------

KUBE_PREFIX=

kube_cleanup() {
	[[ -n ${KUBE_PREFIX:-} ]] || return 0
	podman kube down "$BATS_TEST_TMPDIR/kube.yaml" >/dev/null 2>&1 || true
	podman secret rm "$KUBE_PREFIX-cluster" >/dev/null 2>&1 || true
	podman rmi -f "localhost/$KUBE_PREFIX:root" >/dev/null 2>&1 || true
	KUBE_PREFIX=
}

@test "the manifest's pods, played by podman kube play with one shared secret file, log in to each other by alias" {
	command -v podman >/dev/null && command -v runc >/dev/null || e2e_fail_or_skip "needs podman and runc"
	export CONTAINERS_CONF=$BATS_TEST_TMPDIR/containers.conf
	printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\nnetns = "host"\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n' >"$CONTAINERS_CONF"
	podman info >/dev/null 2>&1 || e2e_fail_or_skip "podman does not work here"
	KUBE_PREFIX=sshboot-cluster-e2e-$$-$RANDOM
	local secret image=localhost/$KUBE_PREFIX:root legacy=0 version
	secret=$(cluster_secret)
	printf '%s\n' "$secret" >"$BATS_TEST_TMPDIR/secret.txt"
	install -d -m 0755 "$BATS_TEST_TMPDIR/secret-volume"
	install -m 0400 "$BATS_TEST_TMPDIR/secret.txt" "$BATS_TEST_TMPDIR/secret-volume/secret"
	run -0 podman import -q --change "ENV PATH=$E2E_CONTAINER_PATH" "$CLUSTER_ROOT_TAR" "$image"
	# podman before 4.4 mounts a Secret's data undecoded and ignores
	# stringData (containers/podman#16625): there the test stores the Secret
	# itself and plays the rest.
	version=$(podman version --format '{{.Client.Version}}')
	[[ $(printf '%s\n' "$version" 4.4.0 | sort -V | head -n 1) == 4.4.0 ]] || legacy=1
	# StatefulSets are not played by podman: each pod of the set becomes a
	# Pod with the set's pod template, its hostname and, on the host's
	# network, its own port (so the list comes from SSHBOOT_CLUSTER_HOSTS).
	run -0 python3 - "$E2E_REPO/templates/kubernetes-cluster.yaml" "$BATS_TEST_TMPDIR" "$image" \
		"$E2E_SSHBOOT" "$KUBE_PREFIX" "$legacy" "$CLUSTER_HOSTS" "${CLUSTER_PORTS[@]}" <<-'PY'
		import copy, json, sys, yaml
		src, out, image, binary, prefix, legacy, hosts, *ports = sys.argv[1:]
		docs = {d["kind"]: d for d in yaml.safe_load_all(open(src))}
		sts = docs["StatefulSet"]
		secret_name = prefix + "-cluster"
		# What the manifest's first step (kubectl create secret generic) makes.
		secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		          "metadata": {"name": secret_name},
		          "stringData": {"secret": open(f"{out}/secret.txt").read().strip()}}
		pods = []
		for rank, port in enumerate(ports):
		    tmpl = copy.deepcopy(sts["spec"]["template"])
		    spec = tmpl["spec"]
		    name = f"{sts['metadata']['name']}-{rank}"
		    spec["hostname"] = name
		    spec["hostNetwork"] = True
		    (c,) = spec["containers"]
		    c["image"] = image
		    c["command"] = ["/usr/local/bin/sshboot"]
		    c.pop("ports", None)
		    c.pop("readinessProbe", None)
		    c["env"] += [{"name": "SSH_PORT", "value": port},
		                 {"name": "SSHBOOT_CLUSTER_HOSTS", "value": hosts}]
		    c["volumeMounts"].append({"name": "sshboot", "mountPath": "/usr/local/bin/sshboot", "readOnly": True})
		    spec["volumes"].append({"name": "sshboot", "hostPath": {"path": binary, "type": "File"}})
		    # podman kube play ignores a Secret volume's defaultMode (its files
		    # are 0644, which sshboot refuses, as it should on Kubernetes): the
		    # pods mount the same secret from one host file with mode 0400.
		    for v in spec["volumes"]:
		        if "secret" in v:
		            del v["secret"]
		            v["hostPath"] = {"path": f"{out}/secret-volume", "type": "Directory"}
		    pods.append({"apiVersion": "v1", "kind": "Pod",
		                 "metadata": {"name": f"{prefix}-{rank}", "labels": tmpl["metadata"]["labels"]},
		                 "spec": spec})
		docs_out = [secret] + pods
		if legacy == "1":
		    stored = {k: v for k, v in secret.items() if k != "stringData"}
		    stored["data"] = secret["stringData"]
		    json.dump(stored, open(f"{out}/secret.json", "w"))
		    docs_out = pods
		yaml.safe_dump_all(docs_out, open(f"{out}/kube.yaml", "w"))
	PY
	if ((legacy)); then
		run -0 podman secret create "$KUBE_PREFIX-cluster" "$BATS_TEST_TMPDIR/secret.json"
	fi
	run podman kube play "$BATS_TEST_TMPDIR/kube.yaml"
	assert_success
	local c0=$KUBE_PREFIX-0-trainer
	run podman exec "$c0" sshboot cluster wait --timeout 60
	((status == 0)) || fail "cluster wait exited $status: $output
$(for n in 0 1 2; do podman logs "$KUBE_PREFIX-$n-trainer" 2>&1 | tail -n 5; done)"
	run -0 --separate-stderr podman exec "$c0" ssh node-2 hostname
	assert_output trainer-2
	run -0 podman exec "$c0" sh -c 'pdsh -R ssh -w "node-[0-2]" hostname | sort'
	assert_output "node-0: trainer-0
node-1: trainer-1
node-2: trainer-2"
}

@test "a hard-linked ~/.ssh/known_hosts or ~/.ssh/config is refused: the node starts and nothing of the other name is copied" {
	local secret root
	secret=$(cluster_secret)
	cluster_prepare_root 0
	root=${CLUSTER_ROOTS[0]}
	mkdir -m 0700 "$root/root/.ssh"
	# Second names of files the user must not read (as /etc/shadow would be).
	printf 'PRECIOUS-KNOWN-HOSTS\n' >"$root/etc/precious-a"
	printf 'PRECIOUS-CONFIG\n' >"$root/etc/precious-b"
	chmod 0600 "$root/etc/precious-a" "$root/etc/precious-b"
	ln "$root/etc/precious-a" "$root/root/.ssh/known_hosts"
	ln "$root/etc/precious-b" "$root/root/.ssh/config"
	cluster_node_start 0 "$secret"
	cluster_node_ready 0
	run -0 cat "$BATS_TEST_TMPDIR/node0.err"
	assert_output --partial '/root/.ssh/known_hosts has 2 hard links'
	assert_output --partial '/root/.ssh/config has 2 hard links'
	run -0 stat -c '%h %s' "$root/root/.ssh/known_hosts" "$root/root/.ssh/config"
	assert_line --index 0 "2 21"
	assert_line --index 1 "2 16"
	# No other file under the home holds their text.
	run grep -rlE --exclude=known_hosts --exclude=config 'PRECIOUS' "$root/root"
	assert_failure 1
	# The rest of the node's files are written.
	run -0 cluster_exec 0 -- cat /job/hostfile
	assert_output "node-0 slots=1
node-1 slots=1
node-2 slots=1"
}

@test "a /job that is a symlink is not followed: the hostfiles are not written through it and the node still serves SSH" {
	local secret root
	secret=$(cluster_secret)
	cluster_prepare_root 0
	root=${CLUSTER_ROOTS[0]}
	mkdir -p "$root/srv/elsewhere"
	ln -s /srv/elsewhere "$root/job"
	cluster_node_start 0 "$secret"
	cluster_node_ready 0
	run -0 cat "$BATS_TEST_TMPDIR/node0.err"
	assert_output --partial '/job is a symlink, which is never followed here'
	run -0 ls -A "$root/srv/elsewhere"
	assert_output ""
	# Sessions are not pointed at hostfiles that were not written.
	run -0 --separate-stderr cluster_exec 0 -- ssh node-0 'echo "[${OMPI_MCA_orte_default_hostfile:-}${HYDRA_HOST_FILE:-}]"'
	assert_output "[]"
}
