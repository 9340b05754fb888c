#!/usr/bin/env bash
# Build a release of sshboot into dist/: static, stripped binaries for x86_64
# and aarch64 (the latter with Debian's cross toolchain and arm64 multiarch
# libraries), install.sh, SHA256SUMS and, when a signing key is given,
# SHA256SUMS.minisig (its trusted comment "sshboot VERSION SHA256SUMS") and
# the public key as sshboot.pub. Run on Debian 12 as root (it installs what it
# needs).
#
#   bash scripts/release.sh VERSION [--out DIR] [--work DIR] [--arch LIST]
#
#   VERSION      e.g. 0.2.0 (a leading "v" is dropped)
#   --out DIR    where the release files go (default ./dist; emptied first)
#   --work DIR   sources and build trees (default ./build-release)
#   --arch LIST  comma-separated, default x86_64,aarch64
#   --use-binary ARCH=PATH  package PATH (a static build of this commit) as
#                ARCH instead of compiling it (tests use it for a quick dist/)
#
# Environment:
#   SOURCE_DATE_EPOCH               default: the commit's date. Nothing in the
#                                   binaries depends on the time or the paths
#                                   of the build, so two builds of one commit
#                                   are byte-identical.
#   SSHBOOT_MINISIGN_KEY            a minisign secret key file: sign SHA256SUMS
#   SSHBOOT_MINISIGN_PASSWORD_FILE  the key's password (omit for a key made
#                                   with `minisign -G -W`, which has none)
#   SSHBOOT_COMMIT                  the commit --version prints (default: git)
#   JOBS                            parallel compile jobs (default: nproc)
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/common.sh
source scripts/lib/common.sh

usage() {
	sed -n '9,17p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

version=
out=$repo/dist
work=$repo/build-release
arches=x86_64,aarch64
declare -A prebuilt=()
while (($#)); do
	case $1 in
	--out) out=${2:?--out needs a directory} && shift 2 ;;
	--work) work=${2:?--work needs a directory} && shift 2 ;;
	--arch) arches=${2:?--arch needs a list} && shift 2 ;;
	--use-binary)
		[[ ${2:-} == @(x86_64|aarch64)=?* ]] || sb_die "--use-binary needs ARCH=PATH (x86_64 or aarch64)"
		prebuilt[${2%%=*}]=${2#*=}
		shift 2
		;;
	-h | --help) usage ;;
	-*) sb_die "unknown option $1 (see --help)" ;;
	*)
		[[ -z $version ]] || usage
		version=${1#v}
		shift
		;;
	esac
done
[[ -n $version ]] || usage
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] ||
	sb_die "VERSION must look like 1.2.3 or 1.2.3-rc.1, not '$version'"
IFS=, read -r -a arch_list <<<"$arches"
for arch in "${arch_list[@]}"; do
	[[ $arch == x86_64 || $arch == aarch64 ]] || sb_die "unknown architecture '$arch' (x86_64, aarch64)"
done
if [[ -n ${SSHBOOT_MINISIGN_KEY:-} && ! -r $SSHBOOT_MINISIGN_KEY ]]; then
	sb_die "SSHBOOT_MINISIGN_KEY=$SSHBOOT_MINISIGN_KEY is not a readable minisign secret key"
