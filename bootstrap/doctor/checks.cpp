#include "doctor/checks.hpp"

#include <set>

#include "doctor/cluster_checks.hpp"
#include "util/json.hpp"
#include "util/parse.hpp"

namespace sshboot::doctor {
namespace {

CheckResult ok(std::string id, std::string message) {
    return {std::move(id), Status::Ok, std::move(message), {}};
}

CheckResult fail(std::string id, std::string message, std::string fix) {
    return {std::move(id), Status::Fail, std::move(message), std::move(fix)};
}

CheckResult skip(std::string id, std::string message) {
    return {std::move(id), Status::Skip, std::move(message), {}};
}

CheckResult warn(std::string id, std::string message, std::string fix) {
    return {std::move(id), Status::Warn, std::move(message), std::move(fix)};
}

std::string owner_of(const FileInfo& f) {
    if (!f.owner_name.empty()) {
        return f.owner_name + " (uid " + std::to_string(f.uid) + ")";
    }
    return "uid " + std::to_string(f.uid);
}

std::string first_line(const std::string& text) {
    std::size_t b = text.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) {
        return "no output";
    }
    auto e = text.find('\n', b);
    std::string line = text.substr(b, e == std::string::npos ? std::string::npos : e - b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
        line.pop_back();
    }
    if (line.size() > 200) {
        line = line.substr(0, 200) + "...";
    }
    return line;
}

std::string ports_text(const std::vector<std::uint16_t>& ports) {
    std::string out;
    for (auto p : ports) {
        out += (out.empty() ? "" : ", ") + std::to_string(p);
    }
    return out;
}

bool is_password_set(const std::optional<std::string>& field) {
    return field && !field->empty() && field->front() != '!' && field->front() != '*';
}

std::string port_origin(const Facts& f) {
    return f.port_from_variable ? "SSH_PORT" : "the default; SSH_PORT is unset";
}

// --- sshd ------------------------------------------------------------------

CheckResult check_installed(const Facts& f) {
    if (f.sshd_path.empty()) {
        return fail("sshd-installed", "sshd (the OpenSSH server) is not installed",
                    "apt-get install -y openssh-server (Debian/Ubuntu; dnf install -y "
                    "openssh-server or apk add openssh-server elsewhere)");
    }
    return ok("sshd-installed", "sshd installed: " + f.sshd_path + " (" +
                                    (f.sshd_version.empty() ? "version unknown" : f.sshd_version) +
                                    ")");
}

CheckResult check_running(const Facts& f) {
    if (f.sshd_path.empty()) {
        return skip("sshd-running", "sshd running: not checked (sshd is not installed)");
    }
    if (f.sshd_processes.empty()) {
        return fail("sshd-running", "sshd is not running: nothing answers SSH connections",
                    "start it with sshboot (the container's entrypoint; or run it now: sshboot "
                    "&); to see why it stops: " +
                        f.sshd_path + " -D -e -f " + f.config_path);
    }
    std::string pids;
    for (const auto& p : f.sshd_processes) {
        pids += (pids.empty() ? "" : ", ") + std::to_string(p.pid);
    }
    return ok("sshd-running", "sshd is running (pid " + pids + ")");
}

CheckResult check_listening(const Facts& f) {
    const std::string port = std::to_string(f.port);
    if (f.sshd_processes.empty()) {
        return skip("sshd-listening",
                    "sshd listening on port " + port + ": not checked (sshd is not running)");
    }
    std::vector<std::uint16_t> other_ports;
    for (const auto& p : f.sshd_processes) {
        for (auto lp : p.listen_ports) {
            if (lp == f.port) {
                return ok("sshd-listening", "sshd (pid " + std::to_string(p.pid) +
                                                ") listens on port " + port + " (" +
                                                port_origin(f) + ")");
            }
            other_ports.push_back(lp);
        }
    }
    for (const auto& p : f.port_owners) {
        return fail("sshd-listening",
                    "port " + port + " (" + port_origin(f) + ") is taken by " + p.comm + " (pid " +
                        std::to_string(p.pid) + "), not sshd",
                    "stop " + p.comm + " (kill " + std::to_string(p.pid) +
                        "), or restart the container with SSH_PORT set to a free port");
    }
    if (!other_ports.empty()) {
        return fail("sshd-listening",
                    "sshd listens on port " + ports_text(other_ports) + ", not on port " + port +
                        " (" + port_origin(f) + ")",
                    "restart the container with SSH_PORT=" + port + ", or, if port " +
                        std::to_string(other_ports.front()) + " is intended, run: SSH_PORT=" +
                        std::to_string(other_ports.front()) + " sshboot doctor");
    }
    return fail(
        "sshd-listening",
        "sshd runs but listens on no TCP port (expected " + port + ", " + port_origin(f) + ")",
        "read sshd's messages in the container log (bind errors), check Port and "
        "ListenAddress in " +
            f.config_path);
}

CheckResult check_config(const Facts& f) {
    if (f.sshd_path.empty()) {
        return skip("sshd-config", "sshd config test: not checked (sshd is not installed)");
    }
    if (!f.config_exists) {
        return fail("sshd-config", "the sshd config " + f.config_path + " does not exist",
                    "run sshboot (it writes /etc/sshboot/sshd_config), or reinstall the server: "
                    "apt-get install --reinstall openssh-server");
    }
    if (f.config_test.ran && f.config_test.exit_code == 0) {
        return ok("sshd-config", "sshd -t -f " + f.config_path + " passes");
    }
    return fail("sshd-config",
                "sshd -t -f " + f.config_path + " fails: " + first_line(f.config_test.output),
                "correct what it names (see the checks below for host keys and /run/sshd), "
                "then test again: " +
                    f.sshd_path + " -t -f " + f.config_path);
}

std::string keygen_for(const std::string& path) {
    std::string type = "ed25519";
    if (path.find("rsa") != std::string::npos) {
        type = "rsa";
    } else if (path.find("ecdsa") != std::string::npos) {
        type = "ecdsa";
    }
    return "ssh-keygen -q -t " + type + " -N '' -f " + path;
}

std::vector<CheckResult> check_host_keys(const Facts& f) {
    std::vector<CheckResult> out;
    const char* id = "host-keys";
    std::vector<std::string> good;
    bool any_exists = false;
    for (const auto& key : f.host_keys) {
        if (!key.exists) {
            if (f.host_keys_configured) {
                out.push_back(fail(id,
                                   "host key " + key.path + " (HostKey in " + f.config_path +
                                       ") does not exist: sshd cannot load it",
                                   "restart the container (sshboot creates its host keys), or: " +
                                       keygen_for(key.path)));
            }
            continue;
        }
        any_exists = true;
        if (!key.is_regular) {
            out.push_back(fail(id, "host key " + key.path + " is not a regular file",
                               "remove it and restart the container (sshboot creates a new one)"));
        } else if ((key.mode & 077) != 0) {
            out.push_back(fail(id,
                               "host key " + key.path + " is mode " + mode_string(key.mode) +
                                   ": sshd refuses a private key that others can read, and "
                                   "whoever read it can impersonate this server",
                               "restart the container (sshboot sets an exposed key aside and "
                               "makes a new one; clients then see a changed host key), or, "
                               "when sure nobody else read it: chmod 600 " +
                                   key.path));
        } else {
            good.push_back(key.path);
        }
    }
    if (!any_exists) {
        std::string paths;
        for (const auto& key : f.host_keys) {
            paths += (paths.empty() ? "" : ", ") + key.path;
        }
        out.push_back(fail(
            id, "no host key: none of " + paths + " exists, and sshd refuses to start without one",
            f.host_keys_configured || f.host_keys.empty()
                ? "restart the container (sshboot creates its host keys), or: " +
                      keygen_for(f.host_keys.empty() ? "/etc/ssh/ssh_host_ed25519_key"
                                                     : f.host_keys.front().path)
                : std::string("ssh-keygen -A")));
    }
    if (out.empty()) {
        std::string paths;
        for (const auto& p : good) {
            paths += (paths.empty() ? "" : ", ") + p;
        }
        out.push_back(ok(id, "host keys present and private: " + paths));
    }
    return out;
}

CheckResult check_state_dir(const Facts& f) {
    const char* id = "state-dir";
    if (f.state_dir.empty()) {
        return skip(id, "host key directory: not checked");
    }
    if (f.state_dir_problem) {
        const std::string instead =
            f.state_dir == "/var/lib/sshboot" ? "/run/sshboot/hostkeys" : "/var/lib/sshboot";
        return fail(id,
                    "host key directory " + f.state_dir +
                        " is not safe for private keys: " + f.state_dir_problem->message +
                        ", so whoever controls it could plant, swap or read host keys; sshboot "
                        "keeps host keys in " +
                        instead + " instead, and a new container gets a new host key",
                    f.state_dir_problem->fix +
                        " (or set SSHBOOT_STATE_DIR to a directory only root can write), then "
                        "restart the container");
    }
    if (!f.state_dir_error.empty()) {
        return ok(id, "host key directory " + f.state_dir + " not checked: " + f.state_dir_error +
                          " (sshboot creates it)");
    }
    return ok(id, "host key directory " + f.state_dir +
                      " is safe for private keys (owned by root, not writable by others, no "
                      "symlinks)");
}

CheckResult check_privsep(const Facts& f) {
    const auto& d = f.privsep_dir;
    const std::string fix =
        "mkdir -p /run/sshd && chown root:root /run/sshd && chmod 755 /run/sshd";
    if (!d.exists) {
        return fail("privsep-dir",
                    "the privilege-separation directory /run/sshd is missing: sshd refuses to "
                    "start (sshboot creates it on start; /run is emptied when a container starts)",
                    fix);
    }
    if (!d.is_dir) {
        return fail("privsep-dir", "/run/sshd is not a directory", "rm /run/sshd && " + fix);
    }
    if (d.uid != 0 || (d.mode & 022) != 0) {
        return fail("privsep-dir",
                    "/run/sshd is owned by " + owner_of(d) + " with mode " + mode_string(d.mode) +
                        ": sshd wants it owned by root and not group/world-writable",
                    fix);
    }
    return ok("privsep-dir", "/run/sshd exists, owned by root, mode " + mode_string(d.mode));
}

// --- the user ----------------------------------------------------------------

std::vector<CheckResult> check_user(const Facts& f) {
    std::vector<CheckResult> out;
    if (!f.passwd_error.empty()) {
        out.push_back(fail("user", "cannot read /etc/passwd: " + f.passwd_error,
                           "restore /etc/passwd (mode 0644, owned by root)"));
        return out;
    }
    if (!f.user) {
        out.push_back(fail("user",
                           "user " + f.user_name + " (SSH_USER" +
                               (f.user_name == "root" ? ", default root" : "") +
                               ") does not exist in /etc/passwd",
                           "restart the container (sshboot creates SSH_USER), or: useradd -m -s "
                           "/bin/bash " +
                               f.user_name));
        return out;
    }
    const auto& u = *f.user;
    out.push_back(ok("user", "user " + u.name + " exists (uid " + std::to_string(u.uid) +
                                 ", home " + u.home + ")"));
    const std::string shell = u.shell.empty() ? "/bin/sh" : u.shell;
    const std::string shell_fix = "usermod -s /bin/bash " + u.name + " (or /bin/sh)";
    if (u.shell.empty()) {
        out.push_back(ok("shell", u.name + " has no shell set; sshd uses /bin/sh"));
    } else if (!f.shell.exists) {
        out.push_back(fail("shell",
                           u.name + "'s login shell " + shell +
                               " does not exist: sshd refuses every login of " + u.name,
                           shell_fix));
    } else if (!f.shell_executable) {
        out.push_back(fail("shell",
                           u.name + "'s login shell " + shell +
                               " is not an executable file (mode " + mode_string(f.shell.mode) +
                               "): sshd refuses every login of " + u.name,
                           shell_fix));
    } else if (shell.ends_with("/nologin") || shell.ends_with("/false")) {
        out.push_back(
            fail("shell", u.name + "'s login shell is " + shell + ": every login is closed at once",
                 shell_fix));
    } else {
        out.push_back(ok("shell", u.name + "'s shell " + shell + " exists and is executable"));
    }
    return out;
}

CheckResult check_lock(const Facts& f) {
    if (!f.user) {
        return skip("account-lock", "account lock: not checked (no user)");
    }
    const auto& u = *f.user;
    std::optional<std::string> field = f.shadow_password;
    std::string where = "/etc/shadow";
    if (!field && u.password != "x") {
        field = u.password;
        where = "/etc/passwd";
    }
    if (!field || field->empty() || field->front() != '!') {
        return ok("account-lock", u.name + "'s account is not locked");
    }
    if (f.options.use_pam) {
        return ok("account-lock", u.name + "'s password is locked ('!' in " + where +
                                      "), but UsePAM is yes: key logins still work");
    }
    const std::string rest = field->substr(1);
    const bool bare = rest.empty() || rest == "!" || rest == "*";
    return fail("account-lock",
                u.name + "'s account is locked (its password field in " + where +
                    " starts with '!') and UsePAM is no: sshd refuses every login of " + u.name +
                    ", keys included",
                bare ? "usermod -p '*' " + u.name + " ('*': no password, but not locked)"
                     : "usermod -U " + u.name);
}

bool readable_by(const FileInfo& file, const accounts::PasswdEntry& u) {
    if (u.uid == 0) {
        return true;
    }
    if (file.uid == u.uid) {
        return (file.mode & 0400) != 0;
    }
    if (file.gid == u.gid) {
        return (file.mode & 040) != 0;
    }
    return (file.mode & 04) != 0;
}

std::string dir_label(const std::string& path, const std::string& home) {
    if (path == home) {
        return "home directory";
    }
    if (path.ends_with("/.ssh")) {
        return ".ssh directory";
    }
    return "directory";
}

std::vector<CheckResult> check_strict_modes(const Facts& f) {
    std::vector<CheckResult> out;
    const char* id = "strict-modes";
    if (!f.user) {
        out.push_back(skip(id, "authorized_keys permissions: not checked (no user)"));
        return out;
    }
    const auto& u = *f.user;
    if (!f.options.strict_modes) {
        out.push_back(ok(id, "StrictModes is no: sshd does not check permissions"));
        return out;
    }
    const std::string ignored = ": sshd ignores " + u.name + "'s keys";
    std::set<std::string> seen;
    std::string checked;
    for (const auto& a : f.authorized_keys) {
        // The home directory is the last of the directories StrictModes checks
        // (resolved); a file outside home is checked up to /.
        const std::string home =
            a.dirs.empty() || a.dirs.back().path == "/" ? u.home : a.dirs.back().path;
        for (const auto& d : a.dirs) {
            if (!d.exists || !seen.insert(d.path).second) {
                continue;
            }
            const std::string label = dir_label(d.path, home) + " " + d.path;
            if (d.uid != 0 && d.uid != u.uid) {
                out.push_back(fail(id,
                                   label + " is owned by " + owner_of(d) + ", not " + u.name +
                                       " or root" + ignored,
                                   "chown " + u.name + " " + d.path));
            }
            if ((d.mode & 022) != 0) {
                const std::string mode = d.path.ends_with("/.ssh") ? "700"
                                         : d.path == home          ? "755"
                                                                   : "go-w";
                out.push_back(fail(
                    id,
                    label + " is mode " + mode_string(d.mode) + " (group/world-writable)" + ignored,
                    "chmod " + mode + " " + d.path));
            }
        }
        if (!a.file.exists) {
            continue;
        }
        const std::string label = "authorized_keys " + a.file.path;
        checked += (checked.empty() ? "" : ", ") + a.file.path;
        if (!a.file.is_regular) {
            out.push_back(fail(id, label + " is not a regular file" + ignored,
                               "rm -r " + a.file.path + " and restart the container"));
            continue;
        }
        if (a.file.uid != 0 && a.file.uid != u.uid) {
            out.push_back(fail(id,
                               label + " is owned by " + owner_of(a.file) + ", not " + u.name +
                                   " or root" + ignored,
                               "chown " + u.name + " " + a.file.path));
        }
        if ((a.file.mode & 022) != 0) {
            out.push_back(fail(id,
                               label + " is mode " + mode_string(a.file.mode) +
                                   " (group/world-writable)" + ignored,
                               "chmod 600 " + a.file.path));
        } else if (!readable_by(a.file, u)) {
            out.push_back(
                fail(id,
                     label + " is not readable by " + u.name + " (owner " + owner_of(a.file) +
                         ", mode " + mode_string(a.file.mode) + "): sshd reads it as " + u.name,
                     "chown " + u.name + " " + a.file.path + " && chmod 600 " + a.file.path));
        }
    }
    if (out.empty()) {
        out.push_back(ok(id, checked.empty()
                                 ? "no authorized_keys file yet; the directories above it pass "
                                   "StrictModes"
                                 : "permissions on the way to " + checked + " pass StrictModes"));
    }
    return out;
}

CheckResult check_login_method(const Facts& f) {
    const char* id = "login-method";
    if (!f.user) {
        return skip(id, "usable key or password: not checked (no user)");
    }
    const auto& u = *f.user;
    std::size_t usable = 0;
    std::size_t refused = 0;
    std::string files;
    std::string with_keys;
    std::string problems;
    for (const auto& a : f.authorized_keys) {
        files += (files.empty() ? "" : " or ") + a.path;
        usable += a.usable_keys;
        refused += a.refused;
        if (a.usable_keys > 0) {
            with_keys += (with_keys.empty() ? "" : ", ") + a.path;
        }
        if (!a.read_error.empty()) {
            problems += "; " + a.read_error;
        }
    }
    if (files.empty()) {
        files = "(AuthorizedKeysFile none)";
    }
    const bool password = is_password_set(f.shadow_password);
    if (usable > 0 && f.options.pubkey_authentication) {
        return ok(id, std::to_string(usable) + " usable key" + (usable == 1 ? "" : "s") + " in " +
                          with_keys);
    }
    if (usable > 0) {
        return fail(id,
                    std::to_string(usable) + " usable key(s) in " + with_keys +
                        ", but PubkeyAuthentication is no: keys are refused",
                    "remove \"PubkeyAuthentication no\" from " + f.config_path +
                        " and its drop-in files, then restart the container");
    }
    if (password && f.options.password_authentication) {
        return ok(id, "no key, but " + u.name + " has a password and password login is on");
    }
    std::string message = "no usable key in " + files;
    if (refused > 0) {
        message += " (" + std::to_string(refused) +
                   " line(s) there are not usable keys: check "
                   "them with sshboot check-key FILE)";
    }
    message += problems;
    message += password ? ", and password login is off: nobody can log in"
                        : ", and no password: nobody can log in";
    return fail(id, message,
                "restart the container with SSH_PUBLIC_KEY set to your public key (the output of "
                "cat ~/.ssh/id_ed25519.pub on your computer; test it first with sshboot "
                "check-key), or set a password: sshboot password");
}

CheckResult check_password_login(const Facts& f) {
    const char* id = "password-login";
    if (!f.user) {
        return skip(id, "password login: not checked (no user)");
    }
    const auto& u = *f.user;
    const bool password = is_password_set(f.shadow_password);
    const bool on = f.options.password_authentication;
    const std::string state = std::string("PasswordAuthentication ") + (on ? "yes" : "no") +
                              " (from " + f.options_source + ")";
    if (password && on) {
        const auto& prl = f.options.permit_root_login;
        if (u.uid == 0 && prl != "yes") {
            return fail(id,
                        u.name + " has a password and " + state + ", but PermitRootLogin is " +
                            prl + ": sshd refuses root's password",
                        "sshboot password (it configures sshd for password login), or log in "
                        "with a key");
        }
        return ok(id, "password login is on (" + state + ") and " + u.name + " has a password");
    }
    if (!password && !on) {
        return ok(id, "password login is off (" + state + ") and " + u.name +
                          " has no password: keys only");
    }
    if (password) {
        return fail(id, u.name + " has a password but " + state + ": the password is refused",
                    "to log in with it: sshboot password; to use keys only, remove it: usermod "
                    "-p '*' " +
                        u.name);
    }
    return fail(id, state + " but " + u.name + " has no password: nobody can log in with one",
                "set one: sshboot password; or turn password login off (PasswordAuthentication "
                "no in " +
                    f.config_path + ")");
}

// Which hash new passwords get here, and whether the user's stored one can
// be verified by this image at all.
CheckResult check_password_hash(const Facts& f) {
    const char* id = "password-hash";
    const auto& choice = f.password_hash;
    std::string message = "passwords are hashed with " +
                          accounts::hash_method_label(choice.method) + ": " + choice.reason;
    if (!f.user || !is_password_set(f.shadow_password)) {
        return ok(id, message);
    }
    const auto stored = accounts::stored_hash_label(*f.shadow_password);
    if (stored == "yescrypt" && choice.method != accounts::HashMethod::Yescrypt) {
        return fail(id,
                    f.user->name +
                        "'s password is a yescrypt hash, which this image cannot "
                        "verify (" +
                        choice.reason + "): password login fails",
                    "set the password again, hashed for this image: sshboot password");
    }
    message += "; " + f.user->name + "'s password is stored as " + stored;
    if (accounts::is_weak_hash(*f.shadow_password) && f.options.password_authentication) {
        message += " (weaker; sshboot password sets it again with " +
                   accounts::hash_method_label(choice.method) + ")";
    }
    return ok(id, message);
}

// --- outside -------------------------------------------------------------------

// How this container is reached when no external endpoint is known, in
// words for the endpoint check; empty when nothing reaches it. Each way in is
// one condition below.
std::string reached_without_endpoint(const Facts& f) {
    // Cluster mode with peers: the other nodes log in over the job's network.
    if (f.cluster.enabled && f.cluster.state && f.cluster.state->node_count() > 1) {
        return "the other " + std::to_string(f.cluster.state->node_count() - 1) +
               " node(s) of the cluster still reach this one over SSH; only logins from "
               "outside the cluster need that address";
    }
    // The HTTPS tunnel, the other way in, is checked before this is asked.
    return {};
}

CheckResult check_endpoint(const Facts& f) {
    const char* id = "endpoint";
    const auto& e = f.endpoint;
    const std::string user = f.user ? f.user->name : f.user_name;
    if (auto endpoint = report::detect_endpoint(e)) {
        // The platform forwards its port to port 22 inside; with host
        // networking (the same port outside and in) there is no forwarding.
        const std::string var = report::endpoint_port_variable(e);
        if ((var == "RUNPOD_TCP_PORT_22" || var == "VAST_TCP_PORT_22") && f.port != 22 &&
            endpoint->port != f.port) {
            return fail(id,
                        var +
                            " forwards to port 22 of this container, but sshd is expected on "
                            "port " +
                            std::to_string(f.port) + " (SSH_PORT)",
                        "restart the container without SSH_PORT (sshd then listens on 22)");
        }
        return ok(id, "reachable from outside as: ssh " + user + "@" + endpoint->host + " -p " +
                          std::to_string(endpoint->port) + " (from " + endpoint->source + ")");
    }
    if (f.tunnel_port != 0) {
        // The HTTPS tunnel is the way in (its own check says whether it works).
        return warn(id,
                    "no TCP endpoint is known (RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are "
                    "missing); SSH from outside goes through the HTTPS tunnel on port " +
                        std::to_string(f.tunnel_port),
                    "connect with the tunnel's ~/.ssh/config block from the connect block "
                    "(ProxyCommand sshboot tunnel URL); for direct TCP, expose port " +
                        std::to_string(f.port));
    }
    // Without an external endpoint the container may still be reached from
    // inside the platform's network; then the endpoint is only a warning.
    const std::string reach = reached_without_endpoint(f);
    auto result = [&](std::string message, std::string fix) {
        if (reach.empty()) {
            return fail(id, std::move(message), std::move(fix));
        }
        return warn(id, std::move(message) + "; " + reach, std::move(fix));
    };
    if (!e.runpod_public_ip.empty()) {
        const std::string port = std::to_string(f.port);
        return result("RUNPOD_PUBLIC_IP is set but " + report::runpod_port_variable(f.port) +
                          " is not: TCP port " + port +
                          " is not exposed, so the pod cannot be reached over SSH from outside",
                      "edit the pod or its template: add " + port + " under \"Expose TCP Ports\"");
    }
    return result(
        "RUNPOD_PUBLIC_IP or RUNPOD_TCP_PORT_22 are missing (and SSH_PUBLIC_HOST is "
        "unset): the address to connect to from outside is not known",
        "on RunPod, add 22 under \"Expose TCP Ports\" and pick a pod with a public IP; "
        "elsewhere publish the port (docker run -p 2222:" +
            std::to_string(f.port) +
            ") and set SSH_PUBLIC_HOST and SSH_PUBLIC_PORT to the address that reaches it");
}

// Only when SSHBOOT_TUNNEL_PORT is set.
std::vector<CheckResult> check_tunnel(const Facts& f) {
    if (f.tunnel_port == 0) {
        return {};
    }
    const char* id = "tunnel";
    const std::string port = std::to_string(f.tunnel_port);
    if (!f.tunnel_error.empty()) {
        return {fail(
            id, "the HTTPS tunnel on port " + port + " does not relay to sshd: " + f.tunnel_error,
            "look for \"tunnel\" in the container's log (a port in use, a token file "
            "that cannot be read); sshboot restarts the tunnel server when it dies")};
    }
    return {ok(id, "the HTTPS tunnel on port " + port + " relays to sshd (" + f.tunnel_banner +
                       " through a WebSocket on /ssh)")};
}

std::vector<CheckResult> check_session_env(const Facts& f) {
    const char* id = "session-env";
    const auto& p = f.session_env.profile;
    const std::string restart =
        "restart the container with sshboot as its entrypoint (it writes the export on every "
        "start)";
    if (!p.exists) {
        return {fail(id,
                     "the session environment export " + p.path +
                         " is missing: SSH sessions do not see the container's variables (PATH "
                         "additions, CUDA and HF_* settings, ...)",
                     restart)};
    }
    if (!p.is_regular) {
        return {
            fail(id, p.path + " is not a regular file", "rm -r " + p.path + ", then " + restart)};
    }
    if (f.user && !readable_by(p, *f.user)) {
        return {fail(id,
                     p.path + " is not readable by " + f.user->name + " (mode " +
                         mode_string(p.mode) + "): login shells cannot load the variables",
                     "chmod 644 " + p.path)};
    }
    return {ok(id, "the container's environment is exported to SSH sessions (" + p.path +
                       (f.session_env.config_has_setenv ? ", SetEnv in " + f.config_path : "") +
                       ")")};
}

}  // namespace

