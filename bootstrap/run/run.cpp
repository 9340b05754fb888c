#include "run/run.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>

#include "accounts/hash_method.hpp"
#include "accounts/passwd.hpp"
#include "accounts/password.hpp"
#include "accounts/shadow.hpp"
#include "accounts/ssh_dir.hpp"
#include "accounts/users.hpp"
#include "cluster/apply.hpp"
#include "cluster/hydra.hpp"
#include "cluster/launch_files.hpp"
#include "cluster/registry.hpp"
#include "hostkeys/store.hpp"
#include "keys/parse.hpp"
#include "report/connect.hpp"
#include "report/endpoint.hpp"
#include "report/local_address.hpp"
#include "run/key_sources.hpp"
#include "session_env/export.hpp"
#include "session_env/filter.hpp"
#include "sshd/config.hpp"
#include "sshd/listen.hpp"
#include "sshd/locale.hpp"
#include "sshd/server.hpp"
#include "sshd/version.hpp"
#include "supervise/hooks.hpp"
#include "supervise/supervise.hpp"
#include "tunnel/http_policy.hpp"
#include "tunnel/serve.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

extern char** environ;

namespace sshboot::run {
namespace {

// Sessions get a locale this image has (sshd/locale.hpp); returns whether
// sshd accepts the client's LANG/LC_*.
bool apply_locale_plan(std::vector<std::string>& session_environment) {
    const auto available = sshd::list_locales();
    auto locale = sshd::plan_locale(available, std::move(session_environment));
    session_environment = std::move(locale.session_env);
    for (const auto& r : locale.removed) {
        log::warn("SSH sessions do not get {}: this image has no such locale ({} found)", r,
                  available.size());
    }
    return locale.accept_client_locale;
}

constexpr auto k_ready_timeout = std::chrono::seconds(15);

// Variables that hold sshboot's secrets: never passed on to sshd or COMMAND.
bool is_secret_variable(std::string_view entry) {
    for (std::string_view name : {"SSH_PASSWORD=", "SSH_PASSWORD_FILE=", "SSHBOOT_CLUSTER_SECRET=",
                                  "SSHBOOT_CLUSTER_SECRET_FILE=", "SSHBOOT_TUNNEL_TOKEN="}) {
        if (entry.substr(0, name.size()) == name) {
            return true;
        }
    }
    return false;
}

std::vector<std::string> child_environment() {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        if (!is_secret_variable(*e)) {
            env.emplace_back(*e);
        }
    }
    return env;
}

// The group that may read the restricted variables' profile file: the login
// user's primary group unless other accounts are in it too.
gid_t restricted_group(const accounts::PasswdEntry& user) {
    const auto passwd_text = util::read_file("/etc/passwd", 8 << 20);
    const auto group_text = util::read_file("/etc/group", 8 << 20);
    if (!passwd_text || !group_text) {
        return 0;
    }
    const gid_t gid =
        session_env::restricted_file_group(user.name, user.gid, *passwd_text, *group_text);
    if (gid != user.gid) {
        log::warn(
            "{}'s primary group (gid {}) has other accounts in it: the restricted variables' "
            "profile file is readable by root only ({}'s SSH sessions still get them from sshd)",
            user.name, user.gid, user.name);
    }
    return gid;
}

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : fallback;
}

bool password_given(const cli::Settings& s) {
    return !s.password.empty() || !s.password_file.empty();
}

// ssh-keygen for the host key types: ed25519 is made in process, so only
// other types need it ("" when not needed or not found).
std::string ssh_keygen_for(const cli::Settings& s, const std::string& sshd_path,
                           const std::string& path_env) {
    if (s.host_key_types == std::vector<std::string>{"ed25519"}) {
        return {};
    }
    return sshd::find_ssh_keygen(sshd_path, path_env).value_or("");
}

