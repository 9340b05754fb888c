#!/usr/bin/env bats
# sshboot as PID 1 with a COMMAND (ENTRYPOINT sshboot + CMD): exit codes as
# tini gives them, signal forwarding and the stop grace period, reaping of
# orphans, sshd restarted after a crash, SSHBOOT_KEEP_ALIVE, RunPod's hooks,
# SSH ready before COMMAND, and an idle supervisor that never wakes up.

load test_helper

setup_file() { e2e_setup_file; }
setup() { e2e_setup; }
teardown() { e2e_teardown; }

# pid1_start PORT [NAME=value...] [-- COMMAND [ARG...]]: start sshboot on PORT
# with the client key authorized and RunPod's endpoint variables, running
# COMMAND (given after sshboot's own `--`).
pid1_start() {
	local port=$1
	shift
	local env=()
	while (($#)) && [[ $1 != -- ]]; do
		env+=("$1")
		shift
	done
	(($#)) && shift
	local args=()
	(($#)) && args=(-- "$@")
	sshboot_start SSH_PORT="$port" RUNPOD_PUBLIC_IP=127.0.0.1 RUNPOD_TCP_PORT_22="$port" \
		SSH_PUBLIC_KEY="$(cat "$CLIENT_PUB")" "${env[@]}" -- "${args[@]}"
}

# pid1_run_to_end [NAME=value...] -- COMMAND [ARG...]: run sshboot with
# COMMAND until it ends by itself; its exit status is left in $E2E_STATUS.
pid1_run_to_end() {
	local port
	port=$(free_port)
	pid1_start "$port" "$@"
	sshboot_wait_exit 30
}

# The supervisor's pid in the host's PID namespace.
supervisor_pid() {
	local init
	init=$(_e2e_init_pid) || fail "no PID 1 in the container"
	[[ -n $init ]] || fail "no PID 1 in the container"
	echo "$init"
}

# A field of /proc/PID/status ("" when the process is gone).
proc_field() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ns_zombies: the number of zombie processes in the container's PID namespace.
ns_zombies() {
	local ns p n=0
	ns=$(readlink "/proc/$(supervisor_pid)/ns/pid") || fail "cannot read the container's PID namespace"
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/ns/pid" 2>/dev/null) == "$ns" ]] || continue
		[[ $(proc_field "${p#/proc/}" State) == Z ]] && n=$((n + 1))
	done
	echo "$n"
}

# eventually TIMEOUT COMMAND...: retry COMMAND every 100 ms until it succeeds
# or TIMEOUT seconds have passed.
eventually() {
	local timeout=$1 i
	shift
	for ((i = 0; i < timeout * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- exit codes -------------------------------------------------------------

@test "COMMAND's exit codes 0, 1, 3, 42, 125 and 255 are the container's" {
	local code
	for code in 0 1 3 42 125 255; do
		pid1_run_to_end -- /bin/sh -c "exit $code"
		assert_equal "$E2E_STATUS" "$code"
	done
}

@test "COMMAND killed by signal N makes the container exit with 128+N" {
	pid1_run_to_end -- /bin/sh -c 'kill -USR1 $$'
	assert_equal "$E2E_STATUS" 138
	pid1_run_to_end -- /bin/sh -c 'kill -KILL $$'
	assert_equal "$E2E_STATUS" 137
}

@test "a COMMAND that does not exist exits 127, with a message naming it" {
	pid1_run_to_end -- /no/such/program
	assert_equal "$E2E_STATUS" 127
	grep -q '/no/such/program' "$E2E_ERR" || fail "stderr does not name the program$(_e2e_dump)"
	pid1_run_to_end -- sshboot-no-such-program
	assert_equal "$E2E_STATUS" 127
}

@test "a COMMAND that is not executable exits 126" {
	root_prepare
	printf '#!/bin/sh\nexit 0\n' >"$E2E_ROOT/job.sh"
	chmod 0644 "$E2E_ROOT/job.sh"
	pid1_run_to_end -- /job.sh
	assert_equal "$E2E_STATUS" 126
}

# --- signals and stopping ---------------------------------------------------

@test "SIGTERM reaches COMMAND and the container stops with COMMAND's code" {
	local port
	port=$(free_port)
	pid1_start "$port" -- /bin/sh -c 'trap "echo job-got-term; exit 7" TERM; echo job-ready; sleep infinity & wait'
	wait_for_output '^job-ready$'
	sshboot_stop
	assert_equal "$E2E_STATUS" 7
	grep -qx job-got-term "$E2E_OUT" || fail "COMMAND did not see SIGTERM$(_e2e_dump)"
	run sb_port_in_use "$port"
	assert_failure
}

@test "a COMMAND that ignores SIGTERM is killed after SSHBOOT_STOP_TIMEOUT" {
	local port start elapsed
	port=$(free_port)
	pid1_start "$port" SSHBOOT_STOP_TIMEOUT=1 -- /bin/sh -c 'trap "" TERM; echo job-ready; exec sleep 1000'
	wait_for_output '^job-ready$'
	start=$(now_ms)
	sshboot_stop
	elapsed=$(($(now_ms) - start))
	assert_equal "$E2E_STATUS" 137
	((elapsed >= 1000 && elapsed < 6000)) || fail "stopping took ${elapsed} ms, expected 1-6 s"
	grep -q 'SIGKILL' "$E2E_ERR" || fail "no log line about SIGKILL$(_e2e_dump)"
}

@test "without COMMAND, SIGTERM stops the container with 0" {
	local port
	port=$(free_port)
	pid1_start "$port"
	wait_for_connect_block
	sshboot_stop
	assert_equal "$E2E_STATUS" 0
}

# --- reaping ----------------------------------------------------------------

@test "orphaned processes are reaped: no zombies pile up" {
	local port
	port=$(free_port)
	# Each ( ... & ) leaves a process whose parent exits at once: it is
	# re-parented to PID 1, which must collect it when it ends.
	pid1_start "$port" -- /bin/sh -c '
		for i in 1 2 3 4 5 6 7 8; do (sh -c "echo orphan-done" &); done
		echo job-ready
		exec sleep 1000'
	wait_for_output '^job-ready$'
	orphans_done() { [[ $(grep -c '^orphan-done$' "$E2E_OUT") -eq 8 ]]; }
	no_zombies() { [[ $(ns_zombies) -eq 0 ]]; }
	eventually 10 orphans_done || fail "the orphans did not all run$(_e2e_dump)"
	eventually 10 no_zombies || fail "$(ns_zombies) zombie(s) left in the container"
	sshboot_stop
}

# --- sshd lifetime ----------------------------------------------------------

# sshd_pids: the pids of sshd processes that are children of sshboot.
sshd_pids() { pgrep -P "$(supervisor_pid)" -x sshd || true; }

# login_works PORT: a fresh login on PORT runs a command.
login_works() { [[ $(ssh_root "$1" echo login-ok 2>/dev/null) == login-ok ]]; }

@test "after kill -9 of sshd, logins work again within a few seconds" {
	local port old
	port=$(free_port)
	pid1_start "$port"
	wait_for_connect_block
	login_works "$port" || fail "no login before the kill$(_e2e_dump)"
	old=$(sshd_pids)
	[[ -n $old ]] || fail "no sshd child of sshboot"
	kill -KILL "$old"
	eventually 10 login_works "$port" || fail "no login within 10 s of kill -9 sshd$(_e2e_dump)"
	[[ $(sshd_pids) != "$old" ]] || fail "sshd was not restarted"
	grep -q 'restarting' "$E2E_ERR" || fail "the crash was not logged$(_e2e_dump)"
	sshboot_alive || fail "sshboot exited"
	sshboot_stop
	assert_equal "$E2E_STATUS" 0
}

@test "SSHBOOT_KEEP_ALIVE=1 keeps SSH up after COMMAND fails" {
	local port
	port=$(free_port)
	pid1_start "$port" SSHBOOT_KEEP_ALIVE=1 -- /bin/sh -c 'echo job-failing; exit 3'
	wait_for_output 'exited with code 3'
	login_works "$port" || fail "no login after COMMAND failed$(_e2e_dump)"
	sshboot_alive || fail "sshboot exited after COMMAND failed$(_e2e_dump)"
	sshboot_stop
	# The stop reports how the job ended.
	assert_equal "$E2E_STATUS" 3
}

@test "COMMAND ending stops sshd and the container" {
	local port
	port=$(free_port)
	pid1_start "$port" -- /bin/sh -c 'echo job-ready; while [ ! -e /go ]; do sleep 0.05; done'
	wait_for_output '^job-ready$'
	login_works "$port" || fail "no login while COMMAND runs$(_e2e_dump)"
	touch "$E2E_ROOT/go"
	sshboot_wait_exit 20
	assert_equal "$E2E_STATUS" 0
	run sb_port_in_use "$port"
	assert_failure
}

# --- ordering: hooks, SSH, COMMAND -----------------------------------------

# probe_script TAG: shell text appending "TAG ssh-up" or "TAG ssh-down" to
# /order.log, depending on whether SSH_PORT accepts a TCP connection.
probe_script() {
	printf '%s\n' "if (exec 3<>\"/dev/tcp/127.0.0.1/\$SSH_PORT\") 2>/dev/null; then s=ssh-up; else s=ssh-down; fi; echo \"$1 \$s\" >>/order.log; echo \"$1 ran\""
}

@test "SSH accepts connections before COMMAND starts" {
	local port
	port=$(free_port)
	pid1_start "$port" -- /bin/bash -c "$(probe_script command)"
	sshboot_wait_exit 30
	assert_equal "$E2E_STATUS" 0
	assert_equal "$(cat "$E2E_UPPER/order.log")" "command ssh-up"
}

@test "/pre_start.sh runs before SSH is ready, /post_start.sh after, then COMMAND; their output is logged" {
	local port
	port=$(free_port)
	root_prepare
	# As on RunPod: plain files, no exec bit needed; run with bash.
	probe_script pre_start >"$E2E_ROOT/pre_start.sh"
	probe_script post_start >"$E2E_ROOT/post_start.sh"
	chmod 0644 "$E2E_ROOT/pre_start.sh" "$E2E_ROOT/post_start.sh"
	pid1_start "$port" -- /bin/bash -c "$(probe_script command)"
	sshboot_wait_exit 30
	assert_equal "$E2E_STATUS" 0
	assert_equal "$(cat "$E2E_UPPER/order.log")" $'pre_start ssh-down\npost_start ssh-up\ncommand ssh-up'
	grep -qx 'pre_start ran' "$E2E_OUT" || fail "pre_start.sh output is not in the log$(_e2e_dump)"
	grep -qx 'post_start ran' "$E2E_OUT" || fail "post_start.sh output is not in the log$(_e2e_dump)"
}

@test "a failing /pre_start.sh is logged with its code and SSH still comes up" {
	local port
	port=$(free_port)
	root_prepare
	printf 'exit 4\n' >"$E2E_ROOT/pre_start.sh"
	pid1_start "$port"
	wait_for_connect_block
	grep -q 'pre_start.sh exited with code 4' "$E2E_ERR" || fail "the failure was not logged$(_e2e_dump)"
	login_works "$port" || fail "no login after a failing hook$(_e2e_dump)"
	sshboot_stop
	assert_equal "$E2E_STATUS" 0
}

# --- cost of idling ---------------------------------------------------------

@test "the idle supervisor makes no voluntary context switches over 3 s" {
	local port pid before after
	port=$(free_port)
	pid1_start "$port"
	wait_for_connect_block
	pid=$(supervisor_pid)
	# Settled: asleep, and its counter stopped moving after startup.
	settled() {
		local a
		a=$(proc_field "$pid" voluntary_ctxt_switches)
		sleep 0.3
		[[ $(proc_field "$pid" State) == S && $a == "$(proc_field "$pid" voluntary_ctxt_switches)" ]]
	}
	eventually 10 settled || fail "the supervisor did not settle"
	before=$(proc_field "$pid" voluntary_ctxt_switches)
	# The measurement window: 3 s, in which sshboot must stay up.
	local window_end=$((SECONDS + 3))
	while ((SECONDS < window_end)); do
		sshboot_alive || fail "sshboot exited while idle$(_e2e_dump)"
		sleep 0.2
	done
	after=$(proc_field "$pid" voluntary_ctxt_switches)
	[[ -n $before ]] || fail "cannot read /proc/$pid/status"
	echo "# voluntary_ctxt_switches: $before -> $after over 3 s" >&3
	assert_equal "$after" "$before"
	sshboot_stop
	assert_equal "$E2E_STATUS" 0
}
