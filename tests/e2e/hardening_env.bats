#!/usr/bin/env bats
# What of the container's environment reaches SSH sessions, and how, when the
# environment is hostile or just unusual: credentials recognised by their
# value, escape bytes in values sshboot echoes, a huge environment, and
# sshboot's own settings kept out of sessions.
# shellcheck disable=SC2016 # commands for the remote shell and perl are single-quoted

load test_helper

setup_file() { e2e_setup_file; }
setup() { e2e_setup; }
teardown() { e2e_teardown; }

PLAIN_FILE=etc/profile.d/sshboot-env.sh
SECRET_FILE=etc/profile.d/sshboot-env-secrets.sh

# in_container COMMAND [ARG...]: run COMMAND inside the running container with
# a clean environment, as `docker exec` would.
in_container() {
	root_nsexec -- "$@" </dev/null
}

# refute_in_file FILE TEXT: FILE (in the root) does not hold TEXT.
refute_in_file() {
	! grep -qF -- "$2" "$E2E_ROOT/$1" || fail "$1 holds ${2:0:20}...:"$'\n'"$(cat "$E2E_ROOT/$1")"
}

# assert_in_file FILE TEXT: FILE (in the root) holds TEXT.
assert_in_file() {
	grep -qF -- "$2" "$E2E_ROOT/$1" || fail "$1 lacks ${2:0:20}...:"$'\n'"$(cat "$E2E_ROOT/$1" 2>&1)"
}

# refute_terminal_controls: no ESC, BEL or other C0 control byte (but tab,
# newline and the carriage return sshd -e ends its own lines with) in stdout
# or stderr.
refute_terminal_controls() {
	local f
	for f in "$E2E_OUT" "$E2E_ERR"; do
		if LC_ALL=C grep -qP '[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]' "$f"; then
			fail "control bytes in $f:"$'\n'"$(cat -v "$f")"
		fi
	done
}

@test "values that carry credentials are secrets: only root and SSH_USER can read them, sessions still get them" {
	local port out db='postgres://app:Pg-pa55-e2e@db.internal:5432/app'
	local dsn='https://k3ydsn0e2e@o1.ingest.example/42'
	local conn='DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=QXp1cmVLZXllMmU='
	local giturl='https://ghp_e2eGitTok3n@github.com/o/r.git'
	local redis='redis://:R3dis-e2e-pw@cache:6379/0'
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" DATABASE_URL="$db" SENTRY_DSN="$dsn" \
		AZURE_STORAGE_CONNECTION_STRING="$conn" GIT_REMOTE_URL="$giturl" CACHE_ADDR="$redis" \
		CONDA_CHANNEL_URL=https://example.com/conda

	local v
	for v in "$db" "$dsn" "$conn" "$giturl" "$redis"; do
		refute_in_file "$PLAIN_FILE" "$v"
		assert_in_file "$SECRET_FILE" "$v"
		! grep -qF -- "$v" "$E2E_OUT" "$E2E_ERR" || fail "a credential reached sshboot's output"
	done
	# An allowlisted name whose value carries no credential is world-readable.
	assert_in_file "$PLAIN_FILE" "export CONDA_CHANNEL_URL='https://example.com/conda'"
	run -0 stat -c '%a %u %g' "$E2E_ROOT/$SECRET_FILE"
	assert_output "640 0 0"
	run -0 stat -c '%a' "$E2E_ROOT/etc/sshboot/sshd_config"
	assert_output 600

	out=$(ssh_root "$port" env) || fail "ssh env failed"
	grep -qxF "DATABASE_URL=$db" <<<"$out" || fail "no DATABASE_URL in the session"
	grep -qxF "CACHE_ADDR=$redis" <<<"$out" || fail "no CACHE_ADDR in the session"
	grep -qxF "CONDA_CHANNEL_URL=https://example.com/conda" <<<"$out" || fail "no CONDA_CHANNEL_URL in the session"

	# Another account in the container reads neither the secret file nor
	# sshd's config.
	root_exec -- /usr/sbin/useradd -M -s /bin/sh mallory >/dev/null
	run in_container /usr/sbin/runuser -u mallory -- /bin/cat "/$SECRET_FILE" /etc/sshboot/sshd_config
	assert_failure
	refute_output --partial "Pg-pa55-e2e"
}

