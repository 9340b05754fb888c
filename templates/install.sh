#!/bin/sh
# sshboot installer: puts sshboot (and OpenSSH's server when it is missing)
# on this machine or image.
#
#   curl -fsSL https://github.com/sshboot/sshboot/releases/latest/download/install.sh | sh -s -- install
#       in an image build step: installs sshboot and sshd, no host keys baked in
#   curl -fsSL .../install.sh | sh -s -- password [ARGS]
#       in a running container: installs, then runs `sshboot password ARGS`
#   sh -c "$(curl -fsSL .../install.sh)" install.sh run [-- COMMAND [ARG...]]
#       as a stock image's start command: installs, then becomes sshboot (PID 1
#       when the start command execs it) running COMMAND
#
# Environment:
#   SSHBOOT_VERSION      install this release (e.g. 0.2.0) instead of the latest
#   SSHBOOT_BASE_URL     where sshboot-linux-<arch>, SHA256SUMS and
#                        SHA256SUMS.minisig are downloaded from (default: the
#                        release's download URL, see SSHBOOT_RELEASES_URL);
#                        https:// only
#   SSHBOOT_RELEASES_URL the project's releases (default
#                        https://github.com/sshboot/sshboot/releases): the
#                        latest is <it>/latest/download, version X is
#                        <it>/download/vX; https:// only
#   SSHBOOT_MINISIGN_PUBKEY  the minisign public key SHA256SUMS is signed with
#                        (default: the key of the release this script came with)
#   SSHBOOT_REQUIRE_SIGNATURE=1  refuse to install unless SHA256SUMS's
#                        signature is published and verified with minisign
#   SSHBOOT_INSTALL_DIR  where the binary goes (default /usr/local/bin)
#   SSHBOOT_ALLOW_LOOPBACK_HTTP=1  for tests: also accept http:// URLs whose
#                        host is 127.x.x.x, localhost or [::1]
#
# Nothing is installed unless the download succeeded and its SHA-256 matches
# SHA256SUMS. Once a public key is known (a signed release's install.sh
# carries one), SHA256SUMS.minisig must be published beside SHA256SUMS; with
# minisign installed it must verify, and the version in its trusted comment
# must be the one asked for (SSHBOOT_VERSION; without it, not older than this
# script's own release). The binary's `sshboot --version` must say the same
# version before it replaces anything.
set -eu

# Filled in by scripts/release.sh: the key a signed release's SHA256SUMS is
# signed with, and the version of the release this script belongs to.
sshboot_release_pubkey=
sshboot_release_version=

