#!/usr/bin/env bats
# The images under docker/ and the platform templates under templates/, built
# and run for real with podman, each variant of docker-bake.hcl built from
# docker/Dockerfile with the bake target's build arguments. The PyTorch and
# CUDA bases are replaced by a local Debian base (there is no registry here):
# what is tested is the Dockerfile's own work (the builder stage compiling
# sshboot, the runtime stage adding OpenSSH and the binary) and how the
# containers behave; the bake file itself is checked as text.

load test_helper
load images_helper

setup_file() {
	e2e_setup_file
	local why variant
	if why=$(img_missing_requirement); then
		echo "$why" >"$BATS_FILE_TMPDIR/images-unusable"
		return 0
	fi
	if ! img_prepare_base; then
		for variant in "${IMG_VARIANTS[@]}"; do
			echo "could not build or import the base image $IMG_BASE from $IMG_BASE_TAR" \
				>"$BATS_FILE_TMPDIR/$variant.failed"
		done
		return 0
	fi
	img_build_all
	img_record_figures
	sed 's/^/# /' "$IMG_CACHE/figures.txt" >&3
}

setup() {
	e2e_setup
}

teardown() {
	kube_teardown
	img_teardown
	if [[ -s $BATS_TEST_TMPDIR/images ]]; then
		xargs -r podman rmi -f <"$BATS_TEST_TMPDIR/images" >/dev/null 2>&1 || true
	fi
	if [[ -s $BATS_TEST_TMPDIR/pids-to-kill ]]; then
		xargs -r kill <"$BATS_TEST_TMPDIR/pids-to-kill" 2>/dev/null || true
	fi
	e2e_teardown
}

# --- the Dockerfile and the bake file as text ------------------------------------

@test "docker/ has one Dockerfile and docker-bake.hcl's default targets are the variants this file builds" {
	run -0 find "$E2E_REPO/docker" -maxdepth 1 -type f -iname '*dockerfile*' -printf '%f\n'
	assert_output Dockerfile
	run -0 python3 "$E2E_REPO/tests/e2e/bake_print.py" "$E2E_REPO/docker-bake.hcl"
	local targets
	targets=$(python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["target"])))' <<<"$output")
	assert_equal "$targets" "$(printf '%s\n' "${IMG_VARIANTS[@]}" | sort | xargs)"
}

@test "every bake target builds docker/Dockerfile for linux/amd64 and linux/arm64 from its documented base, labelled MIT" {
	run python3 - "$E2E_REPO" <<-'PY'
		import json, re, subprocess, sys
		repo = sys.argv[1]
		bake = json.loads(subprocess.check_output(
		    ["python3", f"{repo}/tests/e2e/bake_print.py", f"{repo}/docker-bake.hcl"]))
		bases = {
		    "pytorch": r"pytorch/pytorch:[0-9.]+-cuda[0-9.]+-cudnn[0-9]+-runtime",
		    "cuda": r"nvidia/cuda:[0-9.]+-cudnn-runtime-ubuntu22\.04",
		    "debian": r"debian:bookworm(-slim)?",
		}
		lines = [l.strip() for l in open(f"{repo}/docker/Dockerfile")]
		code = [l for l in lines if l and not l.startswith("#")]
		declared = {m.group(1) for l in code if (m := re.match(r"ARG (\w+)", l))}
		for name, t in bake["target"].items():
		    assert t["context"] == ".", (name, t["context"])
		    assert t["dockerfile"] == "docker/Dockerfile", (name, t["dockerfile"])
		    assert sorted(t["platforms"]) == ["linux/amd64", "linux/arm64"], (name, t["platforms"])
		    args = t["args"]
		    assert re.fullmatch(bases[name], args["BASE_IMAGE"]), (name, args["BASE_IMAGE"])
		    assert args["VARIANT"] == name, (name, args["VARIANT"])
		    assert args["SSHBOOT_LICENSE"] == "MIT"
		    assert args["BUILDER_IMAGE"].startswith("debian:"), args["BUILDER_IMAGE"]
		    assert args["SSHBOOT_BINARY"] in ("source", "release"), args["SSHBOOT_BINARY"]
		    unknown = set(args) - declared
		    assert not unknown, f"{name}: build args the Dockerfile does not declare: {unknown}"
		    assert all(tag.split(":")[0].endswith(f"/sshboot-{name}") for tag in t["tags"]), t["tags"]
		# The Dockerfile's own defaults are the Debian variant.
		defaults = dict(m.groups() for l in code if (m := re.match(r"ARG (\w+)=(\S+)$", l)))
		assert re.fullmatch(bases["debian"], defaults["BASE_IMAGE"]), defaults["BASE_IMAGE"]
		assert defaults["SSHBOOT_LICENSE"] == "MIT"
		assert defaults["SSHBOOT_BINARY"] == "source"
		# One builder stage: no stage name computed from a build argument
		# (podman 4.3 cannot resolve one whose argument keeps its default).
		assert "FROM ${BUILDER_IMAGE} AS builder" in code
		assert not [l for l in code if re.match(r"FROM \S*\$", l) and not re.match(r"FROM \$\{(BASE|BUILDER)_IMAGE\}( |$)", l)], code
		assert "FROM ${BASE_IMAGE}" in code
		assert code[-1] == 'ENTRYPOINT ["/usr/local/bin/sshboot"]', code[-1]
		assert "EXPOSE 22" in code
		print("ok")
	PY
	assert_success
	assert_output ok
}