@test "credentials the old denylist missed reach only the login user: no world-readable file, no other account" {
	root_prepare
	root_exec -- /usr/sbin/useradd -m -s /bin/bash alice >/dev/null
	local port out err bob_key name v
	bob_key=$(add_account_with_key bob)
	local -A vars=(
		[MYSQL_PWD]=My-e2e-pwd-1
		[DB_PASS]=Db-e2e-pass-2
		[SMTP_PASS]=Smtp-e2e-pass-3
		[GPG_PASSPHRASE]='correct e2e horse 4'
		[GIT_HELPER_TOKEN_VALUE]=ghp_e2eAbcdefghijklmnopqrstuvwxyz0123
		[SESSION_JWT]=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlMmUtdXNlciJ9.e2eSignaturePartXYZ
		[API_HEADER]='Bearer e2eBearerTok3n567'
		[CONDA_CHANNEL]='https://b.s3.amazonaws.com/pkg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=e2e5ig0123abcd'
		[NVIDIA_NOTIFY]=https://hooks.slack.com/services/T0E2E/B0E2E/e2eSlackHookSecret
		[AWS_CONFIG_LINE]='aws_secret_access_key=e2eAwsSecretValue8'
	)
	local env=()
	for name in "${!vars[@]}"; do
		env+=("$name=${vars[$name]}")
	done
	port=$(free_port)
	start_runpod "$port" SSH_USER=alice SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" "${env[@]}" \
		RUNPOD_POD_ID=pod-e2e-3 HF_HOME=/workspace/hf

	# No world-readable file holds them: every file another account can read.
	run in_container /usr/sbin/runuser -u bob -- /bin/grep -rlsF \
		-e "${vars[MYSQL_PWD]}" -e "${vars[DB_PASS]}" -e "${vars[SMTP_PASS]}" \
		-e "${vars[GPG_PASSPHRASE]}" -e "${vars[GIT_HELPER_TOKEN_VALUE]}" -e "${vars[SESSION_JWT]}" \
		-e "${vars[API_HEADER]}" -e "${vars[CONDA_CHANNEL]}" -e "${vars[NVIDIA_NOTIFY]}" \
		-e "${vars[AWS_CONFIG_LINE]}" /etc /run /var /home /tmp /root
	[[ $status -ne 0 && -z $output ]] || fail "another account reads them in: $output"
	for v in "${vars[@]}"; do
		refute_in_file "$PLAIN_FILE" "$v"
	done
	assert_in_file "$PLAIN_FILE" "export HF_HOME='/workspace/hf'"
	# Nor does sshboot's output.
	for v in "${vars[@]}"; do
		! grep -qF -- "$v" "$E2E_OUT" "$E2E_ERR" || fail "${v:0:12}... reached sshboot's output"
	done

	# Another account's sessions do not get them.
	out=$(ssh_as "$bob_key" bob "$port" env) || fail "bob could not log in"
	err=$BATS_TEST_TMPDIR/bob.err
	out+=$(ssh_as "$bob_key" bob "$port" bash -lc env 2>"$err") || fail "bob: bash -lc env failed"
	for v in "${vars[@]}"; do
		! grep -qF -- "$v" <<<"$out" || fail "bob's session got ${v:0:12}..."
	done
	grep -qxF "RUNPOD_POD_ID=pod-e2e-3" <<<"$out" || fail "bob: no RUNPOD_POD_ID"
	! grep -qi denied "$err" || fail "bob's login shell printed:"$'\n'"$(cat "$err")"

	# The login user's sessions get every one, exact.
	out=$(ssh -p "$port" alice@127.0.0.1 env) || fail "alice: ssh env failed"
	out+=$'\n'$(ssh -p "$port" alice@127.0.0.1 bash -lc env 2>/dev/null) || fail "alice: bash -lc failed"
	for name in "${!vars[@]}"; do
		[[ $(grep -cxF -- "$name=${vars[$name]}" <<<"$out") -eq 2 ]] ||
			fail "alice lacks $name in one of her sessions"
	done
}