// Everything sshd needs on disk, ready to start.
struct Plan {
    accounts::PasswdEntry user;
    std::vector<hostkeys::HostKey> host_keys;
    // New host keys sshd reads from copies: saved once sshd is starting.
    hostkeys::UnsavedKeys unsaved_keys;
    std::string sshd_path;
    std::vector<std::string> sshd_env;  // sshd's environment
    bool password_login = false;
    std::vector<std::string> launch_hint;  // cluster mode: lines for the connect block
    // RunPod worker: registers with the primary once its sshd is up.
    std::optional<cluster::ClusterState> registration;
    cluster::Node primary;
    cluster::Node self;
    int num_nodes = 0;
};

std::string this_hostname() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) {
        return {};
    }
    return host;
}

std::map<std::string, std::string> environment_map() {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const auto eq = entry.find('=');
        if (eq != std::string_view::npos) {
            env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
        }
    }
    return env;
}

// Cluster mode: the secret read and checked and the nodes resolved, before
// anything is written. nullopt outside cluster mode.
util::Expected<std::optional<cluster::ClusterPlan>> plan_cluster(const cli::Settings& s) {
    if (!s.cluster_mode()) {
        return std::optional<cluster::ClusterPlan>();
    }
    cluster::ClusterOptions options;
    options.secret = s.cluster_secret;
    options.secret_file = s.cluster_secret_file;
    options.rank = s.cluster_rank;
    options.hosts = s.cluster_hosts;
    options.ssh_port = s.port;
    options.hostname = this_hostname();
    options.env = environment_map();
    // The secret is in `options.secret` and the settings only.
    options.env.erase("SSHBOOT_CLUSTER_SECRET");
    for (const auto& [name, value] : {std::pair{"SSHBOOT_CLUSTER_PATTERN", &s.cluster_pattern},
                                      std::pair{"SSHBOOT_CLUSTER_SIZE", &s.cluster_size},
                                      std::pair{"SSHBOOT_CLUSTER_SLOTS", &s.cluster_slots}}) {
        if (!value->empty()) {
            options.env[name] = *value;
        }
    }
    auto plan = cluster::plan_cluster(options);
    if (!plan) {
        return plan.error();
    }
    return std::optional<cluster::ClusterPlan>(std::move(*plan));
}

// The drop-in `sshboot password` leaves in a container sshboot supervises.
std::string password_dropin_path() {
    return util::path_join(sshd::k_dropin_dir, sshd::k_password_dropin_name);
}

// SSH_PASSWORD or the first line of SSH_PASSWORD_FILE, hashed into shadow
// with what the image's password checkers verify (accounts/hash_method.hpp).
util::Status apply_password(const cli::Settings& s, const std::string& sshd_path) {
    if (!password_given(s)) {
        return util::ok();
    }
    accounts::Secret secret;
    if (!s.password.empty()) {
        secret = accounts::Secret(s.password);
    } else {
        auto text = util::read_file(s.password_file, 64 << 10);
        if (!text) {
            return util::make_error("SSH_PASSWORD_FILE: " + text.error().message);
        }
        accounts::Secret whole(std::move(*text));
        const auto end = whole.view().find_first_of("\r\n");
        secret = accounts::Secret(std::string(whole.view().substr(0, end)));
    }
    if (auto problem = accounts::password_problem(secret.view()); !problem.empty()) {
        return util::make_error((s.password.empty() ? "SSH_PASSWORD_FILE: " : "SSH_PASSWORD: ") +
                                problem);
    }
    const auto method = accounts::choose_hash_method(accounts::detect_hash_support(sshd_path));
    log::info("password hash: {}: {}", accounts::hash_method_label(method.method), method.reason);
    auto hash = accounts::hash_password(secret.view(), method.method);
    if (!hash) {
        return hash.error();
    }
    if (auto st = accounts::set_password_hash(s.user, *hash); !st) {
        return st;
    }
    log::info("password set for {} from {}", s.user,
              s.password.empty() ? "SSH_PASSWORD_FILE" : "SSH_PASSWORD");
    return util::ok();
}

