#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cluster/launch_files.hpp"
#include "keys/authorized_keys.hpp"

using namespace sshboot;

namespace {

class LaunchTempDir {
  public:
    LaunchTempDir() {
        char tmpl[] = "/tmp/sshboot-launch-XXXXXX";
        m_path = ::mkdtemp(tmpl);
    }
    ~LaunchTempDir() { std::filesystem::remove_all(m_path); }
    LaunchTempDir(const LaunchTempDir&) = delete;
    LaunchTempDir& operator=(const LaunchTempDir&) = delete;
    const std::string& path() const { return m_path; }

  private:
    std::string m_path;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

cluster::Topology three_nodes(int slots = 2) {
    cluster::Topology t;
    t.rank = 1;
    t.slots = slots;
    t.source = "SSHBOOT_CLUSTER_HOSTS";
    t.nodes = {{0, "127.0.0.1", 4000}, {1, "127.0.0.1", 4001}, {2, "fd00::3", 22}};
    return t;
}

}  // namespace

TEST(render_slots_hostfile, one_alias_per_node_with_slots) {
    EXPECT_EQ(cluster::render_slots_hostfile(three_nodes(8)),
              "node-0 slots=8\nnode-1 slots=8\nnode-2 slots=8\n");
}

TEST(render_mpich_hostfile, alias_colon_slots) {
    EXPECT_EQ(cluster::render_mpich_hostfile(three_nodes(4)), "node-0:4\nnode-1:4\nnode-2:4\n");
}

TEST(render_ssh_config_block, one_host_per_node_then_host_star) {
    const auto lines =
        cluster::render_ssh_config_block(three_nodes(), "alice", "/home/alice/.ssh/id_ed25519");
    std::string text;
    for (const auto& l : lines) {
        text += l + "\n";
    }
    EXPECT_NE(text.find("Host node-0\n    HostName 127.0.0.1\n    Port 4000\n"
                        "    HostKeyAlias node-0\n    User alice\n"
                        "    IdentityFile /home/alice/.ssh/id_ed25519\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("Host node-2\n    HostName fd00::3\n    Port 22\n"), std::string::npos);
    for (const char* want : {"BatchMode yes", "StrictHostKeyChecking yes", "ConnectionAttempts",
                             "IdentitiesOnly yes"}) {
        EXPECT_NE(text.find(want), std::string::npos) << want;
    }
    EXPECT_EQ(lines.back(), "Host *");
    const auto spaced = cluster::render_ssh_config_block(three_nodes(), "bob", "/home/my bob/k");
    EXPECT_NE(std::find(spaced.begin(), spaced.end(), "    IdentityFile \"/home/my bob/k\""),
              spaced.end());
}

TEST(merge_ssh_config, new_block_goes_first_and_user_lines_stay) {
    const std::string user = "Host github.com\n    User git\n";
    const std::string merged = cluster::merge_ssh_config(user, {"Host node-0", "Host *"});
    EXPECT_EQ(merged, std::string(cluster::k_config_begin) + "\nHost node-0\nHost *\n" +
                          std::string(cluster::k_config_end) + "\n" + user);
    // Merging again replaces the block in place and keeps the user's lines.
    const std::string again = cluster::merge_ssh_config(merged, {"Host node-1", "Host *"});
    EXPECT_EQ(again, std::string(cluster::k_config_begin) + "\nHost node-1\nHost *\n" +
                         std::string(cluster::k_config_end) + "\n" + user);
    EXPECT_EQ(cluster::merge_ssh_config(again, {"Host node-1", "Host *"}), again);
    // A block the user moved stays where it is.
    const std::string moved = user + std::string(cluster::k_config_begin) + "\nold\n" +
                              std::string(cluster::k_config_end) + "\n# tail\n";
    EXPECT_EQ(cluster::merge_ssh_config(moved, {"new"}),
              user + std::string(cluster::k_config_begin) + "\nnew\n" +
                  std::string(cluster::k_config_end) + "\n# tail\n");
    // The authorized_keys markers are not this block's.
    EXPECT_EQ(keys::merge_managed_block(moved, {}), moved);
}

TEST(render_deepspeed_env, carries_launcher_variables_without_secrets) {
    const std::string out = cluster::render_deepspeed_env({
        "PATH=/opt/conda/bin:/usr/bin",
        "NCCL_DEBUG=INFO",
        "LD_LIBRARY_PATH=/usr/local/cuda/lib64",
        "MASTER_ADDR=10.0.0.1",
        "MASTER_PORT=29500",
        "CUDA_HOME=/usr/local/cuda",
        "PYTHONPATH=/work",
        "HF_TOKEN=hf_secret",
        "NCCL_API_KEY=nope",
        "SSHBOOT_CLUSTER_SECRET=nope",
        "EDITOR=vim",
        "NCCL_MULTI=a\nb",
        "NOEQUALS",
    });
    EXPECT_EQ(out,
              "CUDA_HOME=/usr/local/cuda\nLD_LIBRARY_PATH=/usr/local/cuda/lib64\n"
              "MASTER_ADDR=10.0.0.1\nMASTER_PORT=29500\nNCCL_DEBUG=INFO\n"
              "PATH=/opt/conda/bin:/usr/bin\nPYTHONPATH=/work\n");
    EXPECT_EQ(out.find("secret"), std::string::npos);
}

TEST(session_entries, mpi_hostfiles_and_root_consent) {
    cluster::LaunchPaths paths;
    const auto root = cluster::session_entries(paths, "root");
    EXPECT_NE(
        std::find(root.begin(), root.end(), "OMPI_MCA_orte_default_hostfile=/job/hostfile.openmpi"),
        root.end());
    EXPECT_NE(std::find(root.begin(), root.end(), "HYDRA_HOST_FILE=/job/hostfile.mpich"),
              root.end());
    EXPECT_NE(std::find(root.begin(), root.end(), "OMPI_ALLOW_RUN_AS_ROOT=1"), root.end());
    const auto alice = cluster::session_entries(paths, "alice");
    EXPECT_EQ(std::find(alice.begin(), alice.end(), "OMPI_ALLOW_RUN_AS_ROOT=1"), alice.end());
}

TEST(parse_state, round_trips_render_state) {
    cluster::ClusterState s{1, "alice", "/home/alice/.ssh/id_ed25519",
                            "/home/alice/.ssh/known_hosts", three_nodes().nodes};
    auto parsed = cluster::parse_state(cluster::render_state(s));
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->rank, 1);
    EXPECT_EQ(parsed->user, "alice");
    EXPECT_EQ(parsed->identity_file, s.identity_file);
    EXPECT_EQ(parsed->known_hosts, s.known_hosts);
    ASSERT_EQ(parsed->nodes.size(), 3u);
    EXPECT_EQ(parsed->nodes[2].host, "fd00::3");
    EXPECT_EQ(parsed->nodes[1].port, 4001);
}

TEST(parse_state, rejects_damaged_state) {
    EXPECT_FALSE(cluster::parse_state(""));
    EXPECT_FALSE(cluster::parse_state("rank 0\nuser a\n"));
    EXPECT_FALSE(cluster::parse_state("rank 2\nuser a\nnode 0 22 h\n"));
    EXPECT_FALSE(cluster::parse_state("rank 0\nuser a\nnode 0 0 h\n"));
    EXPECT_FALSE(cluster::parse_state("rank 0\nuser a\nnode 1 22 h\n"));
    EXPECT_TRUE(cluster::parse_state("rank 0\nuser a\nnode 0 22 h\nfuture thing\n"));
}

TEST(write_launch_files, writes_every_file_and_keeps_user_config) {
    LaunchTempDir dir;
    const std::string home = dir.path() + "/home";
    ASSERT_EQ(::mkdir(home.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((home + "/.ssh").c_str(), 0700), 0);
    { std::ofstream(home + "/.ssh/config") << "Host github.com\n    User git\n"; }
    accounts::PasswdEntry user;
    user.name = "alice";
    user.uid = ::getuid();
    user.gid = ::getgid();
    user.home = home;
    cluster::LaunchPaths paths;
    paths.hostfile = dir.path() + "/job/hostfile";
    paths.openmpi_hostfile = dir.path() + "/job/hostfile.openmpi";
    paths.mpich_hostfile = dir.path() + "/job/hostfile.mpich";
    paths.state_file = dir.path() + "/run/cluster";
    paths.trusted_base = dir.path();
    auto env = cluster::write_launch_files(three_nodes(), user, home + "/.ssh/id_ed25519",
                                           {"PATH=/usr/bin", "HF_TOKEN=x"}, paths);
    ASSERT_TRUE(env) << env.error().message;
    EXPECT_NE(std::find(env->begin(), env->end(),
                        "OMPI_MCA_orte_default_hostfile=" + paths.openmpi_hostfile),
              env->end());
    EXPECT_EQ(slurp(paths.hostfile), "node-0 slots=2\nnode-1 slots=2\nnode-2 slots=2\n");
    EXPECT_EQ(slurp(paths.openmpi_hostfile), slurp(paths.hostfile));
    EXPECT_EQ(slurp(paths.mpich_hostfile), "node-0:2\nnode-1:2\nnode-2:2\n");
    EXPECT_EQ(slurp(home + "/.deepspeed_env"), "PATH=/usr/bin\n");
    const std::string config = slurp(home + "/.ssh/config");
    EXPECT_EQ(config.find(cluster::k_config_begin), 0u);
    EXPECT_NE(config.find("Host node-2\n"), std::string::npos);
    EXPECT_NE(config.find("Host github.com\n    User git\n"), std::string::npos);
    struct stat st {};
    ASSERT_EQ(::stat((home + "/.ssh/config").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    auto state = cluster::parse_state(slurp(paths.state_file));
    ASSERT_TRUE(state) << state.error().message;
    EXPECT_EQ(state->known_hosts, home + "/.ssh/known_hosts");
    EXPECT_EQ(state->nodes.size(), 3u);

    // Again: nothing changes.
    ASSERT_TRUE(cluster::write_launch_files(three_nodes(), user, home + "/.ssh/id_ed25519",
                                            {"PATH=/usr/bin"}, paths));
    EXPECT_EQ(slurp(home + "/.ssh/config"), config);
}

TEST(write_launch_files, refuses_a_symlinked_ssh_config_and_writes_the_rest) {
    LaunchTempDir dir;
    const std::string home = dir.path() + "/home";
    ASSERT_EQ(::mkdir(home.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((home + "/.ssh").c_str(), 0700), 0);
    { std::ofstream(dir.path() + "/target") << "keep\n"; }
    ASSERT_EQ(::symlink((dir.path() + "/target").c_str(), (home + "/.ssh/config").c_str()), 0);
    accounts::PasswdEntry user;
    user.name = "alice";
    user.uid = ::getuid();
    user.gid = ::getgid();
    user.home = home;
    cluster::LaunchPaths paths;
    paths.hostfile = dir.path() + "/job/hostfile";
    paths.openmpi_hostfile = dir.path() + "/job/o";
    paths.mpich_hostfile = dir.path() + "/job/m";
    paths.state_file = dir.path() + "/run/cluster";
    paths.trusted_base = dir.path();
    auto env =
        cluster::write_launch_files(three_nodes(), user, home + "/.ssh/id_ed25519", {}, paths);
    // Only that piece is refused: the hostfiles are written, the target kept.
    ASSERT_TRUE(env) << env.error().message;
    EXPECT_EQ(slurp(dir.path() + "/target"), "keep\n");
    EXPECT_EQ(slurp(paths.hostfile), "node-0 slots=2\nnode-1 slots=2\nnode-2 slots=2\n");
    struct stat st {};
    ASSERT_EQ(::lstat((home + "/.ssh/config").c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(launch_hint, rank_0_says_how_to_launch) {
    auto t = three_nodes(2);
    t.rank = 0;
    const auto lines = cluster::launch_hint(t);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_NE(lines[0].find("3 node(s)"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("this is node-0"), std::string::npos) << lines[0];
    EXPECT_NE(lines[2].find("deepspeed --hostfile /job/hostfile "), std::string::npos) << lines[2];
    EXPECT_NE(lines[3].find("mpirun --hostfile /job/hostfile.openmpi -np 6 "), std::string::npos)
        << lines[3];
    t.rank = 2;
    EXPECT_EQ(cluster::launch_hint(t).size(), 1u);
}

TEST(write_launch_files, an_unwritable_hostfile_costs_only_itself_and_its_variable) {
    LaunchTempDir dir;
    const std::string home = dir.path() + "/home";
    ASSERT_EQ(::mkdir(home.c_str(), 0755), 0);
    { std::ofstream(dir.path() + "/file") << "not a directory\n"; }
    accounts::PasswdEntry user;
    user.name = "alice";
    user.uid = ::getuid();
    user.gid = ::getgid();
    user.home = home;
    cluster::LaunchPaths paths;
    paths.hostfile = dir.path() + "/job/hostfile";
    paths.openmpi_hostfile = dir.path() + "/file/hostfile.openmpi";  // under a regular file
    paths.mpich_hostfile = dir.path() + "/job/hostfile.mpich";
    paths.state_file = dir.path() + "/run/cluster";
    paths.trusted_base = dir.path();
    auto env =
        cluster::write_launch_files(three_nodes(), user, home + "/.ssh/id_ed25519", {}, paths);
    ASSERT_TRUE(env) << env.error().message;
    auto has_prefix = [&](const std::string& prefix) {
        return std::any_of(env->begin(), env->end(),
                           [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
    };
    EXPECT_FALSE(has_prefix("OMPI_MCA_orte_default_hostfile="));
    EXPECT_TRUE(has_prefix("HYDRA_HOST_FILE="));
    EXPECT_EQ(slurp(paths.mpich_hostfile), "node-0:2\nnode-1:2\nnode-2:2\n");
    EXPECT_NE(slurp(home + "/.ssh/config").find("Host node-2"), std::string::npos);
}

TEST(render_ssh_config_block, a_literal_percent_is_escaped_for_ssh_tokens) {
    cluster::Topology t;
    t.source = "SSHBOOT_CLUSTER_HOSTS";
    t.nodes = {{0, "fe80::1%eth0", 22}};
    const auto lines = cluster::render_ssh_config_block(t, "alice", "/home/alice/.ssh/k%1");
    EXPECT_NE(std::find(lines.begin(), lines.end(), "    HostName fe80::1%%eth0"), lines.end());
    EXPECT_NE(std::find(lines.begin(), lines.end(), "    IdentityFile /home/alice/.ssh/k%%1"),
              lines.end());
}

TEST(cluster_state, runpod_state_keeps_missing_ranks_and_the_expected_count) {
    cluster::ClusterState s{0,
                            "root",
                            "/root/.ssh/id_ed25519",
                            "/root/.ssh/known_hosts",
                            {{0, "10.65.0.2", 22}, {2, "10.65.0.4", 22}},
                            4,
                            3};
    auto back = cluster::parse_state(cluster::render_state(s));
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->nodes.size(), 2u);
    EXPECT_EQ(back->nodes[1].rank, 2);
    EXPECT_EQ(back->slots, 4);
    EXPECT_EQ(back->expect, 3);
    EXPECT_EQ(back->node_count(), 3);
    // Without an expected count the ranks must be 0, 1, 2, ...
    s.expect = 0;
    EXPECT_FALSE(cluster::parse_state(cluster::render_state(s)));
    // Ranks out of order are refused either way.
    s.expect = 3;
    s.nodes = {{0, "a", 22}, {2, "c", 22}, {1, "b", 22}};
    EXPECT_FALSE(cluster::parse_state(cluster::render_state(s)));
}

namespace {

struct LaunchFixture {
    LaunchTempDir dir;
    std::string home = dir.path() + "/home";
    accounts::PasswdEntry user;
    cluster::LaunchPaths paths;
    LaunchFixture() {
        ::mkdir(home.c_str(), 0755);
        ::mkdir((home + "/.ssh").c_str(), 0700);
        user.name = "alice";
        user.uid = ::getuid();
        user.gid = ::getgid();
        user.home = home;
        paths.hostfile = dir.path() + "/job/hostfile";
        paths.openmpi_hostfile = dir.path() + "/job/hostfile.openmpi";
        paths.mpich_hostfile = dir.path() + "/job/hostfile.mpich";
        paths.state_file = dir.path() + "/run/cluster";
        paths.trusted_base = dir.path();
    }
    util::Expected<std::vector<std::string>> write() {
        return cluster::write_launch_files(three_nodes(), user, home + "/.ssh/id_ed25519",
                                           {"PATH=/usr/bin"}, paths);
    }
};

}  // namespace

TEST(write_launch_files, refuses_a_hard_linked_ssh_config_or_deepspeed_env_and_copies_nothing) {
    for (const std::string name : {"/.ssh/config", "/.deepspeed_env"}) {
        LaunchFixture f;
        const std::string other = f.dir.path() + "/shadow";
        { std::ofstream(other) << "root:$y$secret-hash:19000::::::\n"; }
        ASSERT_EQ(::chmod(other.c_str(), 0600), 0);
        ASSERT_EQ(::link(other.c_str(), (f.home + name).c_str()), 0);
        auto env = f.write();
        // Only that piece is refused: the hostfiles are written.
        ASSERT_TRUE(env) << env.error().message;
        EXPECT_EQ(slurp(f.paths.hostfile), "node-0 slots=2\nnode-1 slots=2\nnode-2 slots=2\n");
        struct stat st {};
        ASSERT_EQ(::stat((f.home + name).c_str(), &st), 0);
        EXPECT_EQ(st.st_nlink, 2u) << name << " was replaced";
        EXPECT_EQ(slurp(other), "root:$y$secret-hash:19000::::::\n");
        // Nothing under the home holds the other name's text.
        for (const auto& e : std::filesystem::recursive_directory_iterator(f.home)) {
            if (e.is_regular_file() && e.path().string() != f.home + name) {
                EXPECT_EQ(slurp(e.path().string()).find("secret-hash"), std::string::npos)
                    << e.path();
            }
        }
    }
}

TEST(write_launch_files, refuses_a_job_directory_that_is_a_symlink_and_writes_nothing_through_it) {
    LaunchFixture f;
    const std::string elsewhere = f.dir.path() + "/elsewhere";
    ASSERT_EQ(::mkdir(elsewhere.c_str(), 0755), 0);
    ASSERT_EQ(::symlink(elsewhere.c_str(), (f.dir.path() + "/job").c_str()), 0);
    auto env = f.write();
    ASSERT_TRUE(env) << env.error().message;
    EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
    // The launchers' variables name no hostfile that was not written.
    for (const auto& e : *env) {
        EXPECT_FALSE(e.starts_with("OMPI_MCA_orte_default_hostfile=")) << e;
        EXPECT_FALSE(e.starts_with("HYDRA_HOST_FILE=")) << e;
    }
    // rewrite_node_files (cluster register) refuses it too.
    cluster::ClusterState state{
        0, "root", f.home + "/.ssh/id_ed25519", f.home + "/.ssh/known_hosts", three_nodes().nodes,
        2, 3};
    auto st = cluster::rewrite_node_files(state, f.paths);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("is a symlink"), std::string::npos) << st.error().message;
    EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
}