@test "escape bytes in SSH_HOST_KEY_TYPES are shown escaped, never sent raw to the terminal" {
	sshboot_start SSH_PORT="$(free_port)" SSH_HOST_KEY_TYPES=$'ed25519,\e]0;owned\a\e[2J'
	sshboot_wait_exit
	[[ $E2E_STATUS == 2 ]] || fail "exit status $E2E_STATUS, expected 2$(_e2e_dump)"
	run -0 grep -F 'SSH_HOST_KEY_TYPES' "$E2E_ERR"
	assert_output --partial '\x1b]0;owned\x07\x1b[2J'
	refute_terminal_controls
}

@test "escape bytes in a variable name and a key file path are shown escaped, and SSH still starts" {
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" $'BAD\e[2JNAME=1' \
		PUBLIC_KEY_FILE=$'/nowhere/\e]0;owned\a' KEPT=yes
	refute_terminal_controls
	run -0 grep -F 'BAD\x1b[2JNAME' "$E2E_ERR"
	run -0 ssh_root "$port" 'echo "$KEPT"'
	assert_output yes

	sshboot_stop
	start_runpod "$port" PUBLIC_KEY_FILE=$'/nowhere/\e]0;owned\a'
	refute_terminal_controls
	run -0 grep -F 'PUBLIC_KEY_FILE' "$E2E_ERR"
	assert_output --partial '\x1b]0;owned\x07'
}

@test "doctor and sshboot password show escape bytes in what they were given escaped" {
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run root_nsexec SSH_USER=$'nobody\e]0;owned\a' -- /usr/local/bin/sshboot doctor </dev/null
	assert_failure
	assert_output --partial 'nobody\x1b]0;owned\x07'
	if LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]' <<<"$output"; then
		fail "control bytes in doctor's output: $(cat -v <<<"$output")"
	fi
	run --separate-stderr root_nsexec -- /usr/local/bin/sshboot password --user $'x\e[2J' </dev/null
	# shellcheck disable=SC2154 # set by run --separate-stderr
	[[ $status == 2 ]] || fail "status $status: $stderr"
	[[ $stderr == *'x\x1b[2J'* ]] || fail "not escaped: $(cat -v <<<"$stderr")"
	if LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]' <<<"$stderr"; then
		fail "control bytes in sshboot password's errors: $(cat -v <<<"$stderr")"
	fi
}

# install_bulk_env: tests/e2e/helpers/bulk_env.c, built static, as
# /usr/local/bin/bulk_env in the root.
install_bulk_env() {
	local bin=$BATS_FILE_TMPDIR/bulk_env
	if [[ ! -x $bin ]]; then
		command -v cc >/dev/null || e2e_fail_or_skip "needs cc to build the environment generator"
		cc -static -O2 -o "$bin" "$BATS_TEST_DIRNAME/helpers/bulk_env.c" || fail "cannot build bulk_env"
	fi
	install_sshboot
	install -m 0755 "$bin" "$E2E_ROOT/usr/local/bin/bulk_env"
}

