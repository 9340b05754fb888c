#!/usr/bin/env bash
# Run every test of sshboot: install what is needed, build with warnings as
# errors, check formatting and shell scripts, run the unit tests and the
# end-to-end tests. Ends with one line "N passed, N failed, N skipped" and
# exits non-zero when anything failed.
#
#   bash scripts/test.sh              every tier
#   bash scripts/test.sh unit e2e     only these tiers (deps and build always run)
#
# Tiers: format, lint, unit, e2e (on the static build in $SSHBOOT_BUILD_DIR);
# sanitize (an ASan+UBSan build in build-sanitize: the unit tests and a smoke
# subset of the e2e tests on it); fuzz (the libFuzzer targets built with
# clang in build-fuzz, each run for FUZZ_SECONDS); release (scripts/release.sh
# for x86_64 and aarch64, twice, compared byte for byte; the aarch64 binary
# under qemu-user up to a key login into an arm64 Debian root: tests/release).
#
# A tier that cannot run here (not root, a tool missing) is skipped with the
# reason; with CI=true it counts as a failure instead.
#
# Environment: SSHBOOT_BUILD_DIR (default ./build), BATS_FILTER (a regex
# passed to bats --filter), JOBS (parallel build jobs), FUZZ_SECONDS (default
# 60 per target), SANITIZE_E2E_FILTER (the e2e smoke subset, a bats --filter
# regex).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/common.sh
source scripts/lib/common.sh

BUILD=$SSHBOOT_BUILD_DIR
JOBS=${JOBS:-$(nproc)}
ALL_TIERS=(format lint unit e2e sanitize fuzz release)

passed=0
failed=0
skipped=0
summary=()

# record TIER PASSED FAILED SKIPPED NOTE
record() {
	passed=$((passed + $2))
	failed=$((failed + $3))
	skipped=$((skipped + $4))
	summary+=("$(printf '%-8s %4d passed %4d failed %4d skipped  %s' "$1" "$2" "$3" "$4" "$5")")
}

# unavailable TIER REASON: a tier that cannot run here.
unavailable() {
	if [[ ${CI:-} == true ]]; then
		echo "FAIL: tier $1 cannot run here, and CI=true: $2" >&2
		record "$1" 0 1 0 "cannot run: $2"
	else
		echo "SKIP: tier $1: $2" >&2
		record "$1" 0 0 1 "skipped: $2"
	fi
}

banner() { printf '\n=== %s ===\n' "$*"; }

need_tools() {
	local tool
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null; then
			echo "$tool is not installed (bash scripts/install-deps.sh)"
			return 1
		fi
	done
}

tier_deps() {
	banner "dependencies"
	if ((EUID == 0)); then
		bash scripts/install-deps.sh || {
			record deps 0 1 0 "scripts/install-deps.sh failed"
			return 1
		}
	else
		echo "not root: not installing packages; tiers whose tools are missing will be skipped"
	fi
}

tier_build() {
	banner "build ($BUILD)"
	local why
	if ! why=$(need_tools cmake g++ make); then
		unavailable build "$why"
		return 1
	fi
	local start=$SECONDS
	if cmake -S . -B "$BUILD" -DSSHBOOT_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		cmake --build "$BUILD" -j "$JOBS"; then
		record build 1 0 0 "$((SECONDS - start))s"
		return 0
	fi
	record build 0 1 0 "cmake configure or build failed"
	return 1
}

