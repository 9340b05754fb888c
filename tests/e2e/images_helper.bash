# shellcheck shell=bash
# Helpers for images.bats: build every variant of docker-bake.hcl
# (docker/Dockerfile with the target's build arguments) with podman against a
# local Debian base, start containers from the images with host
# networking, and remove what a test started.
#
# Load after test_helper:
#   load test_helper
#   load images_helper
#
# There is no registry: the base image is a Debian minbase root made with
# mmdebstrap (no OpenSSH in it, like the PyTorch and CUDA images) and imported
# with `podman import`. It stands in for both BASE_IMAGE and BUILDER_IMAGE.
# Images are tagged with a hash of their inputs (the Dockerfile, the files it
# copies, .dockerignore, the base image), so unchanged sources are not
# rebuilt; podman's layer cache shares the builder stage between Dockerfiles.

IMG_CACHE=$E2E_BUILD_DIR/images
IMG_BASE_TAR=$IMG_CACHE/base.tar
IMG_BASE=localhost/sshboot-test-base:bookworm
IMG_PREFIX=localhost/sshboot-test
# The variants the tests know about; a bake target not listed here fails the
# coverage test.
IMG_VARIANTS=(pytorch cuda debian)
IMG_DOCKERFILE=docker/Dockerfile
export CONTAINERS_CONF=$IMG_CACHE/containers.conf

# img_write_containers_conf: podman settings that work on this kind of host
# (ENVIRONMENT.md): runc, cgroupfs, host network, ulimits within the hard
# limit.
img_write_containers_conf() {
	mkdir -p "$IMG_CACHE"
	cat >"$CONTAINERS_CONF.tmp" <<-'EOF'
		[containers]
		default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
		netns = "host"
		[engine]
		runtime = "runc"
		cgroup_manager = "cgroupfs"
	EOF
	mv "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
}

# img_missing_requirement: print why images cannot be built and run here.
img_missing_requirement() {
	if ((EUID != 0)); then
		echo "needs root (podman with host networking and runc)"
		return 0
	fi
	local tool
	for tool in podman runc mmdebstrap python3 sha256sum flock ssh ssh-keygen ssh-keyscan; do
		if ! command -v "$tool" >/dev/null; then
			echo "needs $tool (bash scripts/install-deps.sh installs it)"
			return 0
		fi
	done
	if ! python3 -c 'import yaml' 2>/dev/null; then
		echo "needs python3-yaml (bash scripts/install-deps.sh installs it)"
		return 0
	fi
	img_write_containers_conf
	if ! podman info >/dev/null 2>&1; then
		echo "podman does not work here: $(podman info 2>&1 | tail -n 1)"
		return 0
	fi
	return 1
}

# img_fail_or_skip_unless_usable: skip the test (fail it under CI=true) when
# setup_file found podman unusable.
img_fail_or_skip_unless_usable() {
	if [[ -s $BATS_FILE_TMPDIR/images-unusable ]]; then
		e2e_fail_or_skip "$(cat "$BATS_FILE_TMPDIR/images-unusable")"
	fi
}

# --- base image ---------------------------------------------------------------

# img_prepare_base: the Debian minbase tarball (built once) imported as
# $IMG_BASE (again when the tarball is newer than the import).
img_prepare_base() {
	mkdir -p "$IMG_CACHE"
	sb_debian_root_tar "$IMG_BASE_TAR" "" || return 1
	(
		flock 9
		local stamp=$IMG_CACHE/base.imported id=
		[[ -s $stamp ]] && id=$(cat "$stamp")
		if [[ -z $id || $IMG_BASE_TAR -nt $stamp ]] ||
			[[ $(podman image inspect --format '{{.Id}}' "$IMG_BASE" 2>/dev/null) != "$id" ]]; then
			podman import -q "$IMG_BASE_TAR" "$IMG_BASE" >/dev/null || exit 1
			podman image inspect --format '{{.Id}}' "$IMG_BASE" >"$stamp"
		fi
	) 9>"$IMG_CACHE/base.lock"
}

# --- building -----------------------------------------------------------------

# img_copy_sources DOCKERFILE: the build-context paths its COPY lines read
# (COPY --from=... reads another stage and is left out).
img_copy_sources() {
	awk '$1 == "COPY" && $0 !~ /--from=/ {
		for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i
	}' "$1"
}

