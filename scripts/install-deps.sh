#!/usr/bin/env bash
# Install everything sshboot's build, tests and demo need on Debian 12.
# Idempotent and non-interactive; does nothing when all packages are present.
set -euo pipefail

packages=(
	cmake g++ make
	libboost-program-options-dev libboost-dev libspdlog-dev libfmt-dev libsodium-dev libcrypt-dev
	# sshboot tunnel: OpenSSL, linked statically (Boost.Beast/Asio are header-only).
	libssl-dev
	# The tunnel tests and benchmark: nginx as the platform's TLS proxy (with its
	# stream module for the plain TCP and TLS-alone comparisons), python3-websockets
	# as an independent client, openssl for the private CA, socat as the
	# benchmark's TLS-alone client.
	nginx-light libnginx-mod-stream python3-websockets openssl socat
	# ... and a notebook hub's proxy: node-http-proxy, the library JupyterHub's
	# configurable-http-proxy relays WebSockets with.
	nodejs node-http-proxy
	libgtest-dev
	bats bats-assert bats-support
	openssh-client openssh-server sshpass
	mmdebstrap podman runc
	curl shellcheck clang-format clang
	procps iproute2 python3 python3-yaml binutils util-linux
	bindfs fusefat dosfstools strace
	# scripts/release.sh and the release tier: the aarch64 cross build and its
	# unit tests (arm64 multiarch libraries), qemu-user to run them, minisign.
	g++-aarch64-linux-gnu binutils-aarch64-linux-gnu
	libsodium-dev:arm64 libboost-program-options-dev:arm64 libcrypt-dev:arm64 libgtest-dev:arm64
	libssl-dev:arm64
	qemu-user-static binfmt-support minisign
)

missing=()
for pkg in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
	[[ $status == ii* ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi

if ((EUID != 0)); then
	echo "install-deps: missing packages: ${missing[*]}" >&2
	echo "install-deps: run this script as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
fi
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
apt-get -q update </dev/null
apt-get install "${apt_opts[@]}" "${missing[@]}" </dev/null
