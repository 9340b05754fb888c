# shellcheck shell=bash
# Helpers for tests/release: the release that scripts/release.sh makes, built
# once per run in setup_file, and qemu-user for the aarch64 binary.

# Where the release tests keep their builds, dist/ directories and figures.
REL_CACHE=$E2E_BUILD_DIR/release-test
REL_FIGURES=$REL_CACHE/figures.txt

# rel_version: the project version in CMakeLists.txt.
rel_version() {
	sed -nE 's/^project\(sshboot VERSION ([0-9.]+).*/\1/p' "$E2E_REPO/CMakeLists.txt"
}

# rel_figure TEXT: one measured figure, for the test output and the tier's report.
rel_figure() {
	mkdir -p "$REL_CACHE"
	printf '%s\n' "$*" >>"$REL_FIGURES"
	printf '# %s\n' "$*" >&3
}

# rel_binfmt_problem: print why aarch64 binaries cannot run here through
# binfmt_misc and qemu-user; nothing (and status 1) when they can. Mounts
# binfmt_misc and enables Debian's qemu-aarch64 entry when they are missing.
rel_binfmt_problem() {
	local dir=/proc/sys/fs/binfmt_misc
	if [[ ! -e $dir/register ]]; then
		if ! mount -t binfmt_misc binfmt_misc "$dir" 2>/dev/null; then
			echo "binfmt_misc is not mounted at $dir and cannot be mounted here (run: mount -t binfmt_misc binfmt_misc $dir)"
			return 0
		fi
	fi
	if [[ ! -e $dir/qemu-aarch64 ]]; then
		if ! command -v update-binfmts >/dev/null || [[ ! -x /usr/libexec/qemu-binfmt/aarch64-binfmt-P && ! -x /usr/bin/qemu-aarch64-static ]]; then
			echo "qemu-user-static and binfmt-support are not installed (bash scripts/install-deps.sh)"
			return 0
		fi
		update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
	fi
	if [[ $(head -n 1 "$dir/qemu-aarch64" 2>/dev/null) != enabled ]]; then
		echo "qemu-aarch64 is not registered with binfmt_misc (update-binfmts --enable qemu-aarch64 failed; is $dir writable?)"
		return 0
	fi
	return 1
}

# rel_release NAME [release.sh ARGS...]: run scripts/release.sh into
# $REL_CACHE/NAME (dist/) with its work tree in $REL_CACHE/work-NAME; the log
# goes to $REL_CACHE/NAME.log. Records the time as a figure.
rel_release() {
	local name=$1 t0=$SECONDS
	shift
	rm -rf "${REL_CACHE:?}/$name"
	if ! bash "$E2E_REPO/scripts/release.sh" "$(rel_version)" --out "$REL_CACHE/$name" \
		--work "$REL_CACHE/work-$name" "$@" >"$REL_CACHE/$name.log" 2>&1 </dev/null; then
		echo "scripts/release.sh $* failed; the end of $REL_CACHE/$name.log:" >&2
		tail -n 30 "$REL_CACHE/$name.log" >&2
		return 1
	fi
	rel_figure "release.sh ${*:-(both architectures)}: $((SECONDS - t0))s"
}