# img_build_args VARIANT: the bake target's build arguments as --build-arg
# options, one a line, with the local base for BASE_IMAGE and BUILDER_IMAGE.
img_build_args() {
	python3 "$E2E_REPO/tests/e2e/bake_print.py" "$E2E_REPO/docker-bake.hcl" "$1" |
		python3 -c 'import json, sys
args = json.load(sys.stdin)["target"][sys.argv[1]]["args"]
args.update(BASE_IMAGE=sys.argv[2], BUILDER_IMAGE=sys.argv[2], SSHBOOT_BINARY="source")
for k, v in sorted(args.items()):
    print(f"--build-arg={k}={v}")' "$1" "$IMG_BASE"
}

# img_inputs_hash VARIANT: a hash of everything the image is built from.
img_inputs_hash() {
	local dockerfile=$IMG_DOCKERFILE src
	(
		cd "$E2E_REPO" || exit 1
		printf 'base %s\n' "$(podman image inspect --format '{{.Id}}' "$IMG_BASE")"
		img_build_args "$1"
		sha256sum "$dockerfile" .dockerignore
		for src in $(img_copy_sources "$dockerfile"); do
			# The release binaries are not used by a build from source.
			[[ $src == dist || $src == dist/ || $src == 'dis[t]' ]] && continue
			find "$src" -type f -print0
		done | sort -z | xargs -0 -r sha256sum
	) | sha256sum | cut -c1-16
}

# img_tag VARIANT: the image tag for the current inputs.
img_tag() {
	printf '%s-%s:%s\n' "$IMG_PREFIX" "$1" "$(img_inputs_hash "$1")"
}

