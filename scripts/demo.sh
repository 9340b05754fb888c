#!/usr/bin/env bash
# Build sshboot into a container image, start the container with your SSH
# key, and print how to connect. The container keeps running.
#
#   bash scripts/demo.sh           build and start (replaces a running demo)
#   bash scripts/demo.sh stop      stop and remove the demo container
#
# Your key: $SSH_PUBLIC_KEY when set, else ~/.ssh/id_ed25519.pub, id_ecdsa.pub
# or id_rsa.pub; with none of them, a new ~/.ssh/id_ed25519 is generated.
# Port: $SSHBOOT_DEMO_PORT, else 2222 when free, else a free port.
# Container name: $SSHBOOT_DEMO_NAME, else sshboot-demo (its host keys are
# kept in the podman volume NAME-state).
#
# Runs the image with podman (host networking). The image comes from
# docker/Dockerfile when it exists, else from a Debian root made with
# mmdebstrap plus the built binary. Without a working podman, the same root
# runs in its own PID namespace with unshare + chroot; when that happens, the
# reason is the last thing the demo prints.
set -euo pipefail

cd "$(dirname "$0")/.." || exit 1
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/common.sh
source scripts/lib/common.sh

BUILD=$SSHBOOT_BUILD_DIR
DEMO=$BUILD/demo
NAME=${SSHBOOT_DEMO_NAME:-sshboot-demo}
[[ $NAME =~ ^[a-z0-9][a-z0-9_.-]*$ ]] || sb_die "SSHBOOT_DEMO_NAME=$NAME is not a container name (a-z, 0-9, _ . -)"
IMAGE=localhost/$NAME:latest
BASE_IMAGE=localhost/debian-base:bookworm
DOCKERFILE=${SSHBOOT_DEMO_DOCKERFILE:-docker/Dockerfile}
ROOT_TAR=$BUILD/e2e/root.tar
export CONTAINERS_CONF=$DEMO/containers.conf

write_containers_conf() {
	mkdir -p "$DEMO"
	cat >"$CONTAINERS_CONF" <<-'EOF'
		[containers]
		default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
		netns = "host"
		[engine]
		runtime = "runc"
		cgroup_manager = "cgroupfs"
	EOF
}

# --- stopping ---------------------------------------------------------------

stop_chroot_demo() {
	local pidfile=$DEMO/chroot.pid pid init
	[[ -s $pidfile ]] || return 0
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null && [[ $(ps -o comm= -p "$pid") == unshare ]]; then
		init=$(pgrep -P "$pid" | head -n 1 || true)
		[[ -n $init ]] && kill -TERM "$init" 2>/dev/null
		local i
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			[[ -n $init ]] && kill -KILL "$init" 2>/dev/null
			kill -KILL "$pid" 2>/dev/null || true
		fi
		sb_log "stopped the demo (unshare pid $pid)"
	fi
	rm -f "$pidfile"
}

stop_demo() {
	write_containers_conf
	if command -v podman >/dev/null && podman container exists "$NAME" 2>/dev/null; then
		podman rm -f -t 10 "$NAME" >/dev/null
		sb_log "stopped and removed container $NAME"
	fi
	stop_chroot_demo
}

# --- preparing --------------------------------------------------------------

install_deps() {
	if ((EUID != 0)); then
		sb_die "run as root (podman with host networking, mmdebstrap and namespaces need it): sudo bash scripts/demo.sh"
	fi
	bash scripts/install-deps.sh
}

# build/sshboot, for an image made without docker/ and for the fallback.
build_binary() {
	sb_log "building sshboot in $BUILD"
	cmake -S . -B "$BUILD" -DSSHBOOT_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD" --target sshboot -j "$(nproc)"
	[[ -x $BUILD/sshboot ]] || sb_die "the build did not produce $BUILD/sshboot"
}

# The home of the person running the demo (under sudo: theirs, not root's).
user_home() {
	if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
		getent passwd "$SUDO_USER" | cut -d: -f6
	else
		printf '%s\n' "$HOME"
	fi
}