@test "the build context keeps build trees and .git out and has what the builder copies" {
	img_fail_or_skip_unless_usable
	[[ ! -e $BATS_FILE_TMPDIR/debian.failed ]] || fail "$(cat "$BATS_FILE_TMPDIR/debian.failed")"
	local probe=$BATS_TEST_TMPDIR/Containerfile tag=localhost/sshboot-test-context:probe
	mkdir -p "$E2E_REPO/build-context-probe"
	printf 'FROM %s\nCOPY . /ctx\n' "$IMG_BASE" >"$probe"
	run podman build -q --network=host -f "$probe" -t "$tag" "$E2E_REPO"
	rmdir "$E2E_REPO/build-context-probe"
	assert_success
	run -0 podman run --rm --network host --entrypoint /bin/ls "$tag" -A /ctx
	podman rmi "$tag" >/dev/null 2>&1 || true
	refute_line --regexp '^build'
	refute_line '.git'
	assert_line CMakeLists.txt
	assert_line bootstrap
	assert_line cmake
	assert_line templates
}

# --- per image --------------------------------------------------------------------

# check_metadata VARIANT: entrypoint, no default command, port 22, OCI labels,
# and the version label matches the binary.
check_metadata() {
	img_require "$1"
	run -0 podman run --rm --network host "$IMAGE" --version
	local version
	version=$(awk '{ print $2 }' <<<"$output")
	run -0 podman image inspect --format '{{json .Config}}' "$IMAGE"
	run python3 - "$output" "$1" "$version" "$IMG_BASE" <<-'PY'
		import json, sys
		config, variant, version, base = json.loads(sys.argv[1]), *sys.argv[2:]
		assert config["Entrypoint"] == ["/usr/local/bin/sshboot"], config["Entrypoint"]
		assert not config.get("Cmd"), f"a default command: {config.get('Cmd')}"
		assert "22/tcp" in (config.get("ExposedPorts") or {}), config.get("ExposedPorts")
		labels = config.get("Labels") or {}
		for name in ("title", "description", "source", "licenses", "version", "base.name"):
		    assert f"org.opencontainers.image.{name}" in labels, f"no label {name}"
		assert labels["org.opencontainers.image.title"] == f"sshboot-{variant}"
		assert labels["org.opencontainers.image.licenses"] == "MIT", labels["org.opencontainers.image.licenses"]
		assert labels["org.opencontainers.image.version"] == version, (labels["org.opencontainers.image.version"], version)
		assert labels["org.opencontainers.image.base.name"] == base
		print("ok")
	PY
	assert_success
}

