# shellcheck shell=bash
# Helpers shared by scripts/*.sh and tests/e2e/test_helper.bash.
# Source it; it defines functions and variables only.

SSHBOOT_REPO=${SSHBOOT_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SSHBOOT_BUILD_DIR=${SSHBOOT_BUILD_DIR:-$SSHBOOT_REPO/build}

# Packages the Debian root used by the e2e tests and the demo fallback holds.
SSHBOOT_ROOT_PACKAGES=${SSHBOOT_ROOT_PACKAGES:-openssh-server,sudo,procps,bash,passwd}

sb_log() { printf '%s\n' "==> $*" >&2; }
sb_die() {
	printf '%s\n' "error: $*" >&2
	exit 1
}

# sb_debian_root_tar PATH [PACKAGES [ARCH]]: build a minimal Debian bookworm
# root tarball at PATH with mmdebstrap unless it already exists, with PACKAGES
# (a comma-separated list; default $SSHBOOT_ROOT_PACKAGES, empty for none),
# for Debian architecture ARCH (default the machine's; another one, e.g.
# arm64, needs qemu-user with binfmt). Concurrent callers wait on a lock; the
# tarball appears atomically.
sb_debian_root_tar() {
	local tar=$1 packages=${2-$SSHBOOT_ROOT_PACKAGES} arch=${3:-}
	local include=()
	[[ -n $packages ]] && include=(--include="$packages")
	[[ -n $arch ]] && include+=(--arch="$arch")
	mkdir -p "$(dirname "$tar")"
	[[ -s $tar ]] && return 0
	(
		flock 9
		if [[ ! -s $tar ]]; then
			sb_log "building a Debian bookworm root with mmdebstrap (once, about a minute): $tar"
			# mmdebstrap hands apt a pipe that dash addresses as `>&N`, and
			# dash knows only single-digit descriptors: with the lock's
			# descriptor and bats' open, the pipe lands on 10 or above and
			# the download fails ("Bad fd number"). Close them for it.
			# A download from the archive can also fail now and then: try
			# again a few times before giving up.
			local try
			for try in 1 2 3; do
				rm -f "$tar.tmp"
				mmdebstrap --quiet --format=tar --variant=minbase "${include[@]}" \
					bookworm "$tar.tmp" >&2 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- && break
				((try < 3)) || exit 1
				sb_log "mmdebstrap failed (try $try of 3); trying again"
			done
			mv "$tar.tmp" "$tar"
		fi
	) 9>"$tar.lock"
}

# sb_debian_root_dir TAR DIR: the root tarball (built once, as above)
# extracted at DIR, again when the tarball is newer; the fingerprints of the
# host keys baked in by the package go to DIR.baked-host-keys. Concurrent
# callers share one copy under a lock.
sb_debian_root_dir() {
	local tar=$1 base=$2
	sb_debian_root_tar "$tar" || return 1
	local baked=$base.baked-host-keys
	[[ -e $base/.complete && $base/.complete -nt $tar && -e $baked ]] && return 0
	(
		flock 9
		if [[ ! -e $base/.complete || $tar -nt $base/.complete ]]; then
			rm -rf "$base" "$baked"
			mkdir -p "$base"
			tar -C "$base" --numeric-owner -xf "$tar"
			touch "$base/.complete"
		fi
		if [[ ! -e $baked ]]; then
			for key in "$base"/etc/ssh/ssh_host_*_key.pub; do
				if [[ -e $key ]]; then ssh-keygen -l -f "$key"; fi
			done >"$baked.tmp"
			mv "$baked.tmp" "$baked"
		fi
	) 9>"$base.lock"
}

# sb_port_in_use PORT: true when something listens on TCP PORT.
sb_port_in_use() {
	ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# sb_free_port: print a TCP port nobody listens on, random, below the
# kernel's ephemeral range (10000 up to 32767 by default): a client polling a
# port in that range before the server listens can connect to itself (its
# source port chosen equal to the port) and so hold the port the server needs.
sb_free_port() {
	local port i low=32768 range
	if read -r range _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && ((range > 11000)); then
		low=$range
	fi
	for ((i = 0; i < 200; i++)); do
		port=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
		if ! sb_port_in_use "$port"; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	return 1
}

# The first process of a container made with unshare + chroot (the e2e tests
# and the demo without podman): run as `sh -c "$SB_NS_INIT" NAME ROOT CMD...`
# inside new PID and mount namespaces, it mounts what a container runtime
# mounts (/dev with the basic nodes, devpts, /dev/shm, a tmpfs on /run, a
# read-only /sys; /proc comes from unshare --mount-proc) and execs CMD, which
# keeps PID 1 (CMD is normally `env -i ... chroot ROOT PROGRAM`).
# shellcheck disable=SC2016,SC2034 # expanded by sh -c; used by the scripts that source this
SB_NS_INIT='
set -e
root=$1
shift
mount -t tmpfs -o mode=0755,nosuid,size=8m tmpfs "$root/dev"
mknod -m 0666 "$root/dev/null" c 1 3
mknod -m 0666 "$root/dev/zero" c 1 5
mknod -m 0666 "$root/dev/full" c 1 7
mknod -m 0666 "$root/dev/random" c 1 8
mknod -m 0666 "$root/dev/urandom" c 1 9
mknod -m 0666 "$root/dev/tty" c 5 0
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys" 2>/dev/null || true
hostname sshboot
exec "$@"
'
