#!/usr/bin/env bats
# SSH sessions see the container's environment: non-interactive commands and
# login shells, root and SSH_USER; sshboot's secrets reach no session and no
# file.

load test_helper

setup_file() { e2e_setup_file; }
setup() { e2e_setup; }
teardown() { e2e_teardown; }

PW=e2e-Unique-Pw-4821
TOKEN=hf_e2eSecretToken9137
# Quotes, spaces (two in a row), $, backslashes, a #, a backtick.
TRICKY="it's \"quoted\"  \$HOME \\back\\\\slash #hash \`tick\`"
CONTAINER_ENV=(
	PATH="/usr/local/cuda/bin:/opt/conda/bin:$E2E_CONTAINER_PATH"
	RUNPOD_POD_ID=pod-e2e-1
	LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/nvidia/lib64
	HF_TOKEN="$TOKEN"
	TRICKY="$TRICKY"
	SSH_PASSWORD="$PW"
)

# session_env_ok USER ENV_OUTPUT: the output of `env` in a session has every
# variable, exact, and none of sshboot's secrets.
session_env_ok() {
	local who=$1 out=$2
	grep -qxF "RUNPOD_POD_ID=pod-e2e-1" <<<"$out" || fail "$who: no RUNPOD_POD_ID in:"$'\n'"$out"
	grep -qxF "LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/nvidia/lib64" <<<"$out" ||
		fail "$who: no LD_LIBRARY_PATH in:"$'\n'"$out"
	grep -qxF "HF_TOKEN=$TOKEN" <<<"$out" || fail "$who: no HF_TOKEN"
	grep -qxF "TRICKY=$TRICKY" <<<"$out" || fail "$who: TRICKY not exact in:"$'\n'"$(grep TRICKY <<<"$out")"
	grep -qE '^PATH=(.*:)?/usr/local/cuda/bin(:|$)' <<<"$out" || fail "$who: no /usr/local/cuda/bin in PATH:"$'\n'"$(grep ^PATH= <<<"$out")"
	grep -qE '^PATH=(.*:)?/opt/conda/bin(:|$)' <<<"$out" || fail "$who: no /opt/conda/bin in PATH"
	! grep -qE '^(SSH_PASSWORD|SSH_PUBLIC_KEY|PUBLIC_KEY)' <<<"$out" || fail "$who: sshboot's secrets in the session"
	! grep -qF "$PW" <<<"$out" || fail "$who: the password is in the session"
}

# exported_files_clean PUBKEY_BLOB: no exported file holds sshboot's secrets.
exported_files_clean() {
	local f
	for f in "$E2E_ROOT"/etc/profile.d/sshboot-env*.sh "$E2E_ROOT/etc/sshboot/sshd_config"; do
		[[ -e $f ]] || continue
		! grep -qE 'SSH_PASSWORD|SSH_PUBLIC_KEY|PUBLIC_KEY=' "$f" || fail "$f names sshboot's secrets"
		! grep -qF -- "$1" "$f" || fail "$f holds the public key"
		! grep -qF -- "$PW" "$f" || fail "$f holds the password"
	done
	assert_no_secret "$PW"
}

@test "root sees the container's environment in ssh host cmd and in a login shell" {
	local port out blob
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" "${CONTAINER_ENV[@]}"

	out=$(ssh_root "$port" env) || fail "ssh env failed"
	session_env_ok "root, ssh host cmd" "$out"
	run -0 ssh_root "$port" 'printf "%s\n" "$TRICKY"'
	assert_output "$TRICKY"

	out=$(ssh -tt -p "$port" root@127.0.0.1 bash -lic env 2>/dev/null </dev/null | tr -d '\r') ||
		fail "ssh -tt bash -lic env failed"
	session_env_ok "root, login shell" "$out"

	blob=$(cut -d' ' -f2 "$CLIENT_PUB")
	exported_files_clean "$blob"
}

@test "a non-root SSH_USER sees it too, and only root and that user can read the secret values" {
	root_prepare
	root_exec -- /usr/sbin/useradd -m -s /bin/bash alice >/dev/null
	local port out blob gid
	port=$(free_port)
	start_runpod "$port" SSH_USER=alice SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" "${CONTAINER_ENV[@]}"

	out=$(ssh -p "$port" alice@127.0.0.1 env) || fail "ssh env failed"
	session_env_ok "alice, ssh host cmd" "$out"
	out=$(ssh -tt -p "$port" alice@127.0.0.1 bash -lic env 2>/dev/null </dev/null | tr -d '\r') ||
		fail "ssh -tt bash -lic env failed"
	session_env_ok "alice, login shell" "$out"

	# HF_TOKEN looks like a secret: not in the world-readable file.
	gid=$(awk -F: '$1 == "alice" { print $4 }' "$E2E_ROOT/etc/passwd")
	run -0 stat -c '%a %u %g' "$E2E_ROOT/etc/profile.d/sshboot-env-secrets.sh"
	assert_output "640 0 $gid"
	run -0 stat -c '%a' "$E2E_ROOT/etc/profile.d/sshboot-env.sh"
	assert_output 644
	run -0 stat -c '%a' "$E2E_ROOT/etc/sshboot/sshd_config"
	assert_output 600
	run grep -F "$TOKEN" "$E2E_ROOT/etc/profile.d/sshboot-env.sh"
	assert_failure

	blob=$(cut -d' ' -f2 "$CLIENT_PUB")
	exported_files_clean "$blob"
}