# img_build VARIANT [TAG]: build the variant from docker/Dockerfile as TAG (default:
# img_tag) unless that image exists. The log goes to
# $IMG_CACHE/VARIANT.build.log, the seconds the build took to
# $IMG_CACHE/VARIANT.build-seconds.
img_build() {
	local variant=$1 tag=${2:-}
	[[ -n $tag ]] || tag=$(img_tag "$variant") || return 1
	podman image exists "$tag" && return 0
	(
		flock 9
		podman image exists "$tag" && exit 0
		echo "# building $tag from $IMG_DOCKERFILE (minutes the first time)" >&3
		local log=$IMG_CACHE/$variant.build.log start end args=()
		mapfile -t args < <(img_build_args "$variant")
		((${#args[@]})) || exit 1
		start=$(date +%s.%N)
		(
			cd "$E2E_REPO" &&
				podman build --network=host --layers "${args[@]}" \
					-f "$IMG_DOCKERFILE" -t "$tag" .
		) >"$log" 2>&1 </dev/null || exit 1
		end=$(date +%s.%N)
		awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }' >"$IMG_CACHE/$variant.build-seconds"
		# Older builds of this variant are of no further use.
		local old
		for old in $(podman images --format '{{.Repository}}:{{.Tag}}' "$IMG_PREFIX-$variant"); do
			[[ $old == "$tag" ]] || podman rmi "$old" >/dev/null 2>&1 || true
		done
	) 9>"$IMG_CACHE/build.lock"
}

# img_build_all: build every variant; a failure is recorded for the tests of
# that variant ($BATS_FILE_TMPDIR/VARIANT.failed) instead of stopping here.
img_build_all() {
	local variant
	# The tags are fixed here: sources edited while the tests run do not
	# change which image they test.
	for variant in "${IMG_VARIANTS[@]}"; do
		img_tag "$variant" >"$BATS_FILE_TMPDIR/$variant.tag"
	done
	for variant in "${IMG_VARIANTS[@]}"; do
		if ! img_build "$variant" "$(cat "$BATS_FILE_TMPDIR/$variant.tag")"; then
			echo "building the $variant variant of $IMG_DOCKERFILE failed; last lines of $IMG_CACHE/$variant.build.log:" \
				>"$BATS_FILE_TMPDIR/$variant.failed"
			tail -n 40 "$IMG_CACHE/$variant.build.log" >>"$BATS_FILE_TMPDIR/$variant.failed" 2>/dev/null
		fi
	done
}

# img_require VARIANT: set IMAGE to the variant's image, or fail the test
# with the build log (skip when podman is unusable).
img_require() {
	img_fail_or_skip_unless_usable
	[[ ! -e $BATS_FILE_TMPDIR/$1.failed ]] || fail "$(cat "$BATS_FILE_TMPDIR/$1.failed")"
	if [[ -s $BATS_FILE_TMPDIR/$1.tag ]]; then
		IMAGE=$(cat "$BATS_FILE_TMPDIR/$1.tag")
	else
		IMAGE=$(img_tag "$1")
	fi
	podman image exists "$IMAGE" || fail "no image $IMAGE (setup_file did not build it)"
}

# img_size_mb IMAGE: the image's size in MB (podman's count: all layers).
img_size_mb() {
	podman image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f\n", $1 / 1000000 }'
}

# img_record_figures: "VARIANT: +N MB over the base, built in N s" for every
# built variant, into $IMG_CACHE/figures.txt.
img_record_figures() {
	local variant base tag size secs
	base=$(img_size_mb "$IMG_BASE") || return 0
	{
		echo "base $IMG_BASE: $base MB"
		for variant in "${IMG_VARIANTS[@]}"; do
			[[ -e $BATS_FILE_TMPDIR/$variant.failed ]] && continue
			tag=$(cat "$BATS_FILE_TMPDIR/$variant.tag")
			size=$(img_size_mb "$tag") || continue
			secs=$(cat "$IMG_CACHE/$variant.build-seconds" 2>/dev/null || echo '?')
			awk -v v="$variant" -v s="$size" -v b="$base" -v t="$secs" \
				'BEGIN { printf "%s: %.1f MB, +%.1f MB over the base; last build %s s\n", v, s, s - b, t }'
		done
	} >"$IMG_CACHE/figures.txt"
}

# --- containers -----------------------------------------------------------------

# img_start IMAGE PORT [podman run options...]: start a container of IMAGE as
# RunPod would (SSH_PORT, RUNPOD_PUBLIC_IP=127.0.0.1, RUNPOD_TCP_PORT_22 all
# on PORT) with the file's client key in SSH_PUBLIC_KEY, on the host network.
# Sets CONTAINER to its name; teardown removes it.
img_start() {
	local image=$1 port=$2
	shift 2
	CONTAINER=sshboot-e2e-$$-$RANDOM
	echo "$CONTAINER" >>"$BATS_TEST_TMPDIR/containers"
	podman run -d --name "$CONTAINER" --network host \
		-e SSH_PORT="$port" -e SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" \
		-e RUNPOD_PUBLIC_IP=127.0.0.1 -e RUNPOD_TCP_PORT_22="$port" \
		"$@" "$image" >/dev/null
}

# img_running NAME: the container runs.
img_running() {
	[[ $(podman inspect --format '{{.State.Running}}' "$1" 2>/dev/null) == true ]]
}

# img_stdout NAME / img_stderr NAME: what the container wrote so far.
img_stdout() { podman logs "$1" 2>/dev/null; }
img_stderr() { { podman logs "$1" >/dev/null; } 2>&1; }

img_dump() {
	printf '\n--- %s stdout ---\n%s\n--- stderr ---\n%s\n---' "$1" "$(img_stdout "$1")" "$(img_stderr "$1")"
}

# img_wait_connect NAME [TIMEOUT]: wait (bounded, default 30 s) until the
# container's stdout has the connect command.
img_wait_connect() {
	local name=$1 timeout=${2:-30} i
	for ((i = 0; i < timeout * 10; i++)); do
		img_stdout "$name" | grep -qE -- "$E2E_CONNECT_RE" && return 0
		if ! img_running "$name"; then
			img_stdout "$name" | grep -qE -- "$E2E_CONNECT_RE" && return 0
			fail "container $name exited before printing the connect command$(img_dump "$name")"
		fi
		sleep 0.1
	done
	fail "no connect command from container $name within ${timeout}s$(img_dump "$name")"
}

# img_connect_command NAME: the printed connect command, leading spaces cut.
img_connect_command() {
	local line
	line=$(img_stdout "$1" | grep -E -m 1 -- "$E2E_CONNECT_RE") ||
		fail "no connect command from container $1$(img_dump "$1")"
	printf '%s\n' "${line#"${line%%[! ]*}"}"
}

# img_run_printed NAME [REMOTE COMMAND...]: run the command the container
# printed, verbatim, with REMOTE COMMAND appended. Use under bats' run.
img_run_printed() {
	local words=()
	read -ra words <<<"$(img_connect_command "$1")"
	shift
	"${words[@]}" "$@"
}

# img_teardown: remove every container the test started.
img_teardown() {
	local name
	[[ -s $BATS_TEST_TMPDIR/containers ]] || return 0
	while read -r name; do
		podman rm -f -v -t 0 "$name" >/dev/null 2>&1 || true
	done <"$BATS_TEST_TMPDIR/containers"
}