tier_format() {
	banner "clang-format"
	local why
	if ! why=$(need_tools clang-format); then
		unavailable format "$why"
		return
	fi
	local files=()
	mapfile -t files < <(find bootstrap tests -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) | sort)
	if ((${#files[@]} == 0)); then
		record format 0 0 1 "no C++ files"
	elif clang-format --dry-run -Werror "${files[@]}"; then
		record format 1 0 0 "${#files[@]} files"
	else
		echo "run: clang-format -i <files above>" >&2
		record format 0 1 0 "files differ from .clang-format"
	fi
}

tier_lint() {
	banner "shellcheck and bash -n"
	local why
	if ! why=$(need_tools shellcheck); then
		unavailable lint "$why"
		return
	fi
	local scripts=() bad=0 f
	mapfile -t scripts < <(
		{
			find scripts tests -type f \( -name '*.sh' -o -name '*.bash' \)
			echo .ci/run
			[[ -f templates/install.sh ]] && echo templates/install.sh
		} | sort
	)
	for f in "${scripts[@]}"; do
		bash -n "$f" || bad=1
	done
	shellcheck -x "${scripts[@]}" || bad=1
	local bats_files=()
	mapfile -t bats_files < <(find tests -name '*.bats' | sort)
	for f in "${bats_files[@]}"; do
		# bats files are bash plus @test blocks: check them as bash after
		# turning each @test line into a function header.
		sed -E 's/^@test (.*) \{$/test_case() {/' "$f" | bash -n || {
			echo "syntax error in $f" >&2
			bad=1
		}
	done
	if ((bad)); then
		record lint 0 1 0 "shellcheck or bash -n reported problems"
	else
		record lint 1 0 0 "${#scripts[@]} scripts, ${#bats_files[@]} bats files"
	fi
}

tier_unit() {
	banner "unit tests (ctest)"
	local why
	if ! why=$(need_tools ctest); then
		unavailable unit "$why"
		return
	fi
	local log=$BUILD/unit.log
	ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" --timeout 300 2>&1 | tee "$log"
	# "100% tests passed, 0 tests failed out of 57"
	local line total fails skips
	line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
	if [[ -z $line ]]; then
		if grep -q 'No tests were found' "$log"; then
			record unit 0 0 0 "no unit tests"
		else
			record unit 0 1 0 "ctest did not report results"
		fi
		return
	fi
	fails=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
	total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
	skips=$(grep -cE '^[[:space:]]*[0-9]+ - .*\((Skipped|Not Run|Disabled)\)' "$log")
	record unit "$((total - fails - skips))" "$fails" "$skips" "ctest"
}

tier_e2e() {
	banner "end-to-end tests (bats)"
	local why
	if ! why=$(need_tools bats); then
		unavailable e2e "$why"
		return
	fi
	local args=()
	[[ -n ${BATS_FILTER:-} ]] && args+=(--filter "$BATS_FILTER")
	# The tests decide for themselves whether they can run (root, namespaces)
	# and skip with the reason, or fail under CI=true.
	local bats_ok bats_not_ok bats_skips
	run_bats "$BUILD/e2e.tap" "${args[@]}"
	record e2e "$((bats_ok - bats_skips))" "$bats_not_ok" "$bats_skips" "bats"
}

# run_bats LOG BATS_ARGS...: run bats on every e2e file with the build in
# $BUILD (the binary: $SSHBOOT_BIN when set); TAP to LOG. Sets bats_ok,
# bats_not_ok, bats_skips.
run_bats() {
	local log=$1
	shift
	local files=()
	mapfile -t files < <(find tests/e2e -maxdepth 1 -name '*.bats' | sort)
	SSHBOOT_BUILD_DIR=$(cd "$BUILD" && pwd) bats --formatter tap --timing "$@" "${files[@]}" 2>&1 | tee "$log"
	bats_ok=$(grep -cE '^ok ' "$log")
	bats_not_ok=$(grep -cE '^not ok ' "$log")
	bats_skips=$(grep -cE '^ok .* # skip' "$log")
	if grep -q '^bats warning: Executed' "$log"; then
		bats_not_ok=$((bats_not_ok + 1))
		echo "bats ran fewer tests than planned (a setup_file failed)" >&2
	fi
}

tier_sanitize() {
	banner "ASan + UBSan build: unit tests and e2e smoke tests"
	local why dir=build-sanitize
	if ! why=$(need_tools cmake g++ ctest bats); then
		unavailable sanitize "$why"
		return
	fi
	if ! {
		cmake -S . -B "$dir" -DSSHBOOT_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
			-DSSHBOOT_SANITIZE=address,undefined &&
			cmake --build "$dir" -j "$JOBS"
	}; then
		record sanitize 0 1 0 "the sanitizer build failed"
		return
	fi
	local log=$dir/unit.log line fails total
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir "$dir" --output-on-failure -j "$JOBS" --timeout 300 2>&1 | tee "$log"
	line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
	if [[ -z $line ]]; then
		record sanitize 0 1 0 "ctest on the sanitizer build did not report results"
		return
	fi
	fails=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
	total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
	record sanitize-unit "$((total - fails))" "$fails" 0 "ctest, ASan+UBSan"
	# The smoke subset: the login paths, keys, passwords and the PID-1 loop.
	local filter=${SANITIZE_E2E_FILTER:-'printed connect command|scp and sftp move|pasted private key|SSH_PASSWORD logs in|exit codes 0, 1|SIGTERM|orphaned|kill -9 of sshd|is usable: fingerprint|healthy container|generated password printed once'}
	local bats_ok bats_not_ok bats_skips
	SSHBOOT_BIN=$(cd "$dir" && pwd)/sshboot run_bats "$dir/e2e.tap" --filter "$filter"
	# A sanitizer report goes to sshboot's stderr, which the tests keep; a
	# finding aborts the process, so the test that hit it has failed already.
	record sanitize-e2e "$((bats_ok - bats_skips))" "$bats_not_ok" "$bats_skips" "bats smoke subset, ASan+UBSan"
}

# fuzz_one DIR NAME CORPUS SECONDS: run fuzz_NAME for SECONDS from CORPUS;
# writes "ok EXECUTIONS" or what went wrong to DIR/fuzz_NAME.result.
fuzz_one() {
	local dir=$1 name=$2 corpus=$3 seconds=$4 work log execs result=$1/fuzz_$2.result
	if [[ ! -x $dir/fuzz_$name ]]; then
		echo "no target fuzz_$name for $corpus" >"$result"
		return
	fi
	work=$(mktemp -d)
	log=$dir/fuzz_$name.log
	echo "fuzz_$name: ${seconds}s from $(find "$corpus" -type f | wc -l) seeds"
	if "$dir/fuzz_$name" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$dir/crashes/$name-" "$work" "$corpus" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok ${execs:-?}" >"$result"
	else
		{
			echo "found a problem; input in $dir/crashes/, log $log:"
			tail -n 40 "$log"
		} >&2
		echo "found a problem (input in $dir/crashes/, log $log)" >"$result"
	fi
	rm -rf "$work"
}

tier_fuzz() {
	banner "fuzzing (libFuzzer, ASan + UBSan)"
	local why dir=build-fuzz seconds=${FUZZ_SECONDS:-60}
	if ! why=$(need_tools clang++ cmake); then
		unavailable fuzz "$why"
		return
	fi
	if ! {
		cmake -S . -B "$dir" -DCMAKE_CXX_COMPILER=clang++ -DSSHBOOT_FUZZ=ON -DSSHBOOT_TESTS=OFF \
			-DSSHBOOT_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
			cmake --build "$dir" -j "$JOBS"
	}; then
		record fuzz 0 1 0 "the fuzz build failed (clang with libFuzzer: apt-get install clang)"
		return
	fi
	# One target per core at a time (each is single-threaded); each writes
	# its verdict to $dir/fuzz_NAME.result, read in order afterwards.
	local corpus name ok=0 bad=0 notes=() running=0 names=()
	mkdir -p "$dir/crashes"
	for corpus in tests/fuzz/corpus/*/; do
		name=$(basename "$corpus")
		names+=("$name")
		rm -f "$dir/fuzz_$name.result"
		if ((running >= JOBS)); then
			wait -n || true
			running=$((running - 1))
		fi
		fuzz_one "$dir" "$name" "$corpus" "$seconds" &
		running=$((running + 1))
	done
	wait || true
	local verdict execs
	for name in "${names[@]}"; do
		read -r verdict execs <"$dir/fuzz_$name.result" 2>/dev/null || verdict=missing
		if [[ $verdict == ok ]]; then
			echo "fuzz_$name: $execs executions, no findings"
			notes+=("$name $execs")
			ok=$((ok + 1))
		else
			echo "fuzz_$name: $verdict" >&2
			bad=$((bad + 1))
		fi
	done
	record fuzz "$ok" "$bad" 0 "executions: ${notes[*]}"
}

tier_release() {
	banner "release: both architectures built twice, the aarch64 binary under qemu-user"
	local why start=$SECONDS
	if ! why=$(need_tools bats readelf sha256sum minisign); then
		unavailable release "$why"
		return
	fi
	local files=() log=$BUILD/release.tap
	mapfile -t files < <(find tests/release -maxdepth 1 -name '*.bats' | sort)
	SSHBOOT_BUILD_DIR=$(cd "$BUILD" && pwd) bats --formatter tap --timing "${files[@]}" 2>&1 | tee "$log"
	local ok not_ok skips
	ok=$(grep -cE '^ok ' "$log")
	not_ok=$(grep -cE '^not ok ' "$log")
	skips=$(grep -cE '^ok .* # skip' "$log")
	if grep -q '^bats warning: Executed' "$log"; then
		not_ok=$((not_ok + 1))
		echo "bats ran fewer tests than planned (a setup_file failed)" >&2
	fi
	record release "$((ok - skips))" "$not_ok" "$skips" "$((SECONDS - start))s; figures in $BUILD/release-test/figures.txt"
}

main() {
	local tiers=("$@") started=$SECONDS
	((${#tiers[@]})) || tiers=("${ALL_TIERS[@]}")
	local t
	for t in "${tiers[@]}"; do
		declare -F "tier_$t" >/dev/null || sb_die "unknown tier '$t' (tiers: ${ALL_TIERS[*]})"
	done

	tier_deps || true
	local built=1
	tier_build || built=0
	for t in "${tiers[@]}"; do
		if ((!built)) && [[ $t == unit || $t == e2e || $t == sanitize ]]; then
			record "$t" 0 0 1 "not run: the build failed"
			continue
		fi
		"tier_$t"
	done

	banner "summary ($((SECONDS - started))s)"
	printf '%s\n' "${summary[@]}"
	printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
	((failed == 0))
}

main "$@"
