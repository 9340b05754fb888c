#!/usr/bin/env bash
# Run every test of sshboot: install what is needed, build with warnings as
# errors, check formatting and shell scripts, run the unit tests and the
# end-to-end tests. Ends with one line "N passed, N failed, N skipped" and
# exits non-zero when anything failed.
#
#   bash scripts/test.sh              every tier
#   bash scripts/test.sh unit e2e     only these tiers (deps and build always run)
#
# A tier that cannot run here (not root, a tool missing) is skipped with the
# reason; with CI=true it counts as a failure instead.
#
# Environment: SSHBOOT_BUILD_DIR (default ./build), BATS_FILTER (a regex
# passed to bats --filter), JOBS (parallel build jobs).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/common.sh
source scripts/lib/common.sh

BUILD=$SSHBOOT_BUILD_DIR
JOBS=${JOBS:-$(nproc)}
ALL_TIERS=(format lint unit e2e)

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
	local files=() args=(--formatter tap --timing)
	mapfile -t files < <(find tests/e2e -maxdepth 1 -name '*.bats' | sort)
	if ((${#files[@]} == 0)); then
		record e2e 0 0 0 "no bats files"
		return
	fi
	[[ -n ${BATS_FILTER:-} ]] && args+=(--filter "$BATS_FILTER")
	local log=$BUILD/e2e.tap
	# The tests decide for themselves whether they can run (root, namespaces)
	# and skip with the reason, or fail under CI=true.
	SSHBOOT_BUILD_DIR=$(cd "$BUILD" && pwd) bats "${args[@]}" "${files[@]}" 2>&1 | tee "$log"
	local ok not_ok skips
	ok=$(grep -cE '^ok ' "$log")
	not_ok=$(grep -cE '^not ok ' "$log")
	skips=$(grep -cE '^ok .* # skip' "$log")
	if grep -q '^bats warning: Executed' "$log"; then
		not_ok=$((not_ok + 1))
		echo "bats ran fewer tests than planned (a setup_file failed)" >&2
	fi
	record e2e "$((ok - skips))" "$not_ok" "$skips" "bats, ${#files[@]} files"
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
		if ((!built)) && [[ $t == unit || $t == e2e ]]; then
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