# check_no_host_keys VARIANT: OpenSSH's server is in the image, its host keys
# are not, and the package lists are gone.
check_no_host_keys() {
	img_require "$1"
	run -0 podman run --rm --network host --entrypoint /bin/sh "$IMAGE" -c '
		find / -xdev \( -path /proc -o -path /sys \) -prune -o -name "ssh_host_*key*" -print
		echo "sshd: $(ls /usr/sbin/sshd)"
		echo "apt lists: $(ls -A /var/lib/apt/lists | wc -l)"
		echo "apt caches: $(find /var/cache/apt -name "*.bin" | wc -l)"
		echo "sshboot: $(ls -l /usr/local/bin/sshboot | cut -d" " -f1)"'
	refute_output --partial ssh_host_
	assert_line "sshd: /usr/sbin/sshd"
	assert_line "apt lists: 0"
	assert_line "apt caches: 0"
	assert_line --regexp '^sshboot: -rwxr-xr-x'
}

# check_login VARIANT: the command a RunPod-style container prints logs in.
check_login() {
	img_require "$1"
	local port
	port=$(free_port)
	img_start "$IMAGE" "$port"
	img_wait_connect "$CONTAINER"
	run -0 img_connect_command "$CONTAINER"
	assert_output "ssh root@127.0.0.1 -p $port"
	run -0 img_run_printed "$CONTAINER" 'id -un; cat /proc/1/comm'
	assert_line -n 0 root
	assert_line -n 1 sshboot
}

# check_pid1 VARIANT: PID 1 of the container is sshboot.
check_pid1() {
	img_require "$1"
	local port
	port=$(free_port)
	img_start "$IMAGE" "$port"
	img_wait_connect "$CONTAINER"
	run -0 podman exec "$CONTAINER" cat /proc/1/comm
	assert_output sshboot
}

# check_stop VARIANT: `podman stop` ends the container within the grace
# period, by sshboot's own shutdown (0 or 143), not podman's SIGKILL.
check_stop() {
	img_require "$1"
	local port start elapsed code grace=10
	port=$(free_port)
	img_start "$IMAGE" "$port"
	img_wait_connect "$CONTAINER"
	start=$(date +%s%N)
	run -0 podman stop -t "$grace" "$CONTAINER"
	elapsed=$((($(date +%s%N) - start) / 1000000))
	code=$(podman inspect --format '{{.State.ExitCode}}' "$CONTAINER")
	[[ $code == 0 || $code == 143 ]] || fail "exit code $code after podman stop (137 means SIGKILL after the grace period)$(img_dump "$CONTAINER")"
	((elapsed < grace * 1000)) || fail "podman stop took ${elapsed} ms, grace period ${grace} s"
	echo "# $1: podman stop took ${elapsed} ms, exit code $code" >&3
}

# check_distinct_host_keys VARIANT: two containers of one image serve
# different host keys, and each prints the fingerprint of the key it serves.
check_distinct_host_keys() {
	img_require "$1"
	local port1 port2 first second fp1 fp2
	port1=$(free_port)
	img_start "$IMAGE" "$port1"
	first=$CONTAINER
	img_wait_connect "$first"
	port2=$(free_port)
	img_start "$IMAGE" "$port2"
	second=$CONTAINER
	img_wait_connect "$second"
	fp1=$(ssh-keyscan -p "$port1" -t ed25519 127.0.0.1 2>/dev/null | ssh-keygen -l -f - | awk '{ print $2 }')
	fp2=$(ssh-keyscan -p "$port2" -t ed25519 127.0.0.1 2>/dev/null | ssh-keygen -l -f - | awk '{ print $2 }')
	[[ $fp1 == SHA256:* && $fp2 == SHA256:* ]] || fail "no host keys served: '$fp1' '$fp2'"
	[[ $fp1 != "$fp2" ]] || fail "both containers serve host key $fp1"
	img_stdout "$first" | grep -qF -- "$fp1" || fail "container 1 does not print $fp1$(img_dump "$first")"
	img_stdout "$second" | grep -qF -- "$fp2" || fail "container 2 does not print $fp2$(img_dump "$second")"
}