SSHBOOT_RELEASES_URL=${SSHBOOT_RELEASES_URL:-https://github.com/sshboot/sshboot/releases}
SSHBOOT_VERSION=${SSHBOOT_VERSION:-}
SSHBOOT_INSTALL_DIR=${SSHBOOT_INSTALL_DIR:-/usr/local/bin}
SSHBOOT_MINISIGN_PUBKEY=${SSHBOOT_MINISIGN_PUBKEY:-$sshboot_release_pubkey}
SSHBOOT_REQUIRE_SIGNATURE=${SSHBOOT_REQUIRE_SIGNATURE:-0}
SSHBOOT_ALLOW_LOOPBACK_HTTP=${SSHBOOT_ALLOW_LOOPBACK_HTTP:-0}

say() { printf 'sshboot-install: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

usage() {
	cat >&2 <<-'USAGE'
		usage: install.sh install
		       install.sh password [--generate | --stdin] [--user USER] [--hash sha512|yescrypt]
		       install.sh run [-- COMMAND [ARG...]]
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

# is_loopback_http URL: URL is http:// to 127.x.x.x, localhost or [::1],
# with an optional port and nothing else before the path.
is_loopback_http() {
	rest=${1#http://}
	hostport=${rest%%/*}
	case $hostport in
	"[::1]" | "[::1]:"*)
		host="[::1]"
		port=${hostport#"[::1]"}
		;;
	*)
		host=${hostport%%:*}
		port=${hostport#"$host"}
		;;
	esac
	case $port in
	"") ;;
	: | :*[!0-9]*) return 1 ;;
	esac
	case $host in
	"[::1]" | localhost) return 0 ;;
	127.*[!0-9.]*) return 1 ;;
	127.*) return 0 ;;
	esac
	return 1
}

# check_url NAME URL: refuse URL (named NAME in the message) unless it is
# https:// (or loopback http:// with SSHBOOT_ALLOW_LOOPBACK_HTTP=1).
check_url() {
	case $2 in
	https://*) return 0 ;;
	http://*)
		if [ "$SSHBOOT_ALLOW_LOOPBACK_HTTP" = 1 ] && is_loopback_http "$2"; then
			return 0
		fi
		die "$1=$2 is not an https:// URL: sshboot is downloaded over https only (SSHBOOT_ALLOW_LOOPBACK_HTTP=1 admits http:// on 127.0.0.1, localhost or [::1], for tests); nothing was installed"
		;;
	*) die "$1=$2 is not an https:// URL; nothing was installed" ;;
	esac
}

# download URL FILE: fetch with curl or wget, over https only (redirects
# included); non-zero on any failure.
download() {
	proto='=https'
	case $1 in http://*) proto='=http,https' ;; esac
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --proto "$proto" --proto-redir =https --retry 2 -o "$2" "$1" </dev/null
	elif command -v wget >/dev/null 2>&1; then
		# wget cannot be told to refuse a redirect to http:// (--https-only
		# is for recursive downloads): its server responses (-S) show every
		# Location it followed, and the file is dropped if one was not https.
		https_only=
		if wget --help 2>&1 | grep -q -- --https-only; then
			https_only=--https-only
		fi
		if ! wget -nv -S ${https_only:+"$https_only"} -O "$2" "$1" </dev/null 2>"$2.wget-log"; then
			rm -f "$2.wget-log"
			return 1
		fi
		if grep -i '^ *location: *[a-z][a-z0-9+.-]*:' "$2.wget-log" | grep -qiv '^ *location: *https://'; then
			say "$1 was redirected to a URL that is not https://; refused"
			rm -f "$2" "$2.wget-log"
			return 1
		fi
		rm -f "$2.wget-log"
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

# base_url: where this release's files are; also sets want_version, the
# version asked for (empty for the latest).
base_url() {
	want_version=${SSHBOOT_VERSION#v}
	if [ -n "$want_version" ]; then
		case $want_version in
		*[!0-9A-Za-z.-]* | [!0-9]*)
			die "SSHBOOT_VERSION=$SSHBOOT_VERSION is not a version like 0.2.0"
			;;
		esac
	fi
	if [ -n "${SSHBOOT_BASE_URL:-}" ]; then
		SSHBOOT_BASE_URL=${SSHBOOT_BASE_URL%/}
		check_url SSHBOOT_BASE_URL "$SSHBOOT_BASE_URL"
		return 0
	fi
	SSHBOOT_RELEASES_URL=${SSHBOOT_RELEASES_URL%/}
	check_url SSHBOOT_RELEASES_URL "$SSHBOOT_RELEASES_URL"
	if [ -z "$want_version" ]; then
		SSHBOOT_BASE_URL=$SSHBOOT_RELEASES_URL/latest/download
	else
		SSHBOOT_BASE_URL=$SSHBOOT_RELEASES_URL/download/v$want_version
	fi
}

# version_older A B: version A (1.2.3 or 1.2.3-rc.1) comes before B.
version_older() {
	awk -v a="$1" -v b="$2" 'function core(v) { sub(/-.*/, "", v); return v }
	BEGIN {
		split(core(a), x, ".")
		split(core(b), y, ".")
		for (i = 1; i <= 3; i++) {
			if (x[i] + 0 < y[i] + 0) exit 0
			if (x[i] + 0 > y[i] + 0) exit 1
		}
		exit !(index(a, "-") && !index(b, "-"))
	}'
}

# check_signed_version COMMENT: the trusted comment of SHA256SUMS's signature
# ("sshboot VERSION SHA256SUMS", see scripts/release.sh) names the version
# asked for, or without SSHBOOT_VERSION one not older than this script's
# release. Sets signed_version.
check_signed_version() {
	signed_version=$(printf '%s\n' "$1" | sed -n 's/^sshboot \([0-9][0-9A-Za-z.-]*\) SHA256SUMS$/\1/p')
	[ -n "$signed_version" ] ||
		die "the signature of SHA256SUMS names no sshboot version (trusted comment: '$1'); nothing was installed"
	if [ -n "$want_version" ] && [ "$signed_version" != "$want_version" ]; then
		die "SHA256SUMS at $SSHBOOT_BASE_URL is signed for sshboot $signed_version, not $want_version as SSHBOOT_VERSION asks (an old release served in place of the new one?); nothing was installed"
	fi
	if [ -z "$want_version" ] && [ -n "$sshboot_release_version" ] &&
		version_older "$signed_version" "$sshboot_release_version"; then
		die "SHA256SUMS at $SSHBOOT_BASE_URL is signed for sshboot $signed_version, older than this installer's release $sshboot_release_version (set SSHBOOT_VERSION=$signed_version to install it anyway); nothing was installed"
	fi
	return 0
}

# verify_signature DIR: check DIR/SHA256SUMS against its published signature.
# Sets signed_version when the signature names one.
verify_signature() {
	signed_version=
	if ! download "$SSHBOOT_BASE_URL/SHA256SUMS.minisig" "$1/SHA256SUMS.minisig" 2>/dev/null; then
		rm -f "$1/SHA256SUMS.minisig"
		if [ -n "$SSHBOOT_MINISIGN_PUBKEY" ]; then
			die "no SHA256SUMS.minisig at $SSHBOOT_BASE_URL, but this installer knows the release key $SSHBOOT_MINISIGN_PUBKEY and requires the signature (a mirror that drops it, or an incomplete release?); nothing was installed"
		fi
		if [ "$SSHBOOT_REQUIRE_SIGNATURE" = 1 ]; then
			die "no SHA256SUMS.minisig at $SSHBOOT_BASE_URL and SSHBOOT_REQUIRE_SIGNATURE=1; nothing was installed"
		fi
		say "an unsigned release (no SHA256SUMS.minisig, no release key in this installer): checking SHA-256 only"
		return 0
	fi
	if ! command -v minisign >/dev/null 2>&1; then
		if [ "$SSHBOOT_REQUIRE_SIGNATURE" = 1 ]; then
			die "SSHBOOT_REQUIRE_SIGNATURE=1 but minisign is not installed; nothing was installed"
		fi
		say "minisign is not installed: the signature of SHA256SUMS is not checked (SHA-256 only; install minisign, or set SSHBOOT_REQUIRE_SIGNATURE=1 to insist)"
		# Unverified, but an honest mirror's wrong version is still caught.
		check_signed_version "$(sed -n 's/^trusted comment: //p' "$1/SHA256SUMS.minisig" | head -n 1)"
		return 0
	fi
	if [ -z "$SSHBOOT_MINISIGN_PUBKEY" ]; then
		if [ "$SSHBOOT_REQUIRE_SIGNATURE" = 1 ]; then
			die "SSHBOOT_REQUIRE_SIGNATURE=1 but no public key is known (set SSHBOOT_MINISIGN_PUBKEY); nothing was installed"
		fi
		say "no minisign public key known (set SSHBOOT_MINISIGN_PUBKEY): the signature is not checked"
		return 0
	fi
	if ! comment=$(minisign -V -Q -P "$SSHBOOT_MINISIGN_PUBKEY" -m "$1/SHA256SUMS" -x "$1/SHA256SUMS.minisig" </dev/null 2>/dev/null); then
		die "the signature of SHA256SUMS does not verify with key $SSHBOOT_MINISIGN_PUBKEY (a tampered or foreign release?); nothing was installed"
	fi
	check_signed_version "$comment"
	say "SHA256SUMS: minisign signature verified (sshboot $signed_version)"
}

install_sshboot() {
	detect_arch
	base_url
	asset=sshboot-linux-$arch
	tmp_dir=$(mktemp -d "${TMPDIR:-/tmp}/sshboot-install.XXXXXX")
	say "downloading $asset from $SSHBOOT_BASE_URL"
	download "$SSHBOOT_BASE_URL/$asset" "$tmp_dir/$asset" ||
		die "download of $SSHBOOT_BASE_URL/$asset failed; nothing was installed"
	download "$SSHBOOT_BASE_URL/SHA256SUMS" "$tmp_dir/SHA256SUMS" ||
		die "download of $SSHBOOT_BASE_URL/SHA256SUMS failed; nothing was installed"
	verify_signature "$tmp_dir"
	expected=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp_dir/SHA256SUMS")
	[ -n "$expected" ] || die "SHA256SUMS has no line for $asset; nothing was installed"
	actual=$(sha256_of "$tmp_dir/$asset") || die "no sha256sum, shasum or openssl to verify the download"
	if [ "$actual" != "$expected" ]; then
		die "checksum mismatch for $asset (expected $expected, got $actual); nothing was installed"
	fi
	mkdir -p "$SSHBOOT_INSTALL_DIR"
	# Copy next to the target, check what it says it is, then rename: the
	# old binary stays until the new one is complete and the right version.
	new=$SSHBOOT_INSTALL_DIR/.sshboot.new.$$
	install -m 0755 "$tmp_dir/$asset" "$new"
	got=$("$new" --version </dev/null 2>/dev/null) || got=
	# One line of printable text: it came from the download.
	got=$(printf '%s\n' "$got" | head -n 1 | tr -cd '[:print:]' | cut -c 1-200)
	got_version=$(printf '%s\n' "$got" | awk '$1 == "sshboot" { print $2 }')
	want=${signed_version:-$want_version}
	if [ -z "$got_version" ] || { [ -n "$want" ] && [ "$got_version" != "$want" ]; }; then
		rm -f "$new"
		die "the downloaded $asset says '$got' to --version, not sshboot ${want:-VERSION}; nothing was installed"
	fi
	mv -f "$new" "$SSHBOOT_INSTALL_DIR/sshboot"
	say "installed $SSHBOOT_INSTALL_DIR/sshboot ($got)"
}

have_sshd() {
	for d in /usr/sbin /usr/local/sbin /sbin /usr/bin; do
		[ -x "$d/sshd" ] && return 0
	done
	command -v sshd >/dev/null 2>&1
}

# quietly COMMAND...: run a package manager; its output is shown only when it fails.
quietly() {
	if ! "$@" </dev/null >"$tmp_dir/packages.log" 2>&1; then
		cat "$tmp_dir/packages.log" >&2
		return 1
	fi
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
		quietly env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
			quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server
	elif command -v dnf >/dev/null 2>&1; then
		quietly dnf install -y openssh-server
	elif command -v yum >/dev/null 2>&1; then
		quietly yum install -y openssh-server
	elif command -v apk >/dev/null 2>&1; then
		quietly apk add --no-cache openssh-server
	elif command -v zypper >/dev/null 2>&1; then
		quietly zypper --non-interactive install openssh-server
	else
		die "no apt-get, dnf, yum, apk or zypper: install OpenSSH's server yourself"
	fi || die "installing OpenSSH's server failed (the package manager's output is above)"
	have_sshd || die "the package manager ran but sshd is still missing"
	# Host keys the package just created would be baked into the image (and
	# shared by every container made from it): sshboot makes its own.
	if [ "$mode" != password ]; then
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
run)
	# run [-- COMMAND [ARG...]]: become sshboot, running COMMAND.
	if [ $# -gt 0 ]; then
		[ "$1" = -- ] || usage
		shift
	fi
	need_root
	# A restarted container runs its start command again: keep what the
	# first start installed (the pinned version, if one is asked for).
	installed=
	if [ -x "$SSHBOOT_INSTALL_DIR/sshboot" ]; then
		installed=$("$SSHBOOT_INSTALL_DIR/sshboot" --version </dev/null 2>/dev/null | awk '{ print $2 }') || installed=
	fi
	if [ -n "$installed" ] && { [ -z "$SSHBOOT_VERSION" ] || [ "$installed" = "${SSHBOOT_VERSION#v}" ]; }; then
		say "sshboot $installed is installed already"
		tmp_dir=$(mktemp -d "${TMPDIR:-/tmp}/sshboot-install.XXXXXX")
	else
		install_sshboot
	fi
	install_openssh
	cleanup
	tmp_dir=
	trap - EXIT INT TERM
	if [ $# -gt 0 ]; then
		exec "$SSHBOOT_INSTALL_DIR/sshboot" -- "$@"
	fi
	exec "$SSHBOOT_INSTALL_DIR/sshboot"
	;;
-h | --help | help) usage ;;
*) usage ;;
esac