fi
[[ $(uname -m) == x86_64 ]] || sb_die "release builds run on an x86_64 Debian machine"
project_version=$(sed -nE 's/^project\(sshboot VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
if [[ ${version%%-*} != "$project_version" ]]; then
	sb_log "warning: releasing $version but CMakeLists.txt says $project_version"
fi

# --- what the build needs ---------------------------------------------------
install_needs() {
	local packages=(cmake g++ make binutils libboost-program-options-dev libspdlog-dev
		libfmt-dev libsodium-dev libcrypt-dev libboost-dev libssl-dev)
	if [[ ,$arches, == *,aarch64,* ]]; then
		packages+=(g++-aarch64-linux-gnu binutils-aarch64-linux-gnu libsodium-dev:arm64
			libboost-program-options-dev:arm64 libcrypt-dev:arm64 libssl-dev:arm64)
	fi
	[[ -n ${SSHBOOT_MINISIGN_KEY:-} ]] && packages+=(minisign)
	local missing=() pkg status
	for pkg in "${packages[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
		[[ $status == ii* ]] || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	((EUID == 0)) || sb_die "missing packages: ${missing[*]} (run as root, or install them)"
	sb_log "installing ${missing[*]}"
	if [[ ,$arches, == *,aarch64,* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get -q update </dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}
install_needs

# --- the sources ------------------------------------------------------------
commit=${SSHBOOT_COMMIT:-}
if [[ -z $commit ]] && git -C "$repo" rev-parse HEAD >/dev/null 2>&1; then
	commit=$(git -C "$repo" rev-parse --short=12 HEAD)
	if [[ -n $(git -C "$repo" status --porcelain --untracked-files=no) ]]; then
		commit+=-dirty
		sb_log "warning: the work tree has uncommitted changes; the binaries say commit=$commit"
	fi
fi
commit=${commit:-unknown}
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
	SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH
# No compiler cache and no ambient flags: the release is built from scratch.
export CCACHE_DISABLE=1
unset CMAKE_CXX_COMPILER_LAUNCHER CXXFLAGS CPPFLAGS LDFLAGS

# A copy of exactly what the build reads, so the build trees' paths (mapped
# away below) are all that differs between two builds in different places.
mkdir -p "$work"
work=$(cd "$work" && pwd)
src=$work/src
rm -rf "$src"
mkdir -p "$src"
cp -a CMakeLists.txt LICENSE cmake bootstrap templates "$src/"

# --- build ------------------------------------------------------------------
jobs=${JOBS:-$(nproc)}
started=$SECONDS
declare -A machine=([x86_64]=X86-64 [aarch64]=AArch64)
declare -A strip_tool=([x86_64]=strip [aarch64]=aarch64-linux-gnu-strip)

build_arch() {
	local arch=$1 dir=$work/build-$1 t0=$SECONDS
	if [[ -n ${prebuilt[$arch]:-} ]]; then
		[[ -f ${prebuilt[$arch]} ]] || sb_die "--use-binary $arch=${prebuilt[$arch]}: no such file"
		rm -rf "$dir"
		mkdir -p "$dir"
		sb_log "using ${prebuilt[$arch]} as the $arch binary"
		cp "${prebuilt[$arch]}" "$dir/sshboot"
	else
		compile_arch "$arch" "$dir"
	fi
	check_binary "$arch" "$dir"
	check_version "$arch" "$dir"
	sb_log "$arch: $(stat -c %s "$dir/sshboot-linux-$arch") bytes in $((SECONDS - t0))s"
}

compile_arch() {
	local arch=$1 dir=$2
	# -O2, as the tested build; GCC 12 at -O3 warns about std::string copies
	# that cannot happen (bug 105329). Warnings are the CI build's business.
	local args=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" -DSSHBOOT_TESTS=OFF
		-DSSHBOOT_STATIC=ON -DSSHBOOT_VERSION="$version" -DSSHBOOT_COMMIT="$commit"
		"-DCMAKE_CXX_FLAGS=-ffile-prefix-map=$src=. -ffile-prefix-map=$dir=.")
	[[ $arch == aarch64 ]] && args+=(-DCMAKE_TOOLCHAIN_FILE="$src/cmake/aarch64-linux-gnu.cmake")
	rm -rf "$dir"
	sb_log "building sshboot $version for $arch in $dir"
	if ! {
		cmake -S "$src" -B "$dir" "${args[@]}" >"$dir.log" 2>&1 &&
			cmake --build "$dir" -j "$jobs" >>"$dir.log" 2>&1
	}; then
		tail -n 40 "$dir.log" >&2
		sb_die "the $arch build failed (log: $dir.log)"
	fi
}

check_binary() {
	local arch=$1 dir=$2
	local bin=$dir/sshboot-linux-$arch
	"${strip_tool[$arch]}" --strip-all -o "$bin" "$dir/sshboot"
	if readelf -lW "$bin" | grep -q 'INTERP'; then
		sb_die "$bin asks for a program interpreter: it is not statically linked"
	fi
	readelf -hW "$bin" | grep -Eq "Machine: .*${machine[$arch]}\$" ||
		sb_die "$bin is not an ${machine[$arch]} executable: $(readelf -hW "$bin" | grep Machine:)"
}

# check_version ARCH DIR: the binary's --version names the release's version
# (install.sh compares it with the version signed into SHA256SUMS.minisig).
# The aarch64 binary is checked where it can run (qemu-user).
check_version() {
	local arch=$1 bin=$2/sshboot-linux-$1 said
	if [[ $arch != "$(uname -m)" ]] && ! "$bin" --version >/dev/null 2>&1 </dev/null; then
		sb_log "warning: cannot run the $arch binary here; its --version is not checked"
		return 0
	fi
	said=$("$bin" --version </dev/null) || sb_die "$bin --version failed"
	[[ $said == "sshboot $version "* ]] ||
		sb_die "$bin --version says '$said', not sshboot $version (install.sh would refuse it)"
}

for arch in "${arch_list[@]}"; do
	build_arch "$arch"
done

# --- dist/ ------------------------------------------------------------------
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
files=()
for arch in "${arch_list[@]}"; do
	install -m 0755 "$work/build-$arch/sshboot-linux-$arch" "$out/sshboot-linux-$arch"
	files+=("sshboot-linux-$arch")
done
# A signed release's install.sh knows the public key to check the signature
# with.
pubkey=
if [[ -n ${SSHBOOT_MINISIGN_KEY:-} ]]; then
	pw_file=${SSHBOOT_MINISIGN_PASSWORD_FILE:-/dev/null}
	rm -f "$work/minisign.pub"
	minisign -R -s "$SSHBOOT_MINISIGN_KEY" -p "$work/minisign.pub" <"$pw_file" >"$work/minisign.log" 2>&1 || {
		cat "$work/minisign.log" >&2
		sb_die "minisign could not read the public key from $SSHBOOT_MINISIGN_KEY (wrong password file?)"
	}
	pubkey=$(sed -n 2p "$work/minisign.pub")
	[[ $pubkey =~ ^[A-Za-z0-9+/=]+$ ]] || sb_die "unexpected public key in $work/minisign.pub"
	printf 'untrusted comment: minisign public key of the sshboot releases\n%s\n' "$pubkey" >"$out/sshboot.pub"
	files+=(sshboot.pub)
fi
# It knows its own version too: without SSHBOOT_VERSION it refuses a
# release signed for an older one.
sed -e "s|^sshboot_release_pubkey=\$|sshboot_release_pubkey=$pubkey|" \
	-e "s|^sshboot_release_version=\$|sshboot_release_version=$version|" templates/install.sh >"$out/install.sh"
grep -qx "sshboot_release_version=$version" "$out/install.sh" ||
	sb_die "templates/install.sh has no empty sshboot_release_version= line to fill in"
chmod 0755 "$out/install.sh"
files+=(install.sh)
mapfile -t files < <(printf '%s\n' "${files[@]}" | LC_ALL=C sort)
(cd "$out" && sha256sum "${files[@]}" >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)

if [[ -n $pubkey ]]; then
	sb_log "signing SHA256SUMS with $SSHBOOT_MINISIGN_KEY (public key $pubkey)"
	# The trusted comment is signed too: install.sh reads the version from it
	# and refuses a release signed for another version than it asked for.
	minisign -S -s "$SSHBOOT_MINISIGN_KEY" -m "$out/SHA256SUMS" -x "$out/SHA256SUMS.minisig" \
		-t "sshboot $version SHA256SUMS" <"$pw_file" >/dev/null ||
		sb_die "minisign could not sign SHA256SUMS (wrong key or password file?)"
	minisign -V -q -P "$pubkey" -m "$out/SHA256SUMS" -x "$out/SHA256SUMS.minisig" ||
		sb_die "the new signature does not verify with $pubkey"
fi
touch -d "@$SOURCE_DATE_EPOCH" "$out"/*

sb_log "sshboot $version (commit $commit) in $out after $((SECONDS - started))s:"
(cd "$out" && ls -l) >&2