@test "pytorch image: entrypoint, port 22 and OCI labels are set" {
	check_metadata pytorch
}

@test "pytorch image: has OpenSSH's server but no host keys, package lists or apt caches" {
	check_no_host_keys pytorch
}

@test "pytorch image: a container logs in with the command its log prints" {
	check_login pytorch
}

@test "pytorch image: PID 1 of a container is sshboot" {
	check_pid1 pytorch
}

@test "pytorch image: podman stop ends a container within the grace period" {
	check_stop pytorch
}

@test "pytorch image: two containers have different host keys" {
	check_distinct_host_keys pytorch
}


@test "cuda image: entrypoint, port 22 and OCI labels are set" {
	check_metadata cuda
}

@test "cuda image: has OpenSSH's server but no host keys, package lists or apt caches" {
	check_no_host_keys cuda
}

@test "cuda image: a container logs in with the command its log prints" {
	check_login cuda
}

@test "cuda image: PID 1 of a container is sshboot" {
	check_pid1 cuda
}

@test "cuda image: podman stop ends a container within the grace period" {
	check_stop cuda
}

@test "cuda image: two containers have different host keys" {
	check_distinct_host_keys cuda
}


@test "debian image: entrypoint, port 22 and OCI labels are set" {
	check_metadata debian
}

@test "debian image: has OpenSSH's server but no host keys, package lists or apt caches" {
	check_no_host_keys debian
}

@test "debian image: a container logs in with the command its log prints" {
	check_login debian
}

@test "debian image: PID 1 of a container is sshboot" {
	check_pid1 debian
}

@test "debian image: podman stop ends a container within the grace period" {
	check_stop debian
}

@test "debian image: two containers have different host keys" {
	check_distinct_host_keys debian
}


# --- templates ------------------------------------------------------------------

KUBE_NAME=

kube_teardown() {
	[[ -n ${KUBE_NAME:-} ]] || return 0
	podman kube down "$BATS_TEST_TMPDIR/kube.yaml" >/dev/null 2>&1 || true
	podman secret rm "$KUBE_NAME-keys" >/dev/null 2>&1 || true
	podman volume rm -f "$KUBE_NAME-keys" "$KUBE_NAME-state" >/dev/null 2>&1 || true
	KUBE_NAME=
}

@test "SSHBOOT_BINARY=release takes the binary from a dist/ made by release.sh, checked against SHA256SUMS, and compiles nothing" {
	img_require debian
	local ctx=$BATS_TEST_TMPDIR/context tag=localhost/sshboot-test-release:probe
	mkdir -p "$ctx/docker"
	cp -a "$E2E_REPO/docker/Dockerfile" "$ctx/docker/"
	cp -a "$E2E_REPO/CMakeLists.txt" "$E2E_REPO/cmake" "$E2E_REPO/bootstrap" "$E2E_REPO/templates" "$ctx/"
	run -0 bash "$E2E_REPO/scripts/release.sh" 0.1.0 --arch x86_64 --use-binary "x86_64=$E2E_SSHBOOT" \
		--out "$ctx/dist" --work "$BATS_TEST_TMPDIR/release-work"
	# A file of this run in dist/: the COPY and the checking RUN are never
	# taken from podman's layer cache (a cached RUN prints nothing).
	printf '%s\n' "$BATS_TEST_TMPDIR" >"$ctx/dist/test-run"
	local args=()
	mapfile -t args < <(img_build_args debian)
	run podman build --network=host --layers "${args[@]}" --build-arg SSHBOOT_BINARY=release \
		-f docker/Dockerfile -t "$tag" "$ctx"
	echo "$tag" >>"$BATS_TEST_TMPDIR/images"
	assert_success
	# (The RUN that compiles is printed, but compiles nothing.)
	refute_output --regexp 'Building CXX object|Linking CXX'
	assert_output --partial 'sshboot-linux-x86_64: OK'
	cmp <(podman run --rm --network host --entrypoint /bin/cat "$tag" /usr/local/bin/sshboot) "$ctx/dist/sshboot-linux-x86_64"
	# A binary that does not match SHA256SUMS stops the build.
	printf 'x' >>"$ctx/dist/sshboot-linux-x86_64"
	echo "$tag-bad" >>"$BATS_TEST_TMPDIR/images"
	run podman build --network=host --layers "${args[@]}" --build-arg SSHBOOT_BINARY=release \
		-f docker/Dockerfile -t "$tag-bad" "$ctx"
	assert_failure
	assert_output --partial 'FAILED'
}

