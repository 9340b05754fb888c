#!/usr/bin/env bats
# The unit tests cross-compiled for aarch64 (the release's toolchain and arm64
# libraries) and run under qemu-user: the pure core behaves the same on the
# other architecture, not only the binary's start-up.

load ../e2e/test_helper
load release_helper

setup_file() {
	UNIT_DIR=$REL_CACHE/unit-aarch64
	export UNIT_DIR
	mkdir -p "$REL_CACHE"
	# -O0 without debug information: the quickest build that runs the tests.
	local launcher=()
	command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
	local t0=$SECONDS
	if ! {
		cmake -S "$E2E_REPO" -B "$UNIT_DIR" -DCMAKE_TOOLCHAIN_FILE="$E2E_REPO/cmake/aarch64-linux-gnu.cmake" \
			-DSSHBOOT_WERROR=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 "${launcher[@]}" &&
			cmake --build "$UNIT_DIR" -j "${JOBS:-$(nproc)}" --target unit_tests
	} >"$REL_CACHE/unit-aarch64.log" 2>&1 </dev/null; then
		{
			echo "the aarch64 unit test build failed (needs g++-aarch64-linux-gnu, libgtest-dev:arm64 and the other arm64 -dev packages: bash scripts/install-deps.sh); the end of $REL_CACHE/unit-aarch64.log:"
			tail -n 30 "$REL_CACHE/unit-aarch64.log"
		} >"$BATS_FILE_TMPDIR/build.failed"
		return 0
	fi
	rel_figure "aarch64 unit tests: built in $((SECONDS - t0))s"
}

setup() {
	e2e_setup
	[[ ! -e $BATS_FILE_TMPDIR/build.failed ]] || fail "$(cat "$BATS_FILE_TMPDIR/build.failed")"
}

teardown() { e2e_teardown; }

@test "the unit tests built for aarch64 are aarch64 executables" {
	run -0 readelf -hW "$UNIT_DIR/unit_tests"
	assert_line --regexp '^ *Machine: +AArch64$'
}

@test "the unit tests built for aarch64 all pass under qemu-user" {
	local problem
	if problem=$(rel_binfmt_problem); then
		e2e_fail_or_skip "cannot run aarch64 binaries: $problem"
	fi
	local t0=$SECONDS
	run "$UNIT_DIR/unit_tests" --gtest_brief=1
	assert_success
	assert_output --regexp '\[  PASSED  \] [0-9]+ tests'
	rel_figure "aarch64 unit tests under qemu-user: $(grep -oE '[0-9]+ tests' <<<"${lines[-1]}" | head -n 1) in $((SECONDS - t0))s"
}