std::string mode_string(unsigned mode) {
    std::string out = "0000";
    for (int i = 3; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = static_cast<char>('0' + (mode & 7));
        mode >>= 3;
    }
    return out;
}

std::vector<CheckResult> evaluate(const Facts& f) {
    std::vector<CheckResult> out;
    auto add = [&](std::vector<CheckResult> more) {
        for (auto& r : more) {
            out.push_back(std::move(r));
        }
    };
    out.push_back(check_installed(f));
    out.push_back(check_running(f));
    out.push_back(check_listening(f));
    out.push_back(check_config(f));
    add(check_host_keys(f));
    out.push_back(check_state_dir(f));
    out.push_back(check_privsep(f));
    add(check_user(f));
    out.push_back(check_lock(f));
    add(check_strict_modes(f));
    out.push_back(check_login_method(f));
    out.push_back(check_password_login(f));
    out.push_back(check_password_hash(f));
    out.push_back(check_endpoint(f));
    add(check_tunnel(f));
    add(check_session_env(f));
    add(check_cluster(f.cluster));
    return out;
}

int doctor_exit_code(const std::vector<CheckResult>& results) {
    for (const auto& r : results) {
        if (r.status == Status::Fail) {
            return 1;
        }
    }
    return 0;
}

std::string render_text(const std::vector<CheckResult>& results) {
    std::string out;
    std::size_t failed = 0;
    // Messages quote what doctor found (SSH_USER, paths, ...): escaped, so no
    // escape sequence reaches the terminal and each check stays on one line.
    auto shown = [](const std::string& text) { return util::printable(text, std::string::npos); };
    for (const auto& r : results) {
        switch (r.status) {
            case Status::Ok:
                out += "OK    " + shown(r.message) + "\n";
                break;
            case Status::Skip:
                out += "SKIP  " + shown(r.message) + "\n";
                break;
            case Status::Warn:
                out += "WARN  " + shown(r.message) + ". Fix: " + shown(r.fix) + "\n";
                break;
            case Status::Fail:
                ++failed;
                out += "FAIL  " + shown(r.message) + ". Fix: " + shown(r.fix) + "\n";
                break;
        }
    }
    if (failed == 0) {
        out += "\nAll checks passed.\n";
    } else {
        out += "\n" + std::to_string(failed) + " problem" + (failed == 1 ? "" : "s") +
               " found. Fix them from the top (later checks often fail because of earlier "
               "ones), then run sshboot doctor again.\n";
    }
    return out;
}

std::string render_json(const std::vector<CheckResult>& results) {
    std::string out = "{\n  \"ok\": ";
    out += doctor_exit_code(results) == 0 ? "true" : "false";
    out += ",\n  \"checks\": [";
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        const char* status = r.status == Status::Ok     ? "ok"
                             : r.status == Status::Fail ? "fail"
                             : r.status == Status::Warn ? "warn"
                                                        : "skip";
        out += i == 0 ? "\n" : ",\n";
        out += "    {\"id\": " + util::json_string(r.id) + ", \"status\": \"" + status +
               "\", \"message\": " + util::json_string(r.message) +
               ", \"fix\": " + util::json_string(r.fix) + "}";
    }
    out += results.empty() ? "]\n}\n" : "\n  ]\n}\n";
    return out;
}

}  // namespace sshboot::doctor