@test "a stock image without sshd started with install.sh run installs it, logs in with the printed command and exits with COMMAND's code" {
	img_fail_or_skip_unless_usable
	# The stock image: Debian with curl but no OpenSSH (the install tests' root).
	local tar=$E2E_CACHE/root-install.tar stock=localhost/sshboot-test-stock:nossh
	sb_debian_root_tar "$tar" curl,ca-certificates,procps,passwd,minisign,wget
	podman image exists "$stock" || podman import -q "$tar" "$stock" >/dev/null
	# A release on loopback, made by release.sh from the tested binary.
	local www=$BATS_TEST_TMPDIR/www http_port
	run -0 bash "$E2E_REPO/scripts/release.sh" 0.1.0 --arch x86_64 --use-binary "x86_64=$E2E_SSHBOOT" \
		--out "$www/latest/download" --work "$BATS_TEST_TMPDIR/release-work"
	http_port=$(free_port)
	python3 -m http.server --bind 127.0.0.1 --directory "$www" "$http_port" >/dev/null 2>&1 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/pids-to-kill"
	local i
	for ((i = 0; i < 100; i++)); do
		sb_port_in_use "$http_port" && break
		sleep 0.1
	done
	local port t0 t1
	port=$(free_port)
	CONTAINER=sshboot-e2e-$$-$RANDOM
	echo "$CONTAINER" >>"$BATS_TEST_TMPDIR/containers"
	t0=$(date +%s%3N)
	# The README's docker run one-liner, with the release URL on loopback.
	# shellcheck disable=SC2016
	podman run -d --name "$CONTAINER" --network host \
		-e SSH_PORT="$port" -e SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" \
		-e RUNPOD_PUBLIC_IP=127.0.0.1 -e RUNPOD_TCP_PORT_22="$port" \
		-e SSHBOOT_RELEASES_URL="http://127.0.0.1:$http_port" -e SSHBOOT_ALLOW_LOOPBACK_HTTP=1 \
		--entrypoint sh "$stock" -c \
		'exec sh -c "$(curl -fsSL "$SSHBOOT_RELEASES_URL/latest/download/install.sh")" install.sh run -- sh -c "while [ ! -e /tmp/stop ]; do sleep 0.1; done; exit 5"' \
		>/dev/null
	img_wait_connect "$CONTAINER" 300
	t1=$(date +%s%3N)
	echo "# stock image + install.sh run: start to connect command $((t1 - t0)) ms (download, apt-get installs openssh-server)" >&3
	run -0 img_connect_command "$CONTAINER"
	assert_output "ssh root@127.0.0.1 -p $port"
	run -0 img_run_printed "$CONTAINER" 'cat /proc/1/comm; touch /tmp/stop'
	assert_line sshboot
	run -0 podman wait "$CONTAINER"
	assert_output 5
}

