#pragma once

// Distributed mode for end-to-end tests: the four roles as child processes (video2mp3
// gateway|auth|converter|notifier) against real RabbitMQ, PostgreSQL, MongoDB-protocol and
// SMTP servers.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/media_tools.h"
#include "support/test_servers.h"

namespace video2mp3::testing {

/// One `video2mp3 ROLE` child process. Its stderr (the log) goes to a file; the constructor
/// returns once it printed its ready line ("listening on URL" or "consuming").
class RoleProcess {
 public:
    RoleProcess(std::string role, const std::vector<std::string>& arguments,
                std::map<std::string, std::string> env, const std::filesystem::path& log_path);
    RoleProcess(const RoleProcess&) = delete;
    RoleProcess& operator=(const RoleProcess&) = delete;

    /// The port it listens on (gateway, auth), else 0.
    int Port() const { return port_; }
    bool Started() const { return started_; }
    bool Running() const { return process_.Running(); }
    /// SIGKILL, as a crash or an OOM kill would; waits until it is gone.
    void Kill() { process_.Kill(); }
    /// SIGTERM; waits and returns the exit status.
    int Terminate() { return process_.Terminate(); }
    /// Sends `signal` without waiting; Wait() for the exit status.
    void Signal(int signal) { process_.Signal(signal); }
    int Wait() { return process_.Wait(); }
    std::string Log() const { return process_.Log(); }
    /// Waits until the log contains `text`; false when it did not within `limit`.
    bool WaitForLog(const std::string& text, std::chrono::milliseconds limit) const;

 private:
    std::string role_;
    ChildProcess process_;
    int port_ = 0;
    bool started_ = false;
};

/// Which servers a cluster uses. Empty URLs mean the shared servers of the ctest run.
struct ClusterServers {
    std::string amqp = {};
    std::string postgres = {};
    std::string mongodb = {};
    std::string smtp = {};
};

/// The four roles with names of their own (queues, databases), so clusters of parallel
/// tests share the servers without seeing each other's messages or data.
class Cluster {
 public:
    /// Creates the databases; starts nothing yet. Its own SMTP sink unless `servers.smtp`.
    explicit Cluster(ClusterServers servers = {},
                     std::map<std::string, std::string> extra_env = {});
    ~Cluster();

    /// The environment every role gets: URLs, queue names, the JWT secret.
    std::map<std::string, std::string> Env() const;

    /// Starts auth, gateway, `converters` converter processes and the notifier.
    void StartAll(int converters = 1);
    RoleProcess& StartAuth();
    RoleProcess& StartGateway();
    RoleProcess& StartConverter(std::map<std::string, std::string> env = {});
    RoleProcess& StartNotifier();

    /// Adds a user through `video2mp3 user add --postgres-url`.
    void AddUser(const std::string& email, const std::string& password);

    int GatewayPort() const { return gateway_ ? gateway_->Port() : 0; }
    RoleProcess* Gateway() { return gateway_.get(); }
    RoleProcess* Auth() { return auth_.get(); }
    RoleProcess* Notifier() { return notifier_.get(); }
    std::vector<std::unique_ptr<RoleProcess>>& Converters() { return converters_; }

    /// The e-mails the SMTP sink accepted so far, oldest first (whole messages).
    std::vector<std::string> Mails() const;
    /// The logs of every role, for failure messages.
    std::string Logs() const;

    const std::string& VideoQueue() const { return video_queue_; }
    const std::string& Mp3Queue() const { return mp3_queue_; }
    const std::string& MongoUri() const { return mongodb_uri_; }
    const std::string& AmqpUrl() const { return amqp_url_; }
    const std::string& PostgresUrl() const { return postgres_url_; }
    const std::filesystem::path& Dir() const { return dir_.Path(); }

 private:
    std::filesystem::path LogPath(const std::string& name) const;

    TempDir dir_;
    std::unique_ptr<TestServer> own_smtp_;
    std::map<std::string, std::string> extra_env_;
    std::string amqp_url_;
    std::string postgres_url_;
    std::string mongodb_uri_;
    std::string smtp_url_;
    std::filesystem::path mail_dir_;
    std::string video_queue_;
    std::string mp3_queue_;
    std::string jwt_secret_;
    std::unique_ptr<RoleProcess> auth_;
    std::unique_ptr<RoleProcess> gateway_;
    std::unique_ptr<RoleProcess> notifier_;
    std::vector<std::unique_ptr<RoleProcess>> converters_;
    int log_counter_ = 0;
};

}  // namespace video2mp3::testing
