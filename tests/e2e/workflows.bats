#!/usr/bin/env bats
# The GitHub workflows cannot run here; they stay thin, calling the scripts
# the tests run, so these checks keep them pointed at the right ones.

load test_helper

# workflow_check FILE PYTHON: run PYTHON with the parsed workflow as `w`.
workflow_check() {
	python3 -c 'import sys, yaml
w = yaml.safe_load(open(sys.argv[1]))
on = w.get("on", w.get(True))
steps = [s for job in w["jobs"].values() for s in job.get("steps", [])]
runs = "\n".join(s.get("run", "") for s in steps)
uses = [s.get("uses", "") for s in steps]
exec(sys.argv[2])
print("ok")' "$E2E_REPO/.github/workflows/$1" "$2"
}

@test "ci.yml runs the README's test command with CI=true on pull requests and main" {
	command -v python3 >/dev/null && python3 -c 'import yaml' || e2e_fail_or_skip "needs python3-yaml"
	run -0 workflow_check ci.yml '
assert "pull_request" in on and on["push"]["branches"] == ["main"], on
assert "bash .ci/run" in runs.splitlines(), runs
(job,) = w["jobs"].values()
assert job["env"]["CI"] == "true", job.get("env")
assert "--privileged" in job["container"]["options"]
'
	run -0 cat "$E2E_REPO/.ci/run"
	assert_output --partial 'bash scripts/test.sh'
}

@test "release.yml on a v* tag runs scripts/release.sh, attaches dist/ and pushes the bake images from the release binaries" {
	command -v python3 >/dev/null && python3 -c 'import yaml' || e2e_fail_or_skip "needs python3-yaml"
	run -0 workflow_check release.yml '
assert on["push"]["tags"] == ["v*"], on
assert "bash scripts/release.sh \"$GITHUB_REF_NAME\"" in runs, runs
assert "SSHBOOT_MINISIGN_KEY=" in runs and "SSHBOOT_MINISIGN_PASSWORD_FILE=" in runs
assert "gh release create" in runs and "dist/*" in runs
assert "SSHBOOT_BINARY=release" in runs and "docker buildx bake --push" in runs
assert any(u.startswith("docker/setup-buildx-action") for u in uses), uses
'
}