util::Expected<Plan> apply(const cli::Settings& settings,
                           const cluster::ClusterPlan* cluster_plan) {
    Plan plan;
    cli::Settings s = settings;
    if (cluster_plan != nullptr && std::find(s.host_key_types.begin(), s.host_key_types.end(),
                                             "ed25519") == s.host_key_types.end()) {
        // The cluster certifies the ed25519 host key.
        s.host_key_types.insert(s.host_key_types.begin(), "ed25519");
    }
    const std::string path_env =
        env_or("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    auto sshd_path = sshd::find_sshd(path_env);
    if (!sshd_path) {
        return util::make_error(
            "sshd not found (looked in /usr/sbin, /usr/local/sbin, /sbin and PATH). Install "
            "OpenSSH's server in the image: apt-get install -y openssh-server (Debian/Ubuntu), "
            "dnf install -y openssh-server, or apk add openssh-server");
    }
    plan.sshd_path = *sshd_path;

    auto user = accounts::ensure_user(s.user);
    if (!user) {
        return user.error();
    }
    plan.user = user->entry;
    if (auto st = apply_password(s, plan.sshd_path); !st) {
        return st.error();
    }
    // Password login is on only when it was asked for: a password given at
    // this start, or one `sshboot password` set in this container before (its
    // drop-in is still there). A password that came with the image (a root
    // password some base images set) never turns it on by itself.
    const bool asked = password_given(s) || util::path_exists(password_dropin_path());
    plan.password_login = asked && accounts::has_usable_password(plan.user.name);
    if (s.sudo) {
        if (auto st = accounts::grant_sudo(plan.user.name, !plan.password_login); !st) {
            log::warn("{}", st.error().message);
        }
    }

    const auto key_set = collect_keys(s);
    std::vector<std::string> lines;
    for (const auto& key : key_set.keys) {
        lines.push_back(key.line());
    }
    if (cluster_plan != nullptr) {
        // Every node logs in to every other with the cluster client key.
        lines.push_back(cluster::client_public_line(*cluster_plan));
    }
    if (lines.empty()) {
        log::warn(
            "no usable public key: nobody can log in. Set SSH_PUBLIC_KEY (or PUBLIC_KEY) to the "
            "contents of your ~/.ssh/id_ed25519.pub");
    }
    auto installed = accounts::install_authorized_keys(plan.user, lines);
    if (!installed) {
        return installed.error();
    }
    for (const auto& w : installed->warnings) {
        log::warn("{}", w);
    }
    if (!installed->refused.empty()) {
        // A file the user controls costs key logins, never sshd or COMMAND.
        log::error(
            "{}; keys for {} were not installed, so key logins as {} fail until it is "
            "fixed (sshd and COMMAND start anyway)",
            installed->refused, plan.user.name, plan.user.name);
    } else {
        log::info("{} key(s) installed for {} in {}/.ssh/authorized_keys", lines.size(),
                  plan.user.name, plan.user.home);
    }

    auto host_keys = hostkeys::prepare_host_keys(s.state_dir, s.host_key_types,
                                                 ssh_keygen_for(s, plan.sshd_path, path_env));
    if (!host_keys) {
        return host_keys.error();
    }
    plan.host_keys = std::move(host_keys->keys);
    plan.unsaved_keys = std::move(host_keys->unsaved);
    for (const auto& key : plan.host_keys) {
        log::info("host key {} {} ({})", key.fingerprint, key.private_path,
                  key.generated ? "new" : "reused");
    }

    if (auto st = sshd::prepare_runtime_dirs(); !st) {
        return st.error();
    }
    sshd::ConfigParams params;
    std::vector<std::string> session_environment = child_environment();
    params.accept_client_locale = apply_locale_plan(session_environment);
    if (cluster_plan != nullptr) {
        const auto* host_key = cluster::find_ed25519_host_key(plan.host_keys);
        if (host_key == nullptr) {
            return util::make_error("cluster mode needs an ed25519 host key, and none was made");
        }
        auto identity = cluster::write_identity(*cluster_plan, plan.user, *host_key);
        if (!identity) {
            return util::make_error("cluster mode: " + identity.error().message);
        }
        for (const auto& w : identity->warnings) {
            log::warn("{}", w);
        }
        params.host_certificate_paths.push_back(identity->certificate_path);
        std::string names;
        for (const auto& p : identity->principals) {
            names += (names.empty() ? "" : ",") + p;
        }
        const auto& topology = cluster_plan->topology();
        log::info("cluster: node {} of {} ({}); host certificate {} for {} signed by cluster CA {}",
                  topology.rank, topology.nodes.size(), topology.source, identity->certificate_path,
                  names, identity->ca_fingerprint);
        // What the launchers read, built from the variables sessions see.
        const auto selection = session_env::select_variables(
            session_environment, {session_env::parse_patterns(s.env_include),
                                  session_env::parse_patterns(s.env_exclude)});
        std::vector<std::string> visible;
        for (const auto& v : selection.variables) {
            visible.push_back(v.name + "=" + v.value);
        }
        auto extra =
            cluster::write_launch_files(topology, plan.user, identity->identity_file, visible);
        if (!extra) {
            return util::make_error("cluster mode: " + extra.error().message);
        }
        session_environment.insert(session_environment.end(), extra->begin(), extra->end());
        if (auto hydra = cluster::hydra_session_entry(topology, session_environment)) {
            session_environment.push_back(*hydra);  // MPICH: cluster/hydra.hpp
        }
        plan.launch_hint = cluster::launch_hint(topology);
        if (topology.source == "RunPod" && topology.rank != 0) {
            cluster::ClusterState worker;
            worker.rank = topology.rank;
            worker.user = plan.user.name;
            worker.identity_file = identity->identity_file;
            worker.known_hosts = plan.user.home + "/.ssh/known_hosts";
            plan.registration = worker;
            plan.primary = topology.nodes.front();
            plan.self = topology.self();
            plan.num_nodes = topology.node_count();
        }
    }
    params.port = s.port;
    for (const auto& key : plan.host_keys) {
        params.host_key_paths.push_back(key.private_path);
    }
    params.use_pam = sshd::image_has_pam_for_sshd();
    params.password_authentication = plan.password_login;
    params.root_password_login = plan.password_login && plan.user.name == "root";
    // Read once per start (sshd is over a megabyte): for PerSourcePenalties
    // and the SetEnv syntax of the session environment.
    const auto sshd_version = sshd::read_openssh_version(plan.sshd_path);
    params.per_source_penalties =
        plan.password_login && sshd::has_per_source_penalties(sshd_version);
    if (!plan.password_login) {
        // The drop-in of an earlier `sshboot password` would turn password
        // login on for an account that no longer has a password.
        ::unlink(password_dropin_path().c_str());
    }
    // The container's environment for SSH sessions; a failure here costs the
    // sessions their environment, not SSH itself.
    bool config_has_secrets = false;
    session_env::ExportOptions env_options;
    env_options.include_patterns = s.env_include;
    env_options.exclude_patterns = s.env_exclude;
    env_options.sshd_path = plan.sshd_path;
    env_options.sshd_version_known = true;
    env_options.sshd_version = sshd_version;
    env_options.user_group = restricted_group(plan.user);
    plan.sshd_env = session_environment;
    auto env_export = session_env::export_environment(plan.sshd_env, env_options);
    if (env_export) {
        params.set_env = env_export->setenv_line;
        params.user_set_env = env_export->user_setenv_line;
        params.set_env_user = plan.user.name;
        config_has_secrets = env_export->restricted;
        if (!env_export->left_out.empty()) {
            plan.sshd_env = session_env::without_names(plan.sshd_env, env_export->left_out);
        }
    } else {
        log::warn("SSH sessions will not see the container's environment: {}",
                  env_export.error().message);
    }
    auto config = sshd::render_config(params);
    if (!config) {
        return config.error();
    }
    if (auto st = util::make_dirs(sshd::k_dropin_dir, 0755); !st) {
        return st.error();
    }
    // Rendered anew before every start of sshd: no fsync (see util::Durability).
    if (auto st =
            util::write_file_atomic(sshd::k_config_path, *config, config_has_secrets ? 0600 : 0644,
                                    std::nullopt, util::Durability::Regenerated);
        !st) {
        return st.error();
    }
    return plan;
}

util::Expected<pid_t> start_sshd(const std::string& sshd_path,
                                 const std::vector<std::string>& env) {
    return util::spawn(sshd::sshd_argv(sshd_path, sshd::k_config_path), {env});
}

std::vector<report::HostKeyInfo> host_key_infos(const std::vector<hostkeys::HostKey>& host_keys) {
    std::vector<report::HostKeyInfo> out;
    for (const auto& key : host_keys) {
        auto parsed = keys::parse_keys(key.public_line);
        if (parsed.keys.empty()) {
            continue;
        }
        const auto& k = parsed.keys.front();
        out.push_back({k.type, k.base64, k.fingerprint(), k.bits});
    }
    return out;
}

std::string alias_name(const cli::Settings& s) {
    if (!s.pod_id.empty()) {
        return s.pod_id;
    }
    if (!s.vast_container_label.empty()) {
        return s.vast_container_label;
    }
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
        return "sshboot";
    }
    return host;
}