# Sets USER_KEY (public key text) and KEY_SOURCE (where it came from).
pick_key() {
	if [[ -n ${SSH_PUBLIC_KEY:-} ]]; then
		USER_KEY=$SSH_PUBLIC_KEY
		KEY_SOURCE="the SSH_PUBLIC_KEY variable"
		return
	fi
	local home f
	home=$(user_home)
	for f in id_ed25519 id_ecdsa id_rsa; do
		if [[ -s $home/.ssh/$f.pub ]]; then
			USER_KEY=$(cat "$home/.ssh/$f.pub")
			KEY_SOURCE=$home/.ssh/$f.pub
			return
		fi
	done
	sb_log "no SSH key in $home/.ssh: generating $home/.ssh/id_ed25519 (no passphrase; add one with: ssh-keygen -p -f $home/.ssh/id_ed25519)"
	install -d -m 0700 "$home/.ssh"
	ssh-keygen -q -t ed25519 -N '' -C "${SUDO_USER:-$(id -un)}@$(hostname)" -f "$home/.ssh/id_ed25519" </dev/null
	if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
		chown "$SUDO_USER:" "$home/.ssh" "$home/.ssh/id_ed25519" "$home/.ssh/id_ed25519.pub"
	fi
	USER_KEY=$(cat "$home/.ssh/id_ed25519.pub")
	KEY_SOURCE=$home/.ssh/id_ed25519.pub
}

pick_port() {
	if [[ -n ${SSHBOOT_DEMO_PORT:-} ]]; then
		sb_port_in_use "$SSHBOOT_DEMO_PORT" && sb_die "port $SSHBOOT_DEMO_PORT is in use"
		PORT=$SSHBOOT_DEMO_PORT
	elif ! sb_port_in_use 2222; then
		PORT=2222
	else
		PORT=$(sb_free_port) || sb_die "found no free TCP port"
	fi
}

podman_works() {
	command -v podman >/dev/null || return 1
	podman info >/dev/null 2>&1
}

# localhost/debian-base:bookworm from the cached mmdebstrap root.
ensure_base_image() {
	sb_debian_root_tar "$ROOT_TAR"
	if ! podman image exists "$BASE_IMAGE" || [[ $ROOT_TAR -nt $DEMO/base-image.stamp ]]; then
		sb_log "importing $ROOT_TAR as $BASE_IMAGE"
		podman import -q "$ROOT_TAR" "$BASE_IMAGE" >/dev/null
		touch "$DEMO/base-image.stamp"
	fi
}

build_image() {
	ensure_base_image
	if [[ -f $DOCKERFILE ]]; then
		sb_log "building $IMAGE from $DOCKERFILE (the first build compiles sshboot inside; a few minutes)"
		podman build --network=host -f "$DOCKERFILE" \
			--build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg BUILDER_IMAGE="$BASE_IMAGE" \
			-t "$IMAGE" .
	else
		build_binary
		sb_log "building $IMAGE: $BASE_IMAGE plus $BUILD/sshboot"
		local ctx=$DEMO/image
		rm -rf "$ctx"
		mkdir -p "$ctx"
		cp "$BUILD/sshboot" "$ctx/sshboot"
		cat >"$ctx/Containerfile" <<-EOF
			FROM $BASE_IMAGE
			COPY sshboot /usr/local/bin/sshboot
			ENTRYPOINT ["/usr/local/bin/sshboot"]
		EOF
		podman build -q -f "$ctx/Containerfile" -t "$IMAGE" "$ctx" >/dev/null
	fi
}

# --- running ----------------------------------------------------------------

# The environment the container gets, as NAME=value words in DEMO_ENV.
set_demo_env() {
	DEMO_ENV=("SSH_PUBLIC_KEY=$USER_KEY" "SSH_PORT=$PORT"
		"SSH_PUBLIC_HOST=127.0.0.1" "SSH_PUBLIC_PORT=$PORT")
}

run_podman() {
	local args=(run -d --name "$NAME" --network host) assignment
	set_demo_env
	for assignment in "${DEMO_ENV[@]}"; do
		args+=(-e "$assignment")
	done
	# Host keys persist in a named volume, so a second demo run serves the
	# same host key.
	args+=(-v "$NAME-state:/var/lib/sshboot" "$IMAGE")
	podman "${args[@]}" >/dev/null
	RUNNER=podman
}

