#!/usr/bin/env bats
# The connect block as a user meets it: the platform port variables for any
# SSH_PORT, the host identity when no external endpoint is known, the README's
# sample, and the one-paste setup command for the laptop.

load test_helper

setup_file() { e2e_setup_file; }
setup() { e2e_setup; }
teardown() { e2e_teardown; }

# The SHA256 fingerprint of the ed25519 host key served on PORT.
served_fingerprint() {
	local scan
	scan=$(ssh-keyscan -T 5 -t ed25519 -p "$1" 127.0.0.1 2>/dev/null) || fail "ssh-keyscan failed on port $1"
	[[ -n $scan ]] || fail "ssh-keyscan saw no ed25519 key on port $1"
	ssh-keygen -l -f - <<<"$scan" | awk '{ print $2 }'
}

# block_of FILE: the connect block in FILE, from its first ==== line to the
# next.
block_of() {
	awk '/^=+$/ { n++; print; if (n == 2) exit; next } n == 1 { print }' "$1"
}

# line_shapes: stdin with every value replaced by a name, so that two blocks
# of different containers compare equal when they have the same lines. The
# values are read from the block itself: USER, HOST and PORT from the connect
# command, ALIAS from the Host line, DIR from the scp line.
line_shapes() {
	local text user host port alias dir
	text=$(cat)
	read -r user host port < <(sed -nE 's/^ *ssh ([^ @]+)@([^ ]+) -p ([0-9]+)$/\1 \2 \3/p' <<<"$text" | head -n 1)
	alias=$(sed -nE 's/^ *Host ([^ ]+)$/\1/p' <<<"$text" | head -n 1)
	dir=$(sed -nE 's/^ *scp -P [0-9]+ [^ ]+ [^ ]+:([^ ]+)$/\1/p' <<<"$text" | head -n 1)
	[[ -n $user && -n $host && -n $port && -n $alias && -n $dir ]] ||
		fail "cannot read user, host, port, alias and directory from:$(printf '\n%s' "$text")"
	# Longest values first; then the key material.
	awk -v user="$user" -v host="$host" -v port="$port" -v alias="$alias" -v dir="$dir" '
		function sub_all(s, from, to,   out, i) {
			out = ""
			while ((i = index(s, from)) > 0) { out = out substr(s, 1, i - 1) to; s = substr(s, i + length(from)) }
			return out s
		}
		{
			s = $0
			gsub(/SHA256:[^ ]+/, "{FP}", s)
			gsub(/AAAA[A-Za-z0-9+\/=.]+/, "{KEY}", s)
			s = sub_all(s, ":" dir, ":{DIR}")
			s = sub_all(s, host, "{HOST}")
			s = sub_all(s, alias, "{ALIAS}")
			s = sub_all(s, user "@", "{USER}@")
			s = sub_all(s, "User " user, "User {USER}")
			s = sub_all(s, "for " user, "for {USER}")
			s = sub_all(s, port, "{PORT}")
			print s
		}' <<<"$text"
}

# paste_command FILE: the one-paste setup command in FILE's connect block,
# verbatim: from the line starting with `sh -c '` to the line ending in `'`.
paste_command() {
	local cmd
	cmd=$(awk '/^ *sh -c \047/ { on = 1 } on { print } on && /\047$/ { exit }' "$1")
	[[ -n $cmd ]] || fail "no one-paste command in the connect block$(_e2e_dump)"
	printf '%s\n' "$cmd"
}

@test "with SSH_PORT other than 22, RUNPOD_TCP_PORT_<SSH_PORT> gives the endpoint and the printed command logs in" {
	local port
	port=$(free_port)
	sshboot_start SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 "RUNPOD_TCP_PORT_$port=$port" \
		SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	wait_for_connect_block
	assert_equal "$(connect_command)" "ssh root@127.0.0.1 -p $port"
	run grep -F 'are missing' "$E2E_OUT" "$E2E_ERR"
	assert_failure
	run eval "$(connect_command) echo in"
	assert_success
	assert_output in
}

@test "with SSH_PORT other than 22, vast.ai's VAST_TCP_PORT_<SSH_PORT> gives the endpoint" {
	local port
	port=$(free_port)
	sshboot_start SSH_PORT="$port" PUBLIC_IPADDR=127.0.0.1 "VAST_TCP_PORT_$port=$port" \
		SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	wait_for_connect_block
	assert_equal "$(connect_command)" "ssh root@127.0.0.1 -p $port"
	run eval "$(connect_command) echo in"
	assert_success
	assert_output in
}

@test "RUNPOD_TCP_PORT_22 still gives the endpoint when SSH_PORT is another port" {
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	assert_equal "$(connect_command)" "ssh root@127.0.0.1 -p $port"
}

@test "with a public IP but no port variable, the message names RUNPOD_TCP_PORT_<SSH_PORT> and keeps the contract line" {
	local port
	port=$(free_port)
	sshboot_start SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	wait_for_output 'RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing'
	wait_for_port "$port"
	grep -q "RUNPOD_TCP_PORT_$port" "$E2E_OUT" || fail "the message does not name RUNPOD_TCP_PORT_$port$(_e2e_dump)"
}