// The tunnel's public URL: SSHBOOT_TUNNEL_URL, else RunPod's proxy address
// for the port; "" when neither is known.
std::string public_tunnel_url(const cli::Settings& s) {
    if (!s.tunnel_url.empty()) {
        return s.tunnel_url;
    }
    if (!s.pod_id.empty()) {
        return tunnel::runpod_tunnel_url(s.pod_id, s.tunnel_port).value_or("");
    }
    return "";
}

report::ReportInput report_input(const cli::Settings& s, const std::string& user_name,
                                 const std::vector<hostkeys::HostKey>& host_keys,
                                 const std::string& password, bool password_login,
                                 bool tunnel_running) {
    report::ReportInput input;
    input.sources = report::EndpointSources{s.public_host,
                                            s.public_port,
                                            s.runpod_public_ip,
                                            s.runpod_tcp_port_22,
                                            s.vast_public_ip,
                                            s.vast_tcp_port_22,
                                            s.port,
                                            s.runpod_tcp_port,
                                            s.vast_tcp_port};
    input.connect.user = user_name;
    input.connect.host_keys = host_key_infos(host_keys);
    input.connect.password = password;
    input.connect.password_login = password_login;
    input.connect.alias = alias_name(s);
    input.connect.remote_dir = util::path_exists("/workspace") ? "/workspace/" : "~/";
    if (tunnel_running) {
        input.connect.tunnel_port = s.tunnel_port;
        input.connect.tunnel_url = public_tunnel_url(s);
        input.connect.tunnel_token = !s.tunnel_token.empty() || !s.tunnel_token_file.empty();
    }
    if (!report::detect_endpoint(input.sources)) {
        input.local_address = report::container_address();
    }
    return input;
}