@test "the Kubernetes manifest runs with podman kube play and the key from its Secret logs in" {
	img_require debian
	local port legacy=0 version container keyfile
	port=$(free_port)
	KUBE_NAME=sshboot-e2e-$$-$RANDOM
	# podman before 4.4 mounts a Secret's data undecoded and ignores
	# stringData (containers/podman#16625): there the test stores the Secret
	# itself, in the form that podman reads, and plays the rest.
	version=$(podman version --format '{{.Client.Version}}')
	[[ $(printf '%s\n' "$version" 4.4.0 | sort -V | head -n 1) == 4.4.0 ]] || legacy=1
	run -0 python3 - "$E2E_REPO/templates/kubernetes.yaml" "$BATS_TEST_TMPDIR" "$IMAGE" "$port" \
		"$(cat "$CLIENT_PUB")" "$KUBE_NAME" "$legacy" <<-'PY'
		import json, os, sys, yaml
		src, out, image, port, key, name, legacy = sys.argv[1:]
		docs = list(yaml.safe_load_all(open(src)))
		by_kind = {d["kind"]: d for d in docs}
		assert set(by_kind) == {"Secret", "Deployment", "Service"}, sorted(by_kind)
		secret, deploy, service = by_kind["Secret"], by_kind["Deployment"], by_kind["Service"]
		pod = deploy["spec"]["template"]["spec"]
		(c,) = pod["containers"]
		env = {e["name"]: e for e in c["env"]}
		assert "SSH_PUBLIC_KEY" not in env and "PUBLIC_KEY" not in env
		keyfile = env["SSH_PUBLIC_KEY_FILE"]["value"]
		keyname = os.path.basename(keyfile)
		assert keyname in secret["stringData"], f"{keyname} is not a key of the Secret"
		volumes = {v["name"]: v for v in pod["volumes"]}
		(mount,) = [m for m in c["volumeMounts"]
		            if volumes[m["name"]].get("secret", {}).get("secretName") == secret["metadata"]["name"]]
		assert os.path.dirname(keyfile) == mount["mountPath"].rstrip("/"), (keyfile, mount)
		ports = {p.get("name"): p["containerPort"] for p in c["ports"]}
		assert 22 in ports.values()
		(sport,) = service["spec"]["ports"]
		assert sport["port"] == 22 and ports.get(sport["targetPort"], sport["targetPort"]) == 22, sport
		labels = deploy["spec"]["template"]["metadata"]["labels"]
		assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
		# Made runnable here: this test's key, image, names and a free port
		# on the host network, with the endpoint the printed command names.
		secret_name = name + "-keys"
		secret["metadata"]["name"] = secret_name
		secret["stringData"] = {keyname: key + "\n"}
		volumes[mount["name"]]["secret"]["secretName"] = secret_name
		deploy["metadata"]["name"] = name
		service["metadata"]["name"] = name
		c["image"] = image
		# podman names an emptyDir's volume after it: make the name this test's.
		for v in pod["volumes"]:
		    if "emptyDir" in v:
		        for m in c["volumeMounts"]:
		            if m["name"] == v["name"]:
		                m["name"] = name + "-" + v["name"]
		        v["name"] = name + "-" + v["name"]
		pod["hostNetwork"] = True
		# On the host's network the container's port is the host's port:
		# there is nothing to map (podman refuses port mappings there).
		del c["ports"]
		env["SSH_PORT"] = {"name": "SSH_PORT", "value": port}
		env["SSH_PUBLIC_HOST"] = {"name": "SSH_PUBLIC_HOST", "value": "127.0.0.1"}
		env["SSH_PUBLIC_PORT"] = {"name": "SSH_PUBLIC_PORT", "value": port}
		c["env"] = list(env.values())
		if legacy == "1":
		    stored = {k: v for k, v in secret.items() if k != "stringData"}
		    stored["data"] = secret["stringData"]
		    json.dump(stored, open(f"{out}/secret.json", "w"))
		    docs = [deploy, service]
		yaml.safe_dump_all(docs, open(f"{out}/kube.yaml", "w"))
		print(keyfile)
	PY
	keyfile=$output
	grep -q SSH_PUBLIC_HOST "$E2E_REPO/templates/kubernetes.yaml" || fail "SSH_PUBLIC_HOST is not documented in the manifest"
	grep -q SSH_PUBLIC_PORT "$E2E_REPO/templates/kubernetes.yaml" || fail "SSH_PUBLIC_PORT is not documented in the manifest"
	if ((legacy)); then
		run -0 podman secret create "$KUBE_NAME-keys" "$BATS_TEST_TMPDIR/secret.json"
	fi
	run podman kube play "$BATS_TEST_TMPDIR/kube.yaml"
	assert_success
	container=$(podman ps -a --pod --format '{{.Names}} {{.PodName}}' |
		awk -v p="$KUBE_NAME-pod" 'index($2, p) == 1 && $1 !~ /-infra$/ { print $1 }')
	[[ -n $container ]] || fail "kube play started no container for $KUBE_NAME: $(podman ps -a --pod)"
	echo "$container" >>"$BATS_TEST_TMPDIR/containers"
	img_wait_connect "$container"
	run -0 podman exec "$container" cat "$keyfile"
	assert_output "$(cat "$CLIENT_PUB")"
	run -0 podman exec "$container" printenv SSH_PUBLIC_KEY_FILE
	assert_output "$keyfile"
	run -0 img_connect_command "$container"
	assert_output "ssh root@127.0.0.1 -p $port"
	run -0 img_run_printed "$container" 'cat /proc/1/comm'
	assert_output sshboot
}

