#!/bin/sh
# sshboot installer: puts sshboot (and OpenSSH's server when it is missing)
# on this machine or image.
#
#   curl -fsSL <release-url>/install.sh | sh -s -- install
#       in an image build step: installs sshboot and sshd, no host keys baked in
#   curl -fsSL <release-url>/install.sh | sh -s -- password [ARGS]
#       in a running container: installs, then runs `sshboot password ARGS`
#
# Environment:
#   SSHBOOT_BASE_URL     where sshboot-linux-<arch> and SHA256SUMS are downloaded
#                        from (default: the latest release)
#   SSHBOOT_INSTALL_DIR  where the binary goes (default /usr/local/bin)
#
# Nothing is installed unless the download succeeded and its SHA-256 matches.
set -eu

SSHBOOT_BASE_URL=${SSHBOOT_BASE_URL:-https://github.com/sshboot/sshboot/releases/latest/download}
SSHBOOT_INSTALL_DIR=${SSHBOOT_INSTALL_DIR:-/usr/local/bin}

say() { printf 'sshboot-install: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

usage() {
	cat >&2 <<-'USAGE'
		usage: install.sh install
		       install.sh password [--generate | --stdin] [--user USER] [--hash sha512|yescrypt]
	USAGE
	exit 2
}

tmp_dir=
cleanup() {
	if [ -n "$tmp_dir" ]; then
		rm -rf "$tmp_dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The program's stdin is this script when piped into sh: children must not
# read it. Prompts come from the terminal when there is one.
tty_or_null() {
	if (: </dev/tty) 2>/dev/null; then
		echo /dev/tty
	else
		echo /dev/null
	fi
}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		die "run as root (in a container you usually are; else: curl ... | sudo sh -s -- $mode)"
	fi
}

detect_arch() {
	arch=$(uname -m)
	case $arch in
	x86_64 | amd64) arch=x86_64 ;;
	aarch64 | arm64) arch=aarch64 ;;
	*) die "no sshboot build for architecture $arch (x86_64 and aarch64 exist)" ;;
	esac
}

# download URL FILE: fetch with curl or wget; non-zero on any failure.
download() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 2 -o "$2" "$1" </dev/null
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1" </dev/null
	else
		say "neither curl nor wget is installed"
		return 1
	fi
}

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d ' ' -f 1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d ' ' -f 1
	elif command -v openssl >/dev/null 2>&1; then
		openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
	else
		return 1
	fi
}

install_sshboot() {
	detect_arch
	asset=sshboot-linux-$arch
	tmp_dir=$(mktemp -d "${TMPDIR:-/tmp}/sshboot-install.XXXXXX")
	say "downloading $asset from $SSHBOOT_BASE_URL"
	download "$SSHBOOT_BASE_URL/$asset" "$tmp_dir/$asset" ||
		die "download of $SSHBOOT_BASE_URL/$asset failed; nothing was installed"
	download "$SSHBOOT_BASE_URL/SHA256SUMS" "$tmp_dir/SHA256SUMS" ||
		die "download of $SSHBOOT_BASE_URL/SHA256SUMS failed; nothing was installed"
	expected=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp_dir/SHA256SUMS")
	[ -n "$expected" ] || die "SHA256SUMS has no line for $asset; nothing was installed"
	actual=$(sha256_of "$tmp_dir/$asset") || die "no sha256sum, shasum or openssl to verify the download"
	if [ "$actual" != "$expected" ]; then
		die "checksum mismatch for $asset (expected $expected, got $actual); nothing was installed"
	fi
	mkdir -p "$SSHBOOT_INSTALL_DIR"
	# Copy next to the target, then rename: the old binary stays until the
	# new one is complete.
	install -m 0755 "$tmp_dir/$asset" "$SSHBOOT_INSTALL_DIR/.sshboot.new.$$"
	mv -f "$SSHBOOT_INSTALL_DIR/.sshboot.new.$$" "$SSHBOOT_INSTALL_DIR/sshboot"
	say "installed $SSHBOOT_INSTALL_DIR/sshboot ($("$SSHBOOT_INSTALL_DIR/sshboot" --version </dev/null))"
}

have_sshd() {
	for d in /usr/sbin /usr/local/sbin /sbin /usr/bin; do
		[ -x "$d/sshd" ] && return 0
	done
	command -v sshd >/dev/null 2>&1
}

list_host_keys() {
	for k in /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub; do
		[ -e "$k" ] && echo "$k"
	done
	return 0
}

install_openssh() {
	if have_sshd; then
		return 0
	fi
	say "installing OpenSSH's server"
	keys_before=$(list_host_keys)
	if command -v apt-get >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server </dev/null >&2
	elif command -v dnf >/dev/null 2>&1; then
		dnf install -y openssh-server </dev/null >&2
	elif command -v yum >/dev/null 2>&1; then
		yum install -y openssh-server </dev/null >&2
	elif command -v apk >/dev/null 2>&1; then
		apk add --no-cache openssh-server </dev/null >&2
	elif command -v zypper >/dev/null 2>&1; then
		zypper --non-interactive install openssh-server </dev/null >&2
	else
		die "no apt-get, dnf, yum, apk or zypper: install OpenSSH's server yourself"
	fi
	have_sshd || die "the package manager ran but sshd is still missing"
	# Host keys the package just created would be baked into the image (and
	# shared by every container made from it): sshboot makes its own.
	if [ "$mode" = install ]; then
		for k in $(list_host_keys); do
			case "
$keys_before
" in
			*"
$k
"*) ;;
			*) rm -f "$k" ;;
			esac
		done
	fi
}

[ $# -ge 1 ] || usage
mode=$1
shift
case $mode in
install)
	[ $# -eq 0 ] || usage
	need_root
	install_sshboot
	install_openssh
	say "done: use $SSHBOOT_INSTALL_DIR/sshboot as the entrypoint (ENTRYPOINT [\"$SSHBOOT_INSTALL_DIR/sshboot\"])"
	;;
password)
	need_root
	install_sshboot
	install_openssh
	cleanup
	tmp_dir=
	case " $* " in
	*" --stdin "*) exec "$SSHBOOT_INSTALL_DIR/sshboot" password "$@" ;;
	esac
	exec "$SSHBOOT_INSTALL_DIR/sshboot" password "$@" <"$(tty_or_null)"
	;;
-h | --help | help) usage ;;
*) usage ;;
esac