void print_report(const cli::Settings& s, const std::string& user_name,
                  const std::vector<hostkeys::HostKey>& host_keys, const std::string& password,
                  bool password_login, bool tunnel_running) {
    auto text = report::render_report(
        report_input(s, user_name, host_keys, password, password_login, tunnel_running));
    if (!text) {
        log::error("{}", text.error().message);
        return;
    }
    std::fwrite(text->data(), 1, text->size(), stdout);
    std::fflush(stdout);
}

util::Expected<std::string> tunnel_token(const cli::Settings& s) {
    if (s.tunnel_token_file.empty()) {
        return s.tunnel_token;
    }
    auto text = util::read_file(s.tunnel_token_file, 64 << 10);
    if (!text) {
        return util::make_error("SSHBOOT_TUNNEL_TOKEN_FILE: " + text.error().message);
    }
    std::string token = text->substr(0, text->find_first_of("\r\n"));
    if (token.empty() || token.find_first_of(" \t") != std::string::npos) {
        return util::make_error("SSHBOOT_TUNNEL_TOKEN_FILE: " + s.tunnel_token_file +
                                ": the first line must be the token, one word");
    }
    return token;
}

// The HTTPS tunnel phase (SSHBOOT_TUNNEL_PORT): binds the port and gives the
// supervisor what starts the unprivileged server child. Nothing at all when
// the port is unset; a failure costs the tunnel (logged), never SSH or COMMAND.
std::function<util::Expected<pid_t>()> prepare_tunnel(const cli::Settings& s, const Plan& plan) {
    if (!s.tunnel_enabled()) {
        return {};
    }
    tunnel::ServeConfig config;
    config.ssh_port = s.port;
    config.ping_seconds = s.tunnel_ping_seconds;
    config.max_tunnels = s.tunnel_max;
    config.verbose = s.verbose;
    auto token = tunnel_token(s);
    auto page = report::render_tunnel_page(
        report_input(s, plan.user.name, plan.host_keys, std::string(), plan.password_login, true));
    if (!token || !page) {
        log::error("the HTTPS tunnel is off: {}", (!token ? token : page).error().message);
        return {};
    }
    config.token = std::move(*token);
    config.page_text = std::move(*page);
    auto service = tunnel::prepare_service(s.tunnel_port, config);
    if (!service) {
        log::error("the HTTPS tunnel is off: {}", service.error().message);
        return {};
    }
    return [service = std::move(*service)] { return tunnel::spawn(*service); };
}

}  // namespace