@test "the compose file builds an image from docker/ and passes the key, the endpoint and a /workspace volume" {
	run python3 - "$E2E_REPO/templates/compose.yaml" <<-'PY'
		import os, re, sys, yaml
		path = sys.argv[1]
		doc = yaml.safe_load(open(path))
		def default(value):
		    # ${NAME:-default} -> default; ${NAME:?message} -> NAME (required)
		    value = str(value)
		    value = re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", value)
		    return re.sub(r"\$\{(\w+):\?[^}]*\}", r"<\1>", value)
		(svc,) = doc["services"].values()
		ctx = os.path.normpath(os.path.join(os.path.dirname(path), svc["build"]["context"]))
		assert os.path.exists(os.path.join(ctx, "CMakeLists.txt")), f"context {ctx} is not the repository root"
		dockerfile = default(svc["build"]["dockerfile"])
		assert dockerfile.startswith("docker/") and os.path.exists(os.path.join(ctx, dockerfile)), dockerfile
		assert any(default(p).endswith(":22") for p in svc["ports"]), svc["ports"]
		env = svc["environment"]
		assert default(env["SSH_PUBLIC_KEY"]) == "<SSH_PUBLIC_KEY>", "SSH_PUBLIC_KEY must be required"
		assert "SSH_PUBLIC_HOST" in env and "SSH_PUBLIC_PORT" in env
		host_port = [default(p).split(":")[0] for p in svc["ports"] if default(p).endswith(":22")][0]
		assert default(env["SSH_PUBLIC_PORT"]) == host_port, (env["SSH_PUBLIC_PORT"], host_port)
		assert any(str(v).split(":")[1] == "/workspace" for v in svc["volumes"]), svc["volumes"]
		print("ok")
	PY
	assert_success
}

@test "the RunPod template names an image, exposes 22/tcp, has SSH_PUBLIC_KEY and a /workspace volume" {
	run python3 - "$E2E_REPO/templates/runpod-template.json" <<-'PY'
		import json, sys
		t = json.load(open(sys.argv[1]))
		assert t["name"] and t["imageName"], "name and imageName are required"
		ports = t["ports"]
		assert "22/tcp" in (ports if isinstance(ports, list) else ports.split(",")), ports
		assert "SSH_PUBLIC_KEY" in t["env"], t["env"]
		assert t["volumeMountPath"] == "/workspace", t["volumeMountPath"]
		assert isinstance(t["containerDiskInGb"], int) and t["containerDiskInGb"] > 0
		assert isinstance(t["volumeInGb"], int) and t["volumeInGb"] > 0
		assert t["isServerless"] is False
		print("ok")
	PY
	assert_success
}
