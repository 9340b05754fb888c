#!/usr/bin/env bats
# The README and docs/ stay true to the program: every variable, flag,
# subcommand and path they name exists, the reference names every one the
# program has, their shell blocks parse, their links resolve, and the README
# stays short and written for users. (connect_block.bats checks the README's
# sample connect block against the printed one.)

load test_helper

setup() {
	[[ -x $E2E_SSHBOOT ]] || fail "no sshboot binary at $E2E_SSHBOOT (build first: cmake --build build)"
	DOCS=("$E2E_REPO/README.md" "$E2E_REPO"/docs/*.md)
	REFERENCE=$E2E_REPO/docs/reference.md
	[[ -f $REFERENCE ]] || fail "docs/reference.md is missing"
}

# all_help: the help text of sshboot and of each subcommand.
all_help() {
	"$E2E_SSHBOOT" --help
	local sub
	for sub in password check-key doctor cluster "cluster wait" "cluster register" tunnel; do
		# shellcheck disable=SC2086 # "cluster wait" is two words
		"$E2E_SSHBOOT" $sub --help 2>/dev/null || true
	done
}

# subcommands: the words sshboot --help shows after "sshboot", plus run.
subcommands() {
	echo run
	"$E2E_SSHBOOT" --help | sed -nE 's/^(Usage:)? *sshboot ([a-z][a-z-]*).*/\2/p'
}

# code_text FILE...: inline code spans and fenced blocks, one per line.
code_text() {
	awk '/^```/ { fence = !fence; next }
		fence { print; next }
		{
			s = $0
			while (match(s, /`[^`]+`/)) {
				print substr(s, RSTART + 1, RLENGTH - 2)
				s = substr(s, RSTART + RLENGTH)
			}
		}' "$@"
}

@test "the README is at most 300 lines, for users: it names no test file" {
	local lines
	lines=$(wc -l <"$E2E_REPO/README.md")
	((lines <= 300)) || fail "README.md has $lines lines; keep it under 300 (move detail to docs/)"
	run grep -nE 'tests/|\.bats\b' "$E2E_REPO/README.md"
	assert_failure
}

@test "the README keeps the two commands for a fresh Debian 12 machine: the demo and every test" {
	run grep -xF 'bash scripts/demo.sh' "$E2E_REPO/README.md"
	assert_success
	run grep -xF 'bash scripts/test.sh' "$E2E_REPO/README.md"
	assert_success
	run grep -F 'bash scripts/test.sh' "$E2E_REPO/.ci/run"
	assert_success
}

@test "every SSH_ and SSHBOOT_ variable the README and docs name exists in sshboot, its templates or scripts" {
	local help var missing=()
	help=$(all_help)
	for var in $(grep -ohE '\b(SSHBOOT|SSH)_[A-Z0-9_]*[A-Z0-9]\b' "${DOCS[@]}" | sort -u); do
		grep -qw -- "$var" <<<"$help" && continue
		grep -rqw -- "$var" "$E2E_REPO"/{bootstrap,templates,scripts,docker,tests/bench} \
			"$E2E_REPO/docker-bake.hcl" "$E2E_REPO/.github" && continue
		missing+=("$var")
	done
	((${#missing[@]} == 0)) || fail "named in the docs but not read anywhere: ${missing[*]}"
}

@test "docs/reference.md names every flag and variable sshboot --help and its subcommands list" {
	local help flag var missing=()
	help=$(all_help)
	for flag in $(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u); do
		grep -qE -- "${flag}([^a-z0-9-]|\$)" "$REFERENCE" || missing+=("$flag")
	done
	for var in $(grep -oE '\[[A-Z][A-Z0-9_<>]+\]' <<<"$help" | tr -d '[]' | sort -u); do
		grep -qF -- "$var" "$REFERENCE" || missing+=("$var")
	done
	((${#missing[@]} == 0)) || fail "in sshboot's help but not in docs/reference.md: ${missing[*]}"
}

@test "docs/reference.md names every SSHBOOT_ variable the program, the installer and the Dockerfile read" {
	local var missing=()
	for var in $(
		grep -rhoE '"SSHBOOT_[A-Z0-9_]*[A-Z0-9]"' "$E2E_REPO/bootstrap" | tr -d '"'
		sed -nE 's/^#   (SSHBOOT_[A-Z_]+).*/\1/p' "$E2E_REPO/templates/install.sh"
		sed -nE 's/^ARG ([A-Z_]+).*/\1/p' "$E2E_REPO/docker/Dockerfile" | grep -vx TARGETARCH
	); do
		grep -qw -- "$var" "$REFERENCE" || missing+=("$var")
	done
	((${#missing[@]} == 0)) || fail "read by sshboot, install.sh or docker/Dockerfile but not in docs/reference.md: ${missing[*]}"
}

@test "every --flag the README and docs give to sshboot is one it accepts" {
	local help flag missing=()
	help=$(all_help)
	for flag in $(code_text "${DOCS[@]}" | grep -oE '(^|[ (])sshboot( [^|;&#)]*)?' |
		grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
		grep -qE -- "${flag}([^a-z0-9-]|\$)" <<<"$help" && continue
		grep -rqF -- "\"$flag\"" "$E2E_REPO/bootstrap" && continue
		missing+=("$flag")
	done
	((${#missing[@]} == 0)) || fail "given to sshboot in the docs but not accepted: ${missing[*]}"
}

@test "every sshboot subcommand and install.sh mode the README and docs name is accepted" {
	local known words word sub bad=()
	known=$(subcommands)
	words=$(code_text "${DOCS[@]}" | grep -oE '(^ *|[|&(] *)sshboot [a-z][a-z-]*( [a-z][a-z-]*)?' |
		sed -E 's/^[ |;&(]*//' | sort -u)
	while read -r _ word sub; do
		[[ -n $word ]] || continue
		if ! grep -qx -- "$word" <<<"$known"; then
			bad+=("sshboot $word")
			continue
		fi
		run "$E2E_SSHBOOT" "$word" --help
		((status == 0)) || bad+=("sshboot $word --help exits $status")
		if [[ $word == cluster && -n $sub ]]; then
			"$E2E_SSHBOOT" cluster --help | grep -qE "sshboot cluster (.*[ |])?$sub\b" ||
				bad+=("sshboot cluster $sub")
		fi
	done <<<"$words"
	for word in $(code_text "${DOCS[@]}" | grep -oE 'install\.sh [a-z]+' | awk '{ print $2 }' | sort -u); do
		grep -qE "^$word\)" "$E2E_REPO/templates/install.sh" || bad+=("install.sh $word")
	done
	((${#bad[@]} == 0)) || fail "named in the docs but not accepted: ${bad[*]}"
}

@test "the README's and docs' shell blocks parse with bash -n" {
	local dir file n
	dir=$BATS_TEST_TMPDIR/blocks
	mkdir -p "$dir"
	for file in "${DOCS[@]}"; do
		awk -v out="$dir/$(basename "$file")" '
			/^```(sh|bash|shell)$/ { on = 1; n++; next }
			/^```/ { on = 0; next }
			on { print > (out "." n ".sh") }' "$file"
	done
	n=0
	for file in "$dir"/*.sh; do
		[[ -e $file ]] || continue
		n=$((n + 1))
		run bash -n "$file"
		((status == 0)) || fail "a shell block in ${file##*/} does not parse: $output"
	done
	((n > 0)) || fail "no shell blocks found"
}

@test "every repository path the README and docs name exists" {
	local path missing=()
	for path in $(code_text "${DOCS[@]}" |
		grep -oE '(^|[ (=@"])(\.\./)?(scripts|templates|docker|tests|docs|bootstrap|cmake|\.ci|\.github)/[^ `)"]*' |
		sed -E 's/^[ (=@"]//; s/^\.\.\///; s/#.*//; s/[.,:;]+$//' | sort -u); do
		[[ $path == *[\<\*\{:]* ]] && continue
		[[ -e $E2E_REPO/$path ]] || missing+=("$path")
	done
	((${#missing[@]} == 0)) || fail "named in the docs but not in the repository: ${missing[*]}"
}

@test "relative links in the README and docs resolve, anchors included" {
	command -v python3 >/dev/null || e2e_fail_or_skip "needs python3"
	run python3 - "${DOCS[@]}" <<-'EOF'
		import os, re, sys
		def slugs(path):
		    out, fence = set(), False
		    for line in open(path, encoding="utf-8"):
		        if line.startswith("```"):
		            fence = not fence
		        if fence or not line.startswith("#"):
		            continue
		        title = line.lstrip("#").strip().lower()
		        out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
		    return out
		bad = []
		for doc in sys.argv[1:]:
		    text = re.sub(r"```.*?```", "", open(doc, encoding="utf-8").read(), flags=re.S)
		    for target in re.findall(r"\]\(([^)\s]+)\)", text):
		        if re.match(r"[a-z]+:", target):
		            continue
		        path, _, anchor = target.partition("#")
		        full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
		        if not os.path.exists(full):
		            bad.append(f"{os.path.basename(doc)}: {target} (no such file)")
		        elif anchor and full.endswith(".md") and anchor not in slugs(full):
		            bad.append(f"{os.path.basename(doc)}: {target} (no such heading)")
		print("\n".join(bad))
		sys.exit(1 if bad else 0)
	EOF
	assert_success
}