@test "a value with a line break is skipped with a warning that names the variable, not the value" {
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" MULTI=$'first\nhidden-second-line' KEPT=yes
	run -0 grep -E 'MULTI.*line break' "$E2E_ERR"
	run grep -rF hidden-second-line "$E2E_ERR" "$E2E_OUT" "$E2E_ROOT/etc/profile.d" "$E2E_ROOT/etc/sshboot"
	assert_failure
	run -0 ssh_root "$port" 'echo "${MULTI-unset} $KEPT"'
	assert_output "unset yes"
}

@test "the files are rewritten on every start and SSHBOOT_ENV_EXCLUDE/INCLUDE adjust them" {
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" TZ=Etc/UTC HF_TOKEN="$TOKEN"
	[[ -e $E2E_ROOT/etc/profile.d/sshboot-env-secrets.sh ]] || fail "no secrets file"
	sshboot_stop

	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" TZ=Europe/Paris \
		LD_LIBRARY_PATH=/x SSHBOOT_ENV_EXCLUDE='LD_*'
	run -0 grep -c '^export TZ=' "$E2E_ROOT/etc/profile.d/sshboot-env.sh"
	assert_output 1
	run -0 grep '^export TZ=' "$E2E_ROOT/etc/profile.d/sshboot-env.sh"
	assert_output "export TZ='Europe/Paris'"
	[[ ! -e $E2E_ROOT/etc/profile.d/sshboot-env-secrets.sh ]] || fail "stale secrets file kept"
	sshboot_stop

	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" MAIL=/var/mail/x SSHBOOT_ENV_INCLUDE='MAIL'
	run -0 ssh_root "$port" 'echo "${TZ-none} ${HF_TOKEN-none} ${LD_LIBRARY_PATH-none} $MAIL ${SSHBOOT_ENV_INCLUDE-none}"'
	assert_output "none none none /var/mail/x none"
}

@test "another account with its own key gets the harmless variables but not the login user's HF_TOKEN or DATABASE_URL" {
	root_prepare
	root_exec -- /usr/sbin/useradd -m -s /bin/bash alice >/dev/null
	local port out err bob_key db='postgres://app:Pg-e2e-pw@db.internal/app'
	bob_key=$(add_account_with_key bob)
	port=$(free_port)
	start_runpod "$port" SSH_USER=alice SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" "${CONTAINER_ENV[@]}" \
		DATABASE_URL="$db" MODEL_NAME=llama-e2e

	out=$(ssh_as "$bob_key" bob "$port" env) || fail "bob could not log in"
	grep -qxF "RUNPOD_POD_ID=pod-e2e-1" <<<"$out" || fail "bob: no RUNPOD_POD_ID in:"$'\n'"$out"
	grep -qE '^PATH=(.*:)?/usr/local/cuda/bin(:|$)' <<<"$out" || fail "bob: no CUDA in PATH"
	local v
	for v in "$TOKEN" "$db" llama-e2e "$TRICKY"; do
		! grep -qF -- "$v" <<<"$out" || fail "bob's session got ${v:0:12}...:"$'\n'"$out"
	done
	# A login shell: nothing restricted, and no "Permission denied" from
	# profile files bob may not read.
	err=$BATS_TEST_TMPDIR/bob.err
	out=$(ssh_as "$bob_key" bob "$port" bash -lc env 2>"$err") || fail "bob: bash -lc env failed"
	for v in "$TOKEN" "$db" llama-e2e; do
		! grep -qF -- "$v" <<<"$out" || fail "bob's login shell got ${v:0:12}..."
	done
	grep -qxF "RUNPOD_POD_ID=pod-e2e-1" <<<"$out" || fail "bob's login shell: no RUNPOD_POD_ID"
	! grep -qi 'denied' "$err" || fail "bob's login shell printed:"$'\n'"$(cat "$err")"

	# sshd's config names the login user in a Match block, last in the file.
	run -0 grep -vE '^[[:space:]]*(#|$)' "$E2E_ROOT/etc/sshboot/sshd_config"
	[[ ${lines[-2]} == "Match User alice" ]] || fail "no Match block last:"$'\n'"$output"

	# The login user still gets everything, in both kinds of session.
	out=$(ssh -p "$port" alice@127.0.0.1 env) || fail "alice: ssh env failed"
	session_env_ok "alice, ssh host cmd" "$out"
	grep -qxF "DATABASE_URL=$db" <<<"$out" || fail "alice: no DATABASE_URL"
	grep -qxF "MODEL_NAME=llama-e2e" <<<"$out" || fail "alice: no MODEL_NAME"
	out=$(ssh -p "$port" alice@127.0.0.1 bash -lc env 2>/dev/null) || fail "alice: bash -lc env failed"
	session_env_ok "alice, login shell" "$out"
}
