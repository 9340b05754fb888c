#!/usr/bin/env bats
# A stable host identity: keys persist on the /workspace volume (copied to a
# private runtime directory when the volume cannot hold 0600 files); the
# printed ~/.ssh/config block and known_hosts line give strict host checking
# with no prompt.

load test_helper

setup_file() { e2e_setup_file; }
setup() {
	e2e_setup
	VOLUME=$BATS_TEST_TMPDIR/volume
	VOLUME_MOUNTS=()
}
teardown() {
	sshboot_stop || true
	unmount_volume
	e2e_teardown
}

# The SHA256 fingerprint of the ed25519 host key served on PORT.
served_fingerprint() {
	local scan
	scan=$(ssh-keyscan -t ed25519 -p "$1" 127.0.0.1 2>/dev/null) || fail "ssh-keyscan failed"
	ssh-keygen -l -f - <<<"$scan" | awk '{ print $2 }'
}

# mount_volume KIND: mount $VOLUME (a directory, or a FAT image) at /workspace
# in the root, as a container runtime mounts a volume. KIND: bind (a plain
# directory), nochmod (bindfs: every file shows readable by all and chmod is
# ignored, like many network volumes; not writable by others, so sshboot may
# keep keys there), fat (a real FAT file system through FUSE: no chmod).
mount_volume() {
	root_prepare
	local target=$E2E_ROOT/workspace
	mkdir -p "$target"
	case $1 in
	bind)
		mkdir -p "$VOLUME"
		mount --bind "$VOLUME" "$target"
		;;
	nochmod)
		command -v bindfs >/dev/null || e2e_fail_or_skip "needs bindfs (apt-get install bindfs)"
		[[ -c /dev/fuse ]] || e2e_fail_or_skip "needs /dev/fuse"
		mkdir -p "$VOLUME"
		bindfs --perms=a+r --chmod-ignore "$VOLUME" "$target" || fail "bindfs failed"
		;;
	fat)
		if ! command -v fusefat >/dev/null || ! command -v mkfs.vfat >/dev/null; then
			e2e_fail_or_skip "needs fusefat and dosfstools (apt-get install fusefat dosfstools)"
		fi
		[[ -c /dev/fuse ]] || e2e_fail_or_skip "needs /dev/fuse"
		if [[ ! -e $VOLUME.img ]]; then
			truncate -s 16M "$VOLUME.img"
			mkfs.vfat "$VOLUME.img" >/dev/null
		fi
		fusefat -o rw+ "$VOLUME.img" "$target" >/dev/null || fail "fusefat failed"
		;;
	esac
	VOLUME_MOUNTS+=("$target")
}

unmount_volume() {
	local m
	for m in "${VOLUME_MOUNTS[@]}"; do
		mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	VOLUME_MOUNTS=()
}

# new_container: throw the root away (the container disk) and make a fresh
# one from the image; volumes stay.
new_container() {
	sshboot_stop
	unmount_volume
	e2e_teardown
	E2E_ROOT=
	root_prepare
}

@test "the host fingerprint survives a new container when /workspace is a volume" {
	local port fp
	port=$(free_port)
	mount_volume bind
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	fp=$(served_fingerprint "$port")
	[[ -f $VOLUME/.sshboot/ssh_host_ed25519_key ]] || fail "no key on the volume"

	new_container
	mount_volume bind
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	assert_equal "$(served_fingerprint "$port")" "$fp"
}

@test "a new host key is served at once from a private copy and saved in the state directory before the connect block" {
	local port fp key
	port=$(free_port)
	root_prepare
	key=$E2E_ROOT/var/lib/sshboot/ssh_host_ed25519_key
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run -0 grep -x 'HostKey /run/sshboot/hostkeys/ssh_host_ed25519_key' "$E2E_ROOT/etc/sshboot/sshd_config"
	# Saved (private, with its .pub) before the fingerprint was printed.
	run -0 stat -c '%a %u' "$key" "$key.pub"
	assert_line --index 0 '600 0'
	assert_line --index 1 '644 0'
	fp=$(served_fingerprint "$port")
	assert_equal "$(ssh-keygen -l -f "$key" | awk '{ print $2 }')" "$fp"
	run -0 grep -F "$fp" "$E2E_OUT"
	run -0 grep -F 'saved host key /var/lib/sshboot/ssh_host_ed25519_key' "$E2E_ERR"

	# The next start serves the saved key itself.
	sshboot_stop
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run -0 grep -x 'HostKey /var/lib/sshboot/ssh_host_ed25519_key' "$E2E_ROOT/etc/sshboot/sshd_config"
	assert_equal "$(served_fingerprint "$port")" "$fp"
}