run_chroot() {
	local root=$DEMO/rootfs
	sb_debian_root_tar "$ROOT_TAR"
	if [[ ! -e $root/.complete || $ROOT_TAR -nt $root/.complete ]]; then
		sb_log "unpacking $ROOT_TAR into $root"
		rm -rf "$root"
		mkdir -p "$root"
		tar -C "$root" --numeric-owner -xf "$ROOT_TAR"
		touch "$root/.complete"
	fi
	install -m 0755 "$BUILD/sshboot" "$root/usr/local/bin/sshboot"
	set_demo_env
	: >"$DEMO/chroot.log"
	: >"$DEMO/chroot.err"
	setsid unshare --pid --fork --mount --uts --ipc --mount-proc="$root/proc" \
		/bin/sh -c "$SB_NS_INIT" sshboot-init "$root" \
		/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOSTNAME=sshboot HOME=/root "${DEMO_ENV[@]}" \
		/usr/sbin/chroot "$root" /usr/local/bin/sshboot \
		</dev/null >"$DEMO/chroot.log" 2>"$DEMO/chroot.err" &
	echo $! >"$DEMO/chroot.pid"
	RUNNER=chroot
}

# Print the container's stdout so far.
container_stdout() {
	case $RUNNER in
	podman) podman logs "$NAME" 2>/dev/null ;;
	chroot) cat "$DEMO/chroot.log" ;;
	esac
}

container_stderr() {
	case $RUNNER in
	podman) { podman logs "$NAME" >/dev/null; } 2>&1 ;;
	chroot) cat "$DEMO/chroot.err" ;;
	esac
}

container_running() {
	case $RUNNER in
	podman) [[ $(podman inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null) == true ]] ;;
	chroot) kill -0 "$(cat "$DEMO/chroot.pid")" 2>/dev/null ;;
	esac
}

wait_for_connect_block() {
	local i re='^ *ssh [^ @]+@[^ ]+ -p [0-9]+$'
	for ((i = 0; i < 300; i++)); do
		container_stdout | grep -qE -- "$re" && return 0
		if ! container_running; then
			container_stdout | grep -qE -- "$re" && return 0
			break
		fi
		sleep 0.1
	done
	echo "sshboot did not print a connect command. Its log:" >&2
	container_stdout >&2
	container_stderr >&2
	return 1
}

main() {
	case ${1:-start} in
	stop)
		stop_demo
		return
		;;
	start) ;;
	*) sb_die "usage: bash scripts/demo.sh [stop]" ;;
	esac

	install_deps
	write_containers_conf
	stop_demo
	pick_key
	pick_port

	RUNNER=
	# Why podman is not used, if it is not: said now and again as the last
	# thing printed, so it cannot scroll away.
	FALLBACK=
	if podman_works; then
		if build_image && run_podman; then
			:
		else
			FALLBACK="podman could not build or start the image (its error is above); sshboot runs with unshare + chroot instead, not in a container"
			podman rm -f "$NAME" >/dev/null 2>&1 || true
		fi
	else
		FALLBACK="podman does not work here ($(podman info 2>&1 | tail -n 1 || true)); sshboot runs with unshare + chroot instead, not in a container"
	fi
	if [[ -n $FALLBACK ]]; then
		sb_log "WARNING: $FALLBACK"
		trap 'sb_log "WARNING: $FALLBACK"' EXIT
	fi
	if [[ -z $RUNNER ]]; then
		build_binary
		run_chroot
	fi

	sb_log "started (runner: $RUNNER, key from $KEY_SOURCE, port $PORT); waiting for sshd"
	wait_for_connect_block || {
		stop_demo
		exit 1
	}

	echo
	container_stdout
	echo
	echo "sshboot is running (container log above; its stderr has sshd's log)."
	case $RUNNER in
	podman)
		echo "  log:   CONTAINERS_CONF=$CONTAINERS_CONF podman logs -f $NAME"
		;;
	chroot)
		echo "  log:   tail -f $DEMO/chroot.log $DEMO/chroot.err"
		;;
	esac
	echo "  stop:  bash scripts/demo.sh stop"
}

main "$@"