@test "a 100,000-variable environment: sshd is up in normal time, the left-out variables are named, the rest reach sessions" {
	local port start elapsed
	port=$(free_port)
	install_bulk_env
	start=$SECONDS
	# bulk_env adds E00000=v ... E99999=v and execs sshboot, which stays PID 1.
	root_start SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 RUNPOD_TCP_PORT_22="$port" \
		SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" MY_APP_SETTING=hello -- \
		/usr/local/bin/bulk_env 100000 /usr/local/bin/sshboot
	# The standard ready timeout is 15 s; a normal start takes well under 2 s.
	wait_for_connect_block 15
	elapsed=$((SECONDS - start))
	refute_terminal_controls
	run grep -F 'not listening' "$E2E_ERR"
	assert_failure
	run -0 grep -E 'not passed to SSH sessions.*E[0-9]{5}.*SSHBOOT_ENV_INCLUDE' "$E2E_ERR"
	# One warning line for the many left out, not one line each.
	(($(wc -l <"$E2E_ERR") < 50)) || fail "$(wc -l <"$E2E_ERR") lines on stderr"

	run -0 ssh_root "$port" 'echo "$MY_APP_SETTING ${PATH%%:*} $(env | grep -c "^E[0-9]")"'
	[[ $output =~ ^"hello /usr/local/sbin "([0-9]+)$ ]] || fail "session says: $output"
	((BASH_REMATCH[1] > 0 && BASH_REMATCH[1] <= 800)) || fail "${BASH_REMATCH[1]} bulk variables in the session"
	echo "# connect block after ${elapsed}s" >&3
}

@test "a value over 64 KiB is left out with a warning, and SSHBOOT_ENV_INCLUDE brings it in" {
	local port
	port=$(free_port)
	install_sshboot
	root_start SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 RUNPOD_TCP_PORT_22="$port" \
		SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" -- \
		/usr/bin/perl -e '$ENV{BIG_VALUE} = "x" x (120 * 1024); exec "/usr/local/bin/sshboot" or die'
	wait_for_connect_block 15
	run -0 grep -E 'BIG_VALUE.*not passed to SSH sessions.*SSHBOOT_ENV_INCLUDE' "$E2E_ERR"
	run -0 ssh_root "$port" 'echo "${#BIG_VALUE}"'
	assert_output 0
	sshboot_stop

	root_start SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 RUNPOD_TCP_PORT_22="$port" \
		SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" SSHBOOT_ENV_INCLUDE=BIG_VALUE -- \
		/usr/bin/perl -e '$ENV{BIG_VALUE} = "x" x (120 * 1024); exec "/usr/local/bin/sshboot" or die'
	wait_for_connect_block 15
	run grep -F 'BIG_VALUE' "$E2E_ERR"
	assert_failure
	run -0 ssh_root "$port" 'echo "${#BIG_VALUE}"'
	assert_output $((120 * 1024))
}

@test "sshboot's own settings are withheld, secrets restricted, everything else plain" {
	local port out token=hf_e2eOwnSettingsTok
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" SSH_USER=root SSH_PUBLIC_HOST=127.0.0.1 \
		SSH_PUBLIC_PORT="$port" SSH_HOST_KEY_TYPES=ed25519 SSH_SUDO=0 SSHBOOT_STOP_TIMEOUT=5 \
		HF_HOME=/workspace/hf HF_TOKEN="$token" RUNPOD_API_KEY=rpa_e2eKey \
		AWS_SECRET_ACCESS_KEY=e2eAwsSecret OPENAI_API_KEY=sk-e2eOpenAi RUNPOD_POD_ID=pod-e2e

	out=$(ssh_root "$port" env) || fail "ssh env failed"
	local name
	for name in SSH_PORT SSH_PUBLIC_HOST SSH_PUBLIC_PORT SSH_USER SSH_HOST_KEY_TYPES SSH_SUDO \
		SSHBOOT_STOP_TIMEOUT SSH_PUBLIC_KEY; do
		! grep -q "^$name=" <<<"$out" || fail "$name reached the session"
		refute_in_file "$PLAIN_FILE" "export $name="
		refute_in_file "$SECRET_FILE" "export $name="
	done
	for name in HF_HOME HF_TOKEN RUNPOD_API_KEY AWS_SECRET_ACCESS_KEY OPENAI_API_KEY RUNPOD_POD_ID; do
		grep -q "^$name=" <<<"$out" || fail "$name did not reach the session"
	done
	assert_in_file "$PLAIN_FILE" "export HF_HOME='/workspace/hf'"
	assert_in_file "$PLAIN_FILE" "export RUNPOD_POD_ID="
	refute_in_file "$SECRET_FILE" "HF_HOME"
	for name in HF_TOKEN RUNPOD_API_KEY AWS_SECRET_ACCESS_KEY OPENAI_API_KEY; do
		assert_in_file "$SECRET_FILE" "export $name="
		refute_in_file "$PLAIN_FILE" "export $name="
	done
}