@test "two fresh containers of one image have different host keys" {
	local port fp
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	fp=$(served_fingerprint "$port")
	new_container
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	[[ $(served_fingerprint "$port") != "$fp" ]] || fail "both containers serve $fp"
}

# volume_without_modes KIND: the keys on a volume that cannot hold 0600 files
# are served from copies in /run/sshboot/hostkeys and persist on the volume.
volume_without_modes() {
	local port fp
	port=$(free_port)
	mount_volume "$1"
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	run -0 grep -E 'cannot hold files only root can read.*/run/sshboot/hostkeys' "$E2E_ERR"
	run -0 ssh_root "$port" 'stat -c "%a %U" /run/sshboot/hostkeys /run/sshboot/hostkeys/ssh_host_ed25519_key'
	assert_output $'700 root\n600 root'
	run -0 ssh_root "$port" echo connected
	assert_output connected
	fp=$(served_fingerprint "$port")

	new_container
	mount_volume "$1"
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")"
	assert_equal "$(served_fingerprint "$port")" "$fp"
}

@test "on a volume where chmod is ignored, keys are served from a private copy and persist" {
	volume_without_modes nochmod
}

@test "on a FAT volume (no chmod at all), keys are served from a private copy and persist" {
	volume_without_modes fat
}

@test "the printed ~/.ssh/config block and known_hosts line connect under StrictHostKeyChecking yes" {
	local port alias dir=$BATS_TEST_TMPDIR
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" RUNPOD_POD_ID=e2epod42
	alias=$(grep -E -m 1 '^ *Host [^ ]+$' "$E2E_OUT" | awk '{ print $2 }')
	assert_equal "$alias" e2epod42
	awk -v alias="$alias" '
		$1 == "Host" && $2 == alias { on = 1; match($0, /^ */); indent = RLENGTH; print; next }
		on { match($0, /^ */); if (RLENGTH <= indent || NF == 0) exit; print }
	' "$E2E_OUT" >"$dir/config"
	grep -qE '^ +HostKeyAlias e2epod42$' "$dir/config" || fail "no HostKeyAlias in:$(cat "$dir/config")"
	grep -E -m 1 "^ *$alias ssh-ed25519 AAAA" "$E2E_OUT" | sed 's/^ *//' >"$dir/known_hosts"
	[[ -s $dir/known_hosts ]] || fail "no known_hosts line for the alias$(_e2e_dump)"
	cat >>"$dir/config" <<-EOF
		    StrictHostKeyChecking yes
		    UserKnownHostsFile $dir/known_hosts
		    GlobalKnownHostsFile /dev/null
		    BatchMode yes
		    IdentityFile $CLIENT_KEY
		    IdentitiesOnly yes
	EOF
	run -0 /usr/bin/ssh -F "$dir/config" "$alias" echo strict-ok
	assert_output strict-ok

	# The [host]:port line alone does not satisfy the alias: the lookup is by
	# alias, so a reused IP:port cannot vouch for this pod.
	grep -E -m 1 "^ *\\[127\\.0\\.0\\.1\\]:$port ssh-ed25519 AAAA" "$E2E_OUT" | sed 's/^ *//' >"$dir/known_hosts"
	[[ -s $dir/known_hosts ]] || fail "no [host]:port known_hosts line"
	run /usr/bin/ssh -F "$dir/config" "$alias" true
	assert_failure
}

@test "the config block is named after VAST_CONTAINERLABEL when there is no RUNPOD_POD_ID" {
	local port
	port=$(free_port)
	start_runpod "$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" VAST_CONTAINERLABEL=C.123456
	run -0 grep -E '^ *Host C\.123456$' "$E2E_OUT"
	run -0 grep -E '^ *C\.123456 ssh-ed25519 AAAA' "$E2E_OUT"
}