@test "without an external endpoint, stdout still shows the host key fingerprint and a known_hosts line that verifies the host" {
	local port fp line name
	port=$(free_port)
	sshboot_start SSH_PORT="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	wait_for_output 'RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing'
	wait_for_port "$port"
	fp=$(served_fingerprint "$port")
	wait_for_output "^ *256 ${fp//+/\\+} \\(ED25519\\)$"
	grep -qE "^ *256 ${fp//+/\\+} \(ED25519\)$" "$E2E_OUT" || fail "the fingerprint is not on stdout$(_e2e_dump)"
	# The known_hosts line names the in-container address and port.
	line=$(grep -E -m 1 "^ *\\[[^]]+\\]:$port ssh-ed25519 AAAA" "$E2E_OUT") ||
		fail "no known_hosts line for port $port on stdout$(_e2e_dump)"
	line=${line#"${line%%[! ]*}"}
	name=${line%% *}
	printf '%s\n' "$line" >"$BATS_TEST_TMPDIR/known_hosts"
	# Reached another way (here: loopback), the key is checked under that name.
	run ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$BATS_TEST_TMPDIR/known_hosts" \
		-o HostKeyAlias="$name" -p "$port" root@127.0.0.1 echo verified
	assert_success
	assert_output verified
	# No line pretends to be the command that connects from outside.
	run grep -E -- "$E2E_CONNECT_RE" "$E2E_OUT"
	assert_failure
}

@test "the README's sample connect block has the lines sshboot prints" {
	local port readme
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" RUNPOD_POD_ID=e2epod
	readme=$(awk '/^## What it prints/ { on = 1 } on && /^```$/ { n++; next } on && n == 1 { print } n == 2 { exit }' "$E2E_REPO/README.md")
	[[ -n $readme ]] || fail "no sample block under '## What it prints' in README.md"
	diff -u <(line_shapes <<<"$readme") <(block_of "$E2E_OUT" | line_shapes) ||
		fail "README.md's sample block (-) differs from the printed one (+) in the lines above"
}

@test "the one-paste command installs the config block and known_hosts line once, and ssh <alias> connects with strict host checking" {
	local port cmd alias home
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" RUNPOD_POD_ID=e2epod
	cmd=$(paste_command "$E2E_OUT")
	alias=$(sed -nE 's/^ *Host ([^ ]+)$/\1/p' "$E2E_OUT" | head -n 1)
	assert_equal "$alias" e2epod
	# POSIX sh only: shellcheck the script inside sh -c '...'.
	if command -v shellcheck >/dev/null; then
		local inner=${cmd#*"sh -c '"}
		printf '%s\n' "${inner%"'"}" >"$BATS_TEST_TMPDIR/inner.sh"
		run shellcheck -s sh -e SC2016 "$BATS_TEST_TMPDIR/inner.sh"
		assert_success
	fi
	home=$BATS_TEST_TMPDIR/laptop
	mkdir -p "$home"
	HOME=$home sh -c "$cmd"
	[[ $(stat -c %a "$home/.ssh") == 700 ]] || fail "~/.ssh is not 0700"
	HOME=$home sh -c "$cmd"
	# Pasted into bash (as a user's interactive shell would run it) too.
	HOME=$home bash -c "$cmd" >/dev/null
	[[ $(grep -c "^Host $alias\$" "$home/.ssh/config") == 1 ]] || fail "the Host block is there twice: $(cat "$home/.ssh/config")"
	[[ $(grep -c "^$alias ssh-ed25519 " "$home/.ssh/known_hosts") == 1 ]] || fail "the known_hosts line is there twice"
	run /usr/bin/ssh -F "$home/.ssh/config" -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile="$home/.ssh/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o BatchMode=yes -o ConnectTimeout=5 -i "$CLIENT_KEY" -o IdentitiesOnly=yes "$alias" echo via-alias
	assert_success
	assert_output via-alias
}

@test "the one-paste command keeps the user's own config and known_hosts, and replaces an older entry for the alias" {
	local port cmd home
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" RUNPOD_POD_ID=e2epod
	cmd=$(paste_command "$E2E_OUT")
	home=$BATS_TEST_TMPDIR/laptop
	mkdir -p "$home/.ssh"
	chmod 0755 "$home/.ssh"
	cat >"$home/.ssh/config" <<-EOF
		Include $home/.ssh/config.d/*
		AddKeysToAgent yes

		Host work
		    HostName work.example.org

		Host *
		    User nobody
	EOF
	cp "$home/.ssh/config" "$BATS_TEST_TMPDIR/config.before"
	printf '%s\n' 'work.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther' \
		'e2epod ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld' >"$home/.ssh/known_hosts"
	HOME=$home sh -c "$cmd"
	HOME=$home sh -c "$cmd"
	# ~/.ssh existed: its mode is the user's.
	[[ $(stat -c %a "$home/.ssh") == 755 ]]
	# Every line of the user's config is still there, in order; the alias's
	# block comes before the first Host line, after the global lines.
	diff <(grep -v -e '^# .* sshboot e2epod ' "$home/.ssh/config" |
		awk '/^Host e2epod$/ { skip = 1; next } skip && /^ / { next } { skip = 0; print }') \
		"$BATS_TEST_TMPDIR/config.before"
	[[ $(grep -n '^Host ' "$home/.ssh/config" | head -n 1) == *"Host e2epod" ]] ||
		fail "the block is not the first Host section: $(cat "$home/.ssh/config")"
	grep -q '^AddKeysToAgent yes$' "$home/.ssh/config"
	grep -qx 'work.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther' "$home/.ssh/known_hosts"
	run grep -F 'AAAAC3NzaC1lZDI1NTE5AAAAIOld' "$home/.ssh/known_hosts"
	assert_failure
	[[ $(grep -c '^e2epod ' "$home/.ssh/known_hosts") == 1 ]]
	# The catch-all User comes after the block: the block's User wins.
	run /usr/bin/ssh -F "$home/.ssh/config" -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile="$home/.ssh/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o BatchMode=yes -o ConnectTimeout=5 -i "$CLIENT_KEY" -o IdentitiesOnly=yes e2epod id -un
	assert_success
	assert_output root
}
