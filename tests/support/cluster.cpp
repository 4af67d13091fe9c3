#include "support/cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "video2mp3/domain/random_id.h"

namespace video2mp3::testing {

namespace {

std::vector<std::string> RoleArgv(const std::string& role,
                                  const std::vector<std::string>& arguments) {
    std::vector<std::string> argv = {VIDEO2MP3_BINARY, role};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return argv;
}

std::map<std::string, std::string> WithLogLevel(std::map<std::string, std::string> env) {
    env.try_emplace("VIDEO2MP3_LOG_LEVEL", "info");
    return env;
}

}  // namespace

RoleProcess::RoleProcess(std::string role, const std::vector<std::string>& arguments,
                         std::map<std::string, std::string> env,
                         const std::filesystem::path& log_path)
    : role_(std::move(role)),
      process_(RoleArgv(role_, arguments), WithLogLevel(std::move(env)), log_path) {
    const std::string wanted = "video2mp3 " + role_ + ": ";
    const std::string line = process_.WaitForLine(wanted, std::chrono::seconds(60));
    if (line.empty()) {
        ADD_FAILURE() << "video2mp3 " << role_ << " did not start; log:\n" << Log();
        return;
    }
    started_ = true;
    if (line.find("listening on http://") != std::string::npos) {
        port_ = std::stoi(line.substr(line.rfind(':') + 1));
    }
}

bool RoleProcess::WaitForLog(const std::string& text, std::chrono::milliseconds limit) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (Log().find(text) == std::string::npos) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

Cluster::Cluster(ClusterServers servers, std::map<std::string, std::string> extra_env)
    : extra_env_(std::move(extra_env)) {
    const std::string tag = RandomId().substr(0, 12);
    amqp_url_ = servers.amqp.empty() ? SharedServerUrl("amqp") : servers.amqp;
    const std::string mongo =
        servers.mongodb.empty() ? SharedServerUrl("congodb") : servers.mongodb;
    mongodb_uri_ = WithDatabase(mongo, "v2m_" + tag);
    const std::string postgres =
        servers.postgres.empty() ? SharedServerUrl("postgres") : servers.postgres;
    if (servers.smtp.empty()) {
        own_smtp_ = std::make_unique<TestServer>("smtp");
        smtp_url_ = own_smtp_->Url();
        mail_dir_ = own_smtp_->DataDir() / "mail";
    } else {
        smtp_url_ = servers.smtp;
    }
    video_queue_ = "video-" + tag;
    mp3_queue_ = "mp3-" + tag;
    jwt_secret_ = RandomId() + RandomId();

    // A database of our own on the (possibly shared) PostgreSQL server.
    const std::string database = "v2m_" + tag;
    const CommandResult created =
        Run({"psql", postgres, "-q", "-c", "CREATE DATABASE " + database});
    EXPECT_EQ(created.exit_code, 0) << created.err;
    postgres_url_ = WithDatabase(postgres, database);
}

Cluster::~Cluster() {
    // Converters and the notifier first, so nothing they do is cut off by the gateway going.
    converters_.clear();
    notifier_.reset();
    gateway_.reset();
    auth_.reset();
}

std::filesystem::path Cluster::LogPath(const std::string& name) const {
    return dir_.Path() / (name + ".log");
}

std::map<std::string, std::string> Cluster::Env() const {
    std::map<std::string, std::string> env = {
        {"VIDEO2MP3_AMQP_URL", amqp_url_},
        {"VIDEO2MP3_MONGODB_URI", mongodb_uri_},
        {"VIDEO2MP3_POSTGRES_URL", postgres_url_},
        {"VIDEO2MP3_SMTP_URL", smtp_url_},
        {"VIDEO2MP3_SMTP_TLS", "off"},
        {"VIDEO2MP3_MAIL_FROM", "video2mp3 <noreply@video2mp3.test>"},
        {"VIDEO2MP3_VIDEO_QUEUE", video_queue_},
        {"VIDEO2MP3_MP3_QUEUE", mp3_queue_},
        {"VIDEO2MP3_JWT_SECRET", jwt_secret_},
        {"VIDEO2MP3_SCRATCH_DIR", (dir_.Path() / "scratch").string()},
    };
    if (auth_ && auth_->Port() > 0) {
        env["VIDEO2MP3_AUTH_URL"] = "http://127.0.0.1:" + std::to_string(auth_->Port());
    }
    if (gateway_ && gateway_->Port() > 0) {
        env["VIDEO2MP3_PUBLIC_URL"] = "http://127.0.0.1:" + std::to_string(gateway_->Port());
    } else {
        env["VIDEO2MP3_PUBLIC_URL"] = "http://video2mp3.test";
    }
    for (const auto& [name, value] : extra_env_) {
        env[name] = value;
    }
    return env;
}

void Cluster::StartAll(int converters) {
    StartAuth();
    StartGateway();
    for (int i = 0; i < converters; ++i) {
        StartConverter();
    }
    StartNotifier();
}

RoleProcess& Cluster::StartAuth() {
    auth_ = std::make_unique<RoleProcess>(
        "auth", std::vector<std::string>{"--listen", "127.0.0.1:0"}, Env(), LogPath("auth"));
    return *auth_;
}

RoleProcess& Cluster::StartGateway() {
    auto env = Env();
    env.erase("VIDEO2MP3_PUBLIC_URL");  // links then name the address it listens on
    gateway_ = std::make_unique<RoleProcess>(
        "gateway", std::vector<std::string>{"--listen", "127.0.0.1:0"}, env, LogPath("gateway"));
    return *gateway_;
}

RoleProcess& Cluster::StartConverter(std::map<std::string, std::string> env) {
    auto all = Env();
    for (auto& [name, value] : env) {
        all[name] = value;
    }
    converters_.push_back(
        std::make_unique<RoleProcess>("converter", std::vector<std::string>{}, all,
                                      LogPath("converter-" + std::to_string(++log_counter_))));
    return *converters_.back();
}

RoleProcess& Cluster::StartNotifier() {
    notifier_ = std::make_unique<RoleProcess>("notifier", std::vector<std::string>{}, Env(),
                                              LogPath("notifier"));
    return *notifier_;
}

void Cluster::AddUser(const std::string& email, const std::string& password) {
    const std::string command = "printf '%s\\n' '" + password +
                                "' | '" VIDEO2MP3_BINARY "' user add '" + email +
                                "' --postgres-url '" + postgres_url_ + "'";
    const CommandResult result = Run({"sh", "-c", command});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
}

std::vector<std::string> Cluster::Mails() const {
    std::vector<std::pair<int, std::string>> numbered;
    if (!mail_dir_.empty() && std::filesystem::exists(mail_dir_)) {
        for (const auto& entry : std::filesystem::directory_iterator(mail_dir_)) {
            const std::string name = entry.path().filename().string();
            if (entry.path().extension() == ".eml" && name[0] != '.') {
                numbered.emplace_back(std::stoi(name), testing::ReadText(entry.path()));
            }
        }
    }
    std::sort(numbered.begin(), numbered.end());
    std::vector<std::string> mails;
    for (auto& [number, text] : numbered) {
        mails.push_back(std::move(text));
    }
    return mails;
}

std::string Cluster::Logs() const {
    std::string logs;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.Path())) {
        if (entry.path().extension() == ".log") {
            logs +=
                "==== " + entry.path().filename().string() + "\n" + testing::ReadText(entry.path());
        }
    }
    return logs;
}

}  // namespace video2mp3::testing