@test "doctor --session-env lists what sessions see by name, never a value" {
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" HF_HOME=/workspace/hf \
		HF_TOKEN=hf_e2eDoctorTok DATABASE_URL='postgres://u:Doct0r-pw@h/db' SSH_PUBLIC_HOST=127.0.0.1

	run -0 in_container /usr/local/bin/sshboot doctor --session-env
	refute_output --partial hf_e2eDoctorTok
	refute_output --partial Doct0r-pw
	refute_output --partial /workspace/hf
	# Sections in a fixed order: plain, restricted, withheld.
	local plain restricted withheld
	plain=$(sed -n '/^plain/,/^restricted/p' <<<"$output")
	restricted=$(sed -n '/^restricted/,/^withheld/p' <<<"$output")
	withheld=$(sed -n '/^withheld/,$p' <<<"$output")
	grep -qx '  HF_HOME' <<<"$plain" || fail "HF_HOME not plain:"$'\n'"$output"
	grep -qx '  PATH' <<<"$plain" || fail "PATH not plain:"$'\n'"$output"
	grep -qx '  HF_TOKEN' <<<"$restricted" || fail "HF_TOKEN not restricted:"$'\n'"$output"
	grep -qx '  DATABASE_URL' <<<"$restricted" || fail "DATABASE_URL not restricted:"$'\n'"$output"
	grep -qx '  SSH_PUBLIC_HOST' <<<"$withheld" || fail "SSH_PUBLIC_HOST not withheld:"$'\n'"$output"
	grep -qF 'SSH_PUBLIC_KEY*' <<<"$withheld" || fail "SSH_PUBLIC_KEY not withheld:"$'\n'"$output"

	# The same as a non-root user, who cannot read the restricted file.
	root_exec -- /usr/sbin/useradd -M -s /bin/sh mallory >/dev/null
	run -0 in_container /usr/sbin/runuser -u mallory -- /usr/local/bin/sshboot doctor --session-env
	assert_output --partial '  HF_TOKEN'
	refute_output --partial hf_e2eDoctorTok
}

@test "shell metacharacters in the external host or port are refused with exit 2, before anything is printed" {
	local port bad
	port=$(free_port)
	for bad in 'SSH_PUBLIC_HOST=1.2.3.4;touch${IFS}/tmp/pwn' 'SSH_PUBLIC_HOST=$(touch /tmp/pwn)' \
		'RUNPOD_PUBLIC_IP=127.0.0.1`touch /tmp/pwn`' 'SSH_PUBLIC_PORT=22;touch /tmp/pwn' \
		'RUNPOD_TCP_PORT_22=22 -oProxyCommand=touch'; do
		sshboot_start SSH_PORT="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" RUNPOD_PUBLIC_IP=127.0.0.1 \
			RUNPOD_TCP_PORT_22="$port" "$bad"
		sshboot_wait_exit
		[[ $E2E_STATUS -eq 2 ]] || fail "$bad: exit $E2E_STATUS, not 2$(_e2e_dump)"
		grep -qF "${bad%%=*}=" "$E2E_ERR" || fail "$bad: the message does not name the variable$(_e2e_dump)"
		grep -qE 'not a (host name|TCP port)' "$E2E_ERR" || fail "$bad: no reason given$(_e2e_dump)"
		! grep -qE '^ *(ssh|scp|rsync) ' "$E2E_OUT" || fail "$bad: a command was printed$(_e2e_dump)"
		[[ ! -e $E2E_ROOT/tmp/pwn ]] || fail "$bad: /tmp/pwn exists"
	done
	# A DNS name is fine.
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" SSH_PUBLIC_HOST=gpu-1.example.org
	grep -qE '^ *ssh root@gpu-1\.example\.org -p [0-9]+$' "$E2E_OUT" || fail "no connect line$(_e2e_dump)"
}