util::Expected<std::vector<hostkeys::HostKey>> ensure_host_keys(const cli::Settings& s,
                                                                const std::string& sshd_path,
                                                                const std::string& path_env) {
    return hostkeys::ensure_host_keys(s.state_dir, s.host_key_types,
                                      ssh_keygen_for(s, sshd_path, path_env));
}

void print_connect_report(const cli::Settings& s, const std::string& user,
                          const std::vector<hostkeys::HostKey>& host_keys,
                          const std::string& generated_password, bool password_login) {
    print_report(s, user, host_keys, generated_password, password_login, s.tunnel_enabled());
}

namespace {

// sshd's readiness, checked in short steps so that a stop request during the
// wait is acted on at once.
sshd::ReadyResult wait_for_sshd(pid_t pid, std::uint16_t port) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + k_ready_timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        const auto step =
            std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(100));
        const auto ready = sshd::wait_until_listening(pid, port, step);
        if (ready.state != sshd::Readiness::TimedOut || clock::now() >= deadline ||
            supervise::stop_requested()) {
            return ready;
        }
    }
}

// When SIGTERM or SIGINT arrived during start-up: stops sshd (when started)
// and gives the exit code, as a stop under supervision would: 0 without
// COMMAND, else 128+N (COMMAND never ran).
std::optional<int> stopped_during_startup(const cli::Settings& s, pid_t sshd_pid) {
    const auto sig = supervise::stop_requested();
    if (!sig) {
        return std::nullopt;
    }
    const char* abbrev = ::sigabbrev_np(*sig);
    log::info("received SIG{} during start-up: stopping{}", abbrev ? abbrev : "?",
              s.command_argv.empty() ? "" : " before COMMAND started");
    if (sshd_pid > 0) {
        // sshd's listener exits at once on SIGTERM; SIGKILL after a second.
        ::kill(sshd_pid, SIGTERM);
        int status = 0;
        bool reaped = false;
        for (int i = 0; i < 100 && !reaped; ++i) {
            reaped = ::waitpid(sshd_pid, &status, WNOHANG) != 0;
            if (!reaped) {
                const timespec tick{0, 10'000'000};
                ::nanosleep(&tick, nullptr);
            }
        }
        if (!reaped) {
            ::kill(sshd_pid, SIGKILL);
            ::waitpid(sshd_pid, &status, 0);
        }
    }
    return s.command_argv.empty() ? 0 : 128 + *sig;
}

}  // namespace

