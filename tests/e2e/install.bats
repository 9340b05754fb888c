#!/usr/bin/env bats
# The one-line installer, end to end: a release made by scripts/release.sh
# (signed with a throwaway minisign key, the tested binary packaged with
# --use-binary) served from a loopback HTTP server in the layout of the
# project's release downloads, and install.sh run in a Debian root that has
# curl, wget and minisign but no OpenSSH.

load test_helper

setup_file() {
	e2e_setup_file
	if _e2e_missing_requirement >/dev/null || ! command -v python3 >/dev/null || ! command -v minisign >/dev/null; then
		return 0
	fi
	# A root without openssh-server, with curl, wget and minisign: its own
	# cache, beside the shared one.
	local tar=$E2E_CACHE/root-install.tar base=$E2E_CACHE/rootfs-install
	sb_debian_root_tar "$tar" curl,ca-certificates,procps,passwd,minisign,wget
	(
		flock 9
		if [[ ! -e $base/.complete || $tar -nt $base/.complete ]]; then
			rm -rf "$base"
			mkdir -p "$base"
			tar -C "$base" --numeric-owner -xf "$tar"
			# As Docker's Debian images do: packages do not start services.
			printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
			chmod 0755 "$base/usr/sbin/policy-rc.d"
			touch "$base/.complete"
		fi
	) 9>"$E2E_CACHE/rootfs-install.lock"

	# The release, as GitHub serves it: <releases>/download/vX/FILE, and
	# <releases>/latest/download/FILE for the newest.
	VERSION=$(sed -nE 's/^project\(sshboot VERSION ([0-9.]+).*/\1/p' "$E2E_REPO/CMakeLists.txt")
	local www=$BATS_FILE_TMPDIR/www rel
	rel=$www/download/v$VERSION
	mkdir -p "$www/latest"
	minisign -G -W -p "$BATS_FILE_TMPDIR/minisign.pub" -s "$BATS_FILE_TMPDIR/minisign.key" </dev/null >/dev/null 2>&1
	SSHBOOT_MINISIGN_KEY=$BATS_FILE_TMPDIR/minisign.key bash "$E2E_REPO/scripts/release.sh" "$VERSION" \
		--arch x86_64 --use-binary "x86_64=$E2E_SSHBOOT" --out "$rel" \
		--work "$BATS_FILE_TMPDIR/release-work" >"$BATS_FILE_TMPDIR/release.log" 2>&1 </dev/null || {
		cat "$BATS_FILE_TMPDIR/release.log" >&2
		return 1
	}
	ln -s "../download/v$VERSION" "$www/latest/download"
	# An unsigned release: no key in its install.sh, no SHA256SUMS.minisig.
	bash "$E2E_REPO/scripts/release.sh" "$VERSION" --arch x86_64 --use-binary "x86_64=$E2E_SSHBOOT" \
		--out "$www/unsigned-release" --work "$BATS_FILE_TMPDIR/release-work-unsigned" \
		>"$BATS_FILE_TMPDIR/release-unsigned.log" 2>&1 </dev/null || {
		cat "$BATS_FILE_TMPDIR/release-unsigned.log" >&2
		return 1
	}
	# Copies of the signed release with one thing wrong each.
	local dir next
	next=$(next_version "$VERSION")
	for dir in tampered-binary tampered-sums stripped empty signed-older signed-next; do
		mkdir -p "$www/$dir"
		cp "$rel/install.sh" "$www/$dir/"
	done
	cp "$rel"/* "$www/tampered-binary/"
	printf 'x' >>"$www/tampered-binary/sshboot-linux-x86_64"
	cp "$www/tampered-binary"/* "$www/tampered-sums/"
	(cd "$www/tampered-sums" && sha256sum install.sh sshboot-linux-x86_64 >SHA256SUMS)
	# A mirror that drops the signature.
	cp "$rel"/* "$www/stripped/"
	rm "$www/stripped/SHA256SUMS.minisig"
	# The same files signed with the release key for an older and for the
	# next version (what an old release, or a mislabelled one, looks like).
	resign "$www/signed-older" "$rel" 0.0.1 || return 1
	resign "$www/signed-next" "$rel" "$next" || return 1

	HTTP_PORT=$(sb_free_port)
	# http.server, plus /to-http/PATH: a redirect to http://.../PATH.
	cat >"$BATS_FILE_TMPDIR/serve.py" <<-'PY'
		import functools, http.server, sys
		class Handler(http.server.SimpleHTTPRequestHandler):
		    def do_GET(self):
		        if self.path.startswith("/to-http/"):
		            self.send_response(302)
		            self.send_header("Location", "http://127.0.0.1:%d/%s" % (port, self.path[len("/to-http/"):]))
		            self.send_header("Content-Length", "0")
		            self.end_headers()
		            return
		        super().do_GET()
		port = int(sys.argv[2])
		handler = functools.partial(Handler, directory=sys.argv[1])
		http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
	PY
	python3 "$BATS_FILE_TMPDIR/serve.py" "$www" "$HTTP_PORT" \
		>"$BATS_FILE_TMPDIR/http.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/http.pid"
	echo "$HTTP_PORT" >"$BATS_FILE_TMPDIR/http.port"
	echo "$VERSION" >"$BATS_FILE_TMPDIR/version"
	local i
	for ((i = 0; i < 100; i++)); do
		sb_port_in_use "$HTTP_PORT" && return 0
		sleep 0.1
	done
	echo "the HTTP server did not start" >&2
	return 1
}

# next_version VERSION: the next minor version (0.1.0 -> 0.2.0).
next_version() {
	local major minor
	IFS=. read -r major minor _ <<<"$1"
	echo "$major.$((minor + 1)).0"
}

# resign DIR RELEASE VERSION: RELEASE's files in DIR, with SHA256SUMS signed
# by the release key for VERSION.
resign() {
	cp "$2"/* "$1/"
	rm "$1/SHA256SUMS.minisig"
	minisign -S -s "$BATS_FILE_TMPDIR/minisign.key" -m "$1/SHA256SUMS" -x "$1/SHA256SUMS.minisig" \
		-t "sshboot $3 SHA256SUMS" </dev/null >/dev/null
}

teardown_file() {
	if [[ -f $BATS_FILE_TMPDIR/http.pid ]]; then
		kill "$(cat "$BATS_FILE_TMPDIR/http.pid")" 2>/dev/null || true
	fi
}

setup() {
	e2e_setup
	command -v python3 >/dev/null || e2e_fail_or_skip "needs python3 for the HTTP server"
	command -v minisign >/dev/null || e2e_fail_or_skip "needs minisign (bash scripts/install-deps.sh)"
	# shellcheck disable=SC2034 # read by test_helper's root_prepare
	E2E_ROOT_TAR=$E2E_CACHE/root-install.tar
	# shellcheck disable=SC2034
	E2E_ROOT_BASE=$E2E_CACHE/rootfs-install
	RELEASES=http://127.0.0.1:$(cat "$BATS_FILE_TMPDIR/http.port" 2>/dev/null)
	VERSION=$(cat "$BATS_FILE_TMPDIR/version" 2>/dev/null)
	REL=$BATS_FILE_TMPDIR/www/download/v$VERSION
}

teardown() { e2e_teardown; }

# install_one_liner [NAME=value...] -- MODE [ARGS]: the README's
# `curl ... | sh -s -- MODE` inside the root, with the environment given
# before it, and SSHBOOT_ALLOW_LOOPBACK_HTTP=1 unless given otherwise.
install_one_liner() {
	local env=()
	while (($#)) && [[ $1 != -- ]]; do
		env+=("$1")
		shift
	done
	shift
	# The release is served over http on loopback: allowed for tests only.
	# shellcheck disable=SC2016 # expanded by the shell in the root
	root_exec SSHBOOT_ALLOW_LOOPBACK_HTTP=1 SSHBOOT_RELEASES_URL="$RELEASES" "${env[@]}" -- /bin/sh -c \
		'url=${SSHBOOT_BASE_URL:-$SSHBOOT_RELEASES_URL/latest/download}
		curl -fsSL "$url/install.sh" | sh -s -- "$@"' sh "$@"
}

@test "install.sh is POSIX sh and shellcheck-clean" {
	command -v shellcheck >/dev/null || skip "needs shellcheck"
	run -0 shellcheck -s sh "$E2E_REPO/templates/install.sh"
	run -0 head -n 1 "$E2E_REPO/templates/install.sh"
	assert_output '#!/bin/sh'
}

@test "the password one-liner in a root without OpenSSH installs it, starts sshd and the printed password logs in" {
	port=$(free_port)
	# shellcheck disable=SC2016
	root_start SSHBOOT_ALLOW_LOOPBACK_HTTP=1 SSHBOOT_RELEASES_URL="$RELEASES" SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 \
		RUNPOD_TCP_PORT_22="$port" -- /bin/sh -c \
		'curl -fsSL "$SSHBOOT_RELEASES_URL/latest/download/install.sh" | sh -s -- password
		trap "exit 0" TERM; sleep infinity & wait $!'
	wait_for_connect_block 300
	[[ -x $E2E_UPPER/usr/sbin/sshd ]]
	[[ -x $E2E_UPPER/usr/local/bin/sshboot ]]
	pw=$(sed -n 's/^ *password: \([^ ]*\) .*/\1/p' "$E2E_OUT")
	[[ ${#pw} -ge 20 ]]
	assert_equal "$(connect_command)" "ssh root@127.0.0.1 -p $port"
	run -0 env SSHPASS="$pw" sshpass -e /usr/bin/ssh -F none -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o PubkeyAuthentication=no \
		-o PreferredAuthentications=password -o LogLevel=ERROR -p "$port" root@127.0.0.1 echo in
	assert_output in
	run grep -rlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -- "$pw" "$E2E_UPPER"
	assert_failure
}

@test "install mode verifies the release's signature, puts sshboot and sshd in the image and removes the package's host keys" {
	root_prepare # here, not inside `run`: teardown needs $E2E_ROOT
	run -0 install_one_liner -- install
	assert_output --partial "SHA256SUMS: minisign signature verified"
	[[ -x $E2E_UPPER/usr/local/bin/sshboot ]]
	[[ -x $E2E_UPPER/usr/sbin/sshd ]]
	cmp "$REL/sshboot-linux-x86_64" "$E2E_UPPER/usr/local/bin/sshboot"
	run compgen -G "$E2E_ROOT/etc/ssh/ssh_host_*"
	assert_failure
	run -0 root_exec -- /usr/local/bin/sshboot --version
	assert_output --regexp "^sshboot $VERSION commit=.* arch=x86_64 "
}

@test "SSHBOOT_VERSION pins the release's download URL; a version never released fails naming the URL" {
	root_prepare
	run -0 install_one_liner SSHBOOT_VERSION="$VERSION" -- install
	assert_output --partial "from $RELEASES/download/v$VERSION"
	cmp "$REL/sshboot-linux-x86_64" "$E2E_UPPER/usr/local/bin/sshboot"
	rm "$E2E_ROOT/usr/local/bin/sshboot"
	run install_one_liner SSHBOOT_VERSION=9.9.9 -- install
	assert_failure
	assert_output --partial "$RELEASES/download/v9.9.9/sshboot-linux-x86_64 failed; nothing was installed"
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	run install_one_liner 'SSHBOOT_VERSION=1.0;id' -- install
	assert_failure
	assert_output --partial "is not a version like 0.2.0"
}

@test "a tampered binary is refused by its checksum and nothing is installed" {
	root_prepare # here, not inside `run`: teardown needs $E2E_ROOT
	run install_one_liner SSHBOOT_BASE_URL="$RELEASES/tampered-binary" -- install
	assert_failure
	assert_output --partial 'checksum mismatch'
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	run compgen -G "$E2E_ROOT/usr/local/bin/.sshboot*"
	assert_failure
	run compgen -G "$E2E_ROOT/tmp/sshboot-install.*"
	assert_failure
	# Nothing else was installed either.
	[[ ! -e $E2E_ROOT/usr/sbin/sshd ]]
}

@test "a tampered binary with a SHA256SUMS to match is refused by the published signature" {
	root_prepare
	run install_one_liner SSHBOOT_BASE_URL="$RELEASES/tampered-sums" -- install
	assert_failure
	assert_output --partial 'the signature of SHA256SUMS does not verify'
	assert_output --partial 'nothing was installed'
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	[[ ! -e $E2E_ROOT/usr/sbin/sshd ]]
	run compgen -G "$E2E_ROOT/tmp/sshboot-install.*"
	assert_failure
}

@test "a mirror that drops SHA256SUMS.minisig is refused by a signed release's installer" {
	root_prepare
	run install_one_liner SSHBOOT_BASE_URL="$RELEASES/stripped" -- install
	assert_failure
	assert_output --partial "no SHA256SUMS.minisig at $RELEASES/stripped, but this installer knows the release key"
	assert_output --partial 'nothing was installed'
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	[[ ! -e $E2E_ROOT/usr/sbin/sshd ]]
	# The same with wget.
	rm "$E2E_ROOT/usr/bin/curl"
	# shellcheck disable=SC2016
	run root_exec SSHBOOT_ALLOW_LOOPBACK_HTTP=1 SSHBOOT_BASE_URL="$RELEASES/stripped" -- /bin/sh -c \
		'wget -qO- "$SSHBOOT_BASE_URL/install.sh" | sh -s -- install'
	assert_failure
	assert_output --partial "no SHA256SUMS.minisig at $RELEASES/stripped"
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
}

@test "an unsigned release installs on the checksum, SSHBOOT_REQUIRE_SIGNATURE=1 refuses it, and without minisign a signed one installs on the checksum" {
	root_prepare
	run -0 grep -x 'sshboot_release_pubkey=' "$BATS_FILE_TMPDIR/www/unsigned-release/install.sh"
	run -0 install_one_liner SSHBOOT_BASE_URL="$RELEASES/unsigned-release" -- install
	assert_output --partial "an unsigned release"
	cmp "$REL/sshboot-linux-x86_64" "$E2E_UPPER/usr/local/bin/sshboot"
	rm -f "$E2E_ROOT/usr/local/bin/sshboot"
	run install_one_liner SSHBOOT_BASE_URL="$RELEASES/unsigned-release" SSHBOOT_REQUIRE_SIGNATURE=1 -- install
	assert_failure
	assert_output --partial "SSHBOOT_REQUIRE_SIGNATURE=1"
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	rm "$E2E_ROOT/usr/bin/minisign"
	run -0 install_one_liner -- install
	assert_output --partial "minisign is not installed"
	cmp "$REL/sshboot-linux-x86_64" "$E2E_UPPER/usr/local/bin/sshboot"
	rm -f "$E2E_ROOT/usr/local/bin/sshboot"
	run install_one_liner SSHBOOT_REQUIRE_SIGNATURE=1 -- install
	assert_failure
	assert_output --partial "SSHBOOT_REQUIRE_SIGNATURE=1 but minisign is not installed"
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
}

@test "http:// release URLs are refused; the loopback opt-in admits only 127.x.x.x, localhost and [::1]" {
	root_prepare
	run install_one_liner SSHBOOT_ALLOW_LOOPBACK_HTTP=0 -- install
	assert_failure
	assert_output --partial "SSHBOOT_RELEASES_URL=$RELEASES is not an https:// URL"
	assert_output --partial 'nothing was installed'
	run install_one_liner SSHBOOT_ALLOW_LOOPBACK_HTTP=0 SSHBOOT_BASE_URL="$RELEASES/latest/download" -- install
	assert_failure
	assert_output --partial "SSHBOOT_BASE_URL=$RELEASES/latest/download is not an https:// URL"
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	# Lookalikes of loopback, refused before anything is downloaded (the
	# installer runs from the release on loopback, the URL under test is
	# SSHBOOT_BASE_URL).
	local url
	for url in http://127.0.0.1.example.invalid/x http://localhost.example.invalid/x \
		http://127.0.0.1@example.invalid/x 'http://127.0.0.1:80@example.invalid/x' \
		http://example.invalid/x ftp://127.0.0.1/x file:///tmp/x; do
		# shellcheck disable=SC2016
		run root_exec SSHBOOT_ALLOW_LOOPBACK_HTTP=1 SSHBOOT_BASE_URL="$url" -- \
			/bin/sh -c 'curl -fsSL "$0" | sh -s -- install' "$RELEASES/latest/download/install.sh"
		assert_failure
		assert_output --partial "SSHBOOT_BASE_URL=$url is not an https:// URL"
	done
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
}

@test "a redirect from the release URL to http:// is refused by curl and by wget" {
	root_prepare
	run install_one_liner SSHBOOT_BASE_URL="$RELEASES/to-http/download/v$VERSION" -- install
	assert_failure
	assert_output --partial "download of $RELEASES/to-http/download/v$VERSION/sshboot-linux-x86_64 failed"
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	rm "$E2E_ROOT/usr/bin/curl"
	# shellcheck disable=SC2016 # expanded by the shell in the root
	run root_exec SSHBOOT_ALLOW_LOOPBACK_HTTP=1 SSHBOOT_BASE_URL="$RELEASES/to-http/download/v$VERSION" -- \
		/bin/sh -c 'wget -qO- "$0" | sh -s -- install' "$RELEASES/latest/download/install.sh"
	assert_failure
	assert_output --partial "was redirected to a URL that is not https://; refused"
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	# Without the redirect, wget installs (the check is on the redirect).
	# shellcheck disable=SC2016
	run -0 root_exec SSHBOOT_ALLOW_LOOPBACK_HTTP=1 SSHBOOT_BASE_URL="$RELEASES/download/v$VERSION" -- \
		/bin/sh -c 'wget -qO- "$0" | sh -s -- install' "$RELEASES/latest/download/install.sh"
	cmp "$REL/sshboot-linux-x86_64" "$E2E_UPPER/usr/local/bin/sshboot"
}

@test "SSHBOOT_VERSION=<next> with a mirror serving this version's signed files is refused as a downgrade" {
	root_prepare
	local next
	next=$(next_version "$VERSION")
	run install_one_liner SSHBOOT_VERSION="$next" SSHBOOT_BASE_URL="$RELEASES/download/v$VERSION" -- install
	assert_failure
	assert_output --partial "is signed for sshboot $VERSION, not $next as SSHBOOT_VERSION asks"
	assert_output --partial 'nothing was installed'
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	[[ ! -e $E2E_ROOT/usr/sbin/sshd ]]
	# The same without minisign: the (unverified) signed version still counts.
	rm "$E2E_ROOT/usr/bin/minisign"
	run install_one_liner SSHBOOT_VERSION="$next" SSHBOOT_BASE_URL="$RELEASES/download/v$VERSION" -- install
	assert_failure
	assert_output --partial "is signed for sshboot $VERSION, not $next"
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
}

@test "without SSHBOOT_VERSION a release signed for an older version than the installer's is refused" {
	root_prepare
	run -0 grep -x "sshboot_release_version=$VERSION" "$REL/install.sh"
	run install_one_liner SSHBOOT_BASE_URL="$RELEASES/signed-older" -- install
	assert_failure
	assert_output --partial "signed for sshboot 0.0.1, older than this installer's release $VERSION (set SSHBOOT_VERSION=0.0.1 to install it anyway)"
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
}

@test "a binary whose --version differs from the version signed into SHA256SUMS is refused and the installed one stays" {
	root_prepare
	local next
	next=$(next_version "$VERSION")
	install -D -m 0755 /bin/true "$E2E_ROOT/usr/local/bin/sshboot"
	run install_one_liner SSHBOOT_VERSION="$next" SSHBOOT_BASE_URL="$RELEASES/signed-next" -- install
	assert_failure
	assert_output --partial "SHA256SUMS: minisign signature verified (sshboot $next)"
	assert_output --partial "says 'sshboot $VERSION "
	assert_output --partial "not sshboot $next; nothing was installed"
	cmp /bin/true "$E2E_ROOT/usr/local/bin/sshboot"
	run compgen -G "$E2E_ROOT/usr/local/bin/.sshboot*"
	assert_failure
}

@test "with wget and no curl the installer still installs" {
	root_prepare
	rm "$E2E_ROOT/usr/bin/curl"
	run -0 root_exec SSHBOOT_ALLOW_LOOPBACK_HTTP=1 SSHBOOT_VERSION="$VERSION" SSHBOOT_RELEASES_URL="$RELEASES" -- /bin/sh -c \
		'wget -qO- "$SSHBOOT_RELEASES_URL/download/v$SSHBOOT_VERSION/install.sh" | sh -s -- install'
	assert_output --partial "SHA256SUMS: minisign signature verified"
	cmp "$REL/sshboot-linux-x86_64" "$E2E_UPPER/usr/local/bin/sshboot"
}

@test "a failed download exits non-zero and leaves no sshboot behind" {
	root_prepare # here, not inside `run`: teardown needs $E2E_ROOT
	run install_one_liner SSHBOOT_BASE_URL="$RELEASES/empty" -- password --generate
	assert_failure
	assert_output --partial 'nothing was installed'
	[[ ! -e $E2E_ROOT/usr/local/bin/sshboot ]]
	run compgen -G "$E2E_ROOT/tmp/sshboot-install.*"
	assert_failure
}

@test "install.sh run -- COMMAND as a stock image's start command installs sshd, becomes PID 1, lets a key log in and exits with COMMAND's code" {
	port=$(free_port)
	local t0 t1
	t0=$(date +%s%3N)
	# The README's start command, with the key from the environment.
	# shellcheck disable=SC2016
	root_start SSHBOOT_ALLOW_LOOPBACK_HTTP=1 SSHBOOT_RELEASES_URL="$RELEASES" SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 \
		RUNPOD_TCP_PORT_22="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" -- /bin/sh -c \
		'exec sh -c "$(curl -fsSL "$SSHBOOT_RELEASES_URL/latest/download/install.sh")" install.sh run -- \
			sh -c "while [ ! -e /tmp/stop ]; do sleep 0.1; done; exit 7"'
	wait_for_connect_block 300
	t1=$(date +%s%3N)
	echo "# install.sh run: start to connect command $((t1 - t0)) ms (downloads, apt-get installs openssh-server)" >&3
	assert_equal "$(connect_command)" "ssh root@127.0.0.1 -p $port"
	local cmd
	read -ra cmd <<<"$(connect_command)"
	run -0 "${cmd[@]}" 'cat /proc/1/comm; test -x /usr/sbin/sshd && echo has-sshd'
	assert_line sshboot
	assert_line has-sshd
	touch "$E2E_ROOT/tmp/stop"
	sshboot_wait_exit 20
	assert_equal "$E2E_STATUS" 7
	# A restart runs the start command again: nothing is downloaded twice
	# (the release URL now leads nowhere).
	rm "$E2E_ROOT/tmp/stop"
	cp "$REL/install.sh" "$E2E_ROOT/tmp/install.sh"
	# shellcheck disable=SC2016
	root_start SSHBOOT_RELEASES_URL=http://127.0.0.1:1 SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 \
		RUNPOD_TCP_PORT_22="$port" SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" -- /bin/sh -c \
		'exec sh -c "$(cat /tmp/install.sh)" install.sh run -- sh -c "while [ ! -e /tmp/stop ]; do sleep 0.1; done; exit 3"'
	wait_for_connect_block 60
	grep -q "is installed already" "$E2E_ERR" || fail "no 'is installed already' on stderr$(_e2e_dump)"
	run -0 "${cmd[@]}" true
	touch "$E2E_ROOT/tmp/stop"
	sshboot_wait_exit 20
	assert_equal "$E2E_STATUS" 3
}