int run(const cli::Settings& s) {
    // A bad cluster secret or node list is a usage error: found before
    // anything is written.
    auto cluster_plan = plan_cluster(s);
    if (!cluster_plan) {
        log::error("{}", cluster_plan.error().message);
        return 2;
    }
    if (auto st = supervise::prepare(); !st) {
        log::error("{}", st.error().message);
        return 1;
    }
    ::umask(022);
    if (auto st = supervise::run_hook(supervise::k_pre_start_hook, child_environment()); !st) {
        log::warn("{}", st.error().message);
    }
    if (auto code = stopped_during_startup(s, -1)) {
        return *code;
    }
    if (sshd::port_in_use(s.port)) {
        log::error(
            "port {} is already in use by another process (another sshd started by the image?). "
            "Stop it, or set SSH_PORT to a free port",
            s.port);
        return 1;
    }
    auto plan = apply(s, cluster_plan->has_value() ? &**cluster_plan : nullptr);
    if (!plan) {
        log::error("{}", plan.error().message);
        return 1;
    }
    if (auto code = stopped_during_startup(s, -1)) {
        return *code;
    }
    auto pid = start_sshd(plan->sshd_path, plan->sshd_env);
    if (!pid) {
        log::error("{}", pid.error().message);
        return 1;
    }
    // A new host key is durable before its fingerprint is printed. It is
    // saved while sshd loads: the save mostly waits for the disk (fsync),
    // sshd's start-up for the CPU, so the two overlap; saved once sshd
    // listens, it would slow sshd's answer to the first connection instead.
    if (auto st = plan->unsaved_keys.save(); !st) {
        log::warn(
            "the new host key could not be saved in {}: {}. sshd serves it from {} for now; the "
            "next start makes another, and clients will then see a changed host key",
            plan->unsaved_keys.dir(), st.error().message, hostkeys::k_runtime_key_dir);
    }
    const auto ready = wait_for_sshd(*pid, s.port);
    if (auto code = stopped_during_startup(s, ready.state == sshd::Readiness::Exited ? -1 : *pid)) {
        return *code;
    }
    if (ready.state == sshd::Readiness::Exited) {
        log::error("sshd {} before accepting connections; sshd -t says: {}",
                   util::describe_wait_status(ready.wait_status),
                   sshd::config_test_output(plan->sshd_path, sshd::k_config_path));
        return 1;
    }
    if (ready.state == sshd::Readiness::TimedOut) {
        log::warn("sshd is not listening on port {} after {} s; continuing to supervise it", s.port,
                  std::chrono::seconds(k_ready_timeout).count());
    } else {
        log::info("sshd (pid {}) accepts connections on port {}", *pid, s.port);
    }
    const auto start_tunnel = prepare_tunnel(s, *plan);
    print_report(s, plan->user.name, plan->host_keys, std::string(), plan->password_login,
                 static_cast<bool>(start_tunnel));
    if (!plan->launch_hint.empty()) {
        std::string hint;
        for (const auto& line : plan->launch_hint) {
            hint += line + "\n";
        }
        std::fwrite(hint.data(), 1, hint.size(), stdout);
        std::fflush(stdout);
    }
    if (plan->registration) {
        // In the background: COMMAND and PID 1 never wait for the primary.
        cluster::start_registration(*plan->registration, plan->primary, plan->self,
                                    plan->num_nodes);
    }
    if (auto st = supervise::run_hook(supervise::k_post_start_hook, child_environment()); !st) {
        log::warn("{}", st.error().message);
    }
    if (auto code = stopped_during_startup(s, *pid)) {
        return *code;
    }

    supervise::Config config;
    config.start_sshd = [sshd_path = plan->sshd_path, sshd_env = plan->sshd_env] {
        return start_sshd(sshd_path, sshd_env);
    };
    config.sshd_pid = *pid;
    config.start_tunnel = start_tunnel;
    config.command = s.command_argv;
    config.command_env = child_environment();
    config.keep_alive = s.keep_alive;
    config.stop_timeout_seconds = s.stop_timeout_seconds;
    config.signal_process_group = s.signal_process_group;
    return supervise::supervise(config);
}

}  // namespace sshboot::run
