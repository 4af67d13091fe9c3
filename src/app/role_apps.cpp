#include "app/role_apps.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "adapters/amqp/amqp_job_queue.h"
#include "adapters/http/http_authenticator.h"
#include "adapters/mail/smtp_mailer.h"
#include "adapters/mongo/gridfs_blob_store.h"
#include "adapters/mongo/mongo_client_pool.h"
#include "adapters/mongo/mongo_job_store.h"
#include "adapters/postgres/postgres_user_store.h"
#include "app/auth_server.h"
#include "app/environment.h"
#include "app/health_server.h"
#include "app/renamed_job_queue.h"
#include "app/shutdown_signal.h"
#include "gateway/gateway.h"
#include "gateway/metrics.h"
#include "video2mp3/auth/auth_service.h"
#include "video2mp3/auth/login_throttle.h"
#include "video2mp3/auth/password_hasher.h"
#include "video2mp3/auth/token_service.h"
#include "video2mp3/ports/errors.h"
#include "workers/converter_worker.h"
#include "workers/notifier_worker.h"

namespace video2mp3::app {

namespace {

/// The job queue a role uses: RabbitMQ, under the configured queue names.
class RoleQueue {
 public:
    RoleQueue(const QueueSettings& settings, const std::string& role, int prefetch) {
        adapters::AmqpConfig amqp;
        amqp.url = settings.amqp_url;
        amqp.ca_file = settings.amqp_ca_file;
        amqp.heartbeat = settings.heartbeat;
        amqp.prefetch = prefetch;
        amqp.delivery_limit = settings.delivery_limit;
        amqp.publish_timeout = settings.publish_timeout;
        amqp.connection_name = "video2mp3 " + role;
        try {
            amqp_ = std::make_unique<adapters::AmqpJobQueue>(amqp);
        } catch (const std::invalid_argument& error) {
            throw ConfigError(std::string("VIDEO2MP3_AMQP_URL: ") + error.what());
        }
        renamed_ =
            std::make_unique<RenamedJobQueue>(*amqp_, settings.video_queue, settings.mp3_queue);
        DeclareAtStart({settings.video_queue, settings.mp3_queue});
    }

    JobQueue& Queue() { return *renamed_; }

 private:
    /// Declares the queues now when the broker answers, so a queue that exists with other
    /// arguments stops the role at start (exit 78) instead of failing every job later. A
    /// broker that is not up yet is no reason to stop: the queues are declared on connect.
    void DeclareAtStart(const std::vector<std::string>& queues) {
        for (const std::string& queue : queues) {
            try {
                amqp_->Declare(queue, std::chrono::seconds(3));
            } catch (const StorageError& error) {
                if (!error.Transient()) {
                    throw ConfigError(
                        "VIDEO2MP3_DELIVERY_LIMIT / VIDEO2MP3_VIDEO_QUEUE / VIDEO2MP3_MP3_QUEUE: " +
                        std::string(error.what()) +
                        " (every role must use the settings the queue was made with, or the "
                        "queue must be deleted first)");
                }
                spdlog::warn("amqp: queue {} not declared yet ({}); it will be on connecting",
                             queue, error.what());
            }
        }
    }

    std::unique_ptr<adapters::AmqpJobQueue> amqp_;
    std::unique_ptr<RenamedJobQueue> renamed_;
};

/// MongoDB: the GridFS buckets and the jobs collection, sharing one client pool.
struct MongoStores {
    explicit MongoStores(const std::string& uri) {
        try {
            pool = std::make_shared<adapters::MongoClientPool>(uri);
        } catch (const std::invalid_argument& error) {
            throw ConfigError(std::string("VIDEO2MP3_MONGODB_URI: ") + error.what());
        }
        blobs = std::make_unique<adapters::GridFsBlobStore>(pool);
        jobs = std::make_unique<adapters::MongoJobStore>(pool);
    }

    std::shared_ptr<adapters::MongoClientPool> pool;
    std::unique_ptr<adapters::GridFsBlobStore> blobs;
    std::unique_ptr<adapters::MongoJobStore> jobs;
};

/// Makes something that needs a server (`make`), trying again with growing pauses while the
/// server is unreachable. Nothing when a shutdown signal came first.
template <typename Make>
auto WaitForServer(ShutdownSignal& shutdown, const std::string& what, Make make)
    -> std::optional<decltype(make())> {
    auto pause = std::chrono::milliseconds(500);
    for (int attempt = 1;; ++attempt) {
        try {
            return make();
        } catch (const PortError& error) {
            if (!error.Transient()) {
                throw;
            }
            spdlog::warn("{} is not reachable yet (attempt {}): {}; trying again in {} ms", what,
                         attempt, error.what(), pause.count());
        }
        if (const auto signal = shutdown.WaitFor(pause)) {
            spdlog::info("{} received while waiting for {}", ShutdownSignal::Name(*signal), what);
            return std::nullopt;
        }
        pause = std::min(pause * 2, std::chrono::milliseconds(15000));
    }
}

/// Gauges every role with a queue reports: queue depths.
gateway::Metrics::GaugeReader QueueGauges(JobQueue& queue) {
    return [&queue] {
        std::map<std::string, double> gauges;
        for (const char* name : {kVideoQueue, kMp3Queue}) {
            try {
                gauges[std::string("video2mp3_queue_depth{queue=\"") + name + "\"}"] =
                    static_cast<double>(queue.Depth(name));
            } catch (const std::exception&) {
                // Not connected right now: the gauge is left out of this scrape.
            }
        }
        return gauges;
    };
}

/// Runs `server.Serve()` on a thread; Stop() repeated until it has returned, since a stop
/// that comes before the thread listens would be lost.
template <typename Server>
class ServingThread {
 public:
    explicit ServingThread(Server& server)
        : server_(server), thread_([this] {
              server_.Serve();
              ended_ = true;
          }) {}

    void StopAndJoin() {
        while (!ended_) {
            server_.Stop();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        thread_.join();
    }

 private:
    Server& server_;
    std::atomic<bool> ended_{false};
    std::thread thread_;
};

}  // namespace

int RunGatewayRole(const GatewayRoleConfig& config) {
    ::signal(SIGPIPE, SIG_IGN);
    ShutdownSignal shutdown;

    adapters::HttpAuthenticatorConfig auth_config;
    auth_config.base_url = config.auth_url;
    std::unique_ptr<adapters::HttpAuthenticator> auth;
    try {
        auth = std::make_unique<adapters::HttpAuthenticator>(auth_config);
    } catch (const std::invalid_argument& error) {
        throw ConfigError(std::string("VIDEO2MP3_AUTH_URL: ") + error.what());
    }
    auto mongo = WaitForServer(shutdown, "MongoDB",
                               [&] { return std::make_unique<MongoStores>(config.mongodb_uri); });
    if (!mongo) {
        return 0;
    }
    MongoStores& stores = **mongo;
    RoleQueue queue(config.queue, "gateway", 1);

    gateway::Metrics metrics;
    metrics.SetGaugeReader([&stores, gauges = QueueGauges(queue.Queue())] {
        auto values = gauges();
        try {
            for (const auto& [status, count] : stores.jobs->CountByStatus()) {
                values["video2mp3_jobs{status=\"" + status + "\"}"] = static_cast<double>(count);
            }
        } catch (const std::exception&) {
            // MongoDB unreachable right now: no job gauges in this scrape.
        }
        return values;
    });

    gateway::GatewayConfig gateway_config;
    gateway_config.max_upload_bytes = config.max_upload_bytes;
    gateway_config.public_url = config.public_url;
    gateway_config.trusted_proxy_hops = config.trusted_proxy_hops;
    gateway::Gateway gateway(gateway_config, *auth, *stores.blobs, *stores.jobs, queue.Queue(),
                             metrics);
    int port = 0;
    try {
        port = gateway.Bind(config.listen.host, config.listen.port);
    } catch (const std::runtime_error& error) {
        throw ConfigError(std::string("VIDEO2MP3_LISTEN: ") + error.what());
    }
    const std::string url = "http://" + config.listen.host + ":" + std::to_string(port);
    // Listening on every address: download links name whatever address each client used.
    if (config.public_url.empty() && !IsWildcardHost(config.listen.host)) {
        gateway.SetPublicUrl(url);
    }

    // Uploads cut off by a crash leave chunks behind; they are removed once old enough.
    std::jthread sweeper([&stores, grace = config.sweep_grace](std::stop_token stop) {
        const auto every = std::clamp(std::chrono::duration_cast<std::chrono::seconds>(grace / 4),
                                      std::chrono::seconds(15), std::chrono::seconds(600));
        std::mutex mutex;
        std::condition_variable_any wake;
        while (!stop.stop_requested()) {
            try {
                if (const int swept = stores.blobs->SweepIncomplete(grace); swept > 0) {
                    spdlog::warn("gateway: removed {} uploads that were never finished", swept);
                }
            } catch (const std::exception& error) {
                spdlog::warn("gateway: sweeping unfinished uploads failed: {}", error.what());
            }
            std::unique_lock lock(mutex);
            wake.wait_for(lock, stop, every, [] { return false; });
        }
    });

    ServingThread serving(gateway);
    spdlog::info("gateway: auth at {}, uploads up to {} bytes", config.auth_url,
                 config.max_upload_bytes);
    PrintLine(std::cout, "video2mp3 gateway: listening on " + url);

    const int signal = shutdown.Wait();
    spdlog::info("gateway: {} received, draining", ShutdownSignal::Name(signal));
    gateway.SetDraining();
    if (config.shutdown_delay.count() > 0) {
        shutdown.WaitFor(config.shutdown_delay);
    }
    serving.StopAndJoin();
    spdlog::info("gateway: stopped");
    return 0;
}

int RunAuthRole(const AuthRoleConfig& config) {
    ::signal(SIGPIPE, SIG_IGN);
    ShutdownSignal shutdown;

    adapters::PostgresConfig postgres;
    postgres.url = config.postgres_url;
    auto users = WaitForServer(shutdown, "PostgreSQL", [&] {
        try {
            return std::make_unique<adapters::PostgresUserStore>(postgres);
        } catch (const std::invalid_argument& error) {
            throw ConfigError(std::string("VIDEO2MP3_POSTGRES_URL: ") + error.what());
        }
    });
    if (!users) {
        return 0;
    }

    auth::TokenConfig token_config;
    token_config.secret = config.jwt_secret;
    const auth::TokenService tokens(token_config);
    auth::PasswordHasher::VerifyAgainstDummy("warm-up");
    auth::LoginThrottle throttle;
    auth::AuthService service(**users, tokens, throttle);

    AuthServer server(AuthServerConfig{}, service, **users);
    int port = 0;
    try {
        port = server.Bind(config.listen.host, config.listen.port);
    } catch (const std::runtime_error& error) {
        throw ConfigError(std::string("VIDEO2MP3_LISTEN: ") + error.what());
    }
    const std::string url = "http://" + config.listen.host + ":" + std::to_string(port);
    ServingThread serving(server);
    PrintLine(std::cout, "video2mp3 auth: listening on " + url);

    const int signal = shutdown.Wait();
    spdlog::info("auth: {} received, stopping", ShutdownSignal::Name(signal));
    serving.StopAndJoin();
    spdlog::info("auth: stopped");
    return 0;
}

int RunConverterRole(const ConverterRoleConfig& config) {
    ::signal(SIGPIPE, SIG_IGN);
    ShutdownSignal shutdown;

    std::error_code error;
    std::filesystem::create_directories(config.scratch_dir, error);
    if (error || !std::filesystem::is_directory(config.scratch_dir)) {
        throw ConfigError("VIDEO2MP3_SCRATCH_DIR: cannot use " + config.scratch_dir.string() +
                          " as a folder for MP3s being written");
    }

    auto mongo = WaitForServer(shutdown, "MongoDB",
                               [&] { return std::make_unique<MongoStores>(config.mongodb_uri); });
    if (!mongo) {
        return 0;
    }
    MongoStores& stores = **mongo;
    // One unacknowledged job per worker: a converter never holds jobs it cannot start.
    RoleQueue queue(config.queue, "converter", config.workers);

    gateway::Metrics metrics;
    metrics.SetGaugeReader(QueueGauges(queue.Queue()));
    std::unique_ptr<HealthServer> health;
    if (!config.health_listen.empty()) {
        health = std::make_unique<HealthServer>(
            [&] { return queue.Queue().Ready() && stores.blobs->Ready(); }, metrics);
        health->Start(config.health_listen);
    }

    workers::ConverterConfig converter_config;
    converter_config.scratch_dir = config.scratch_dir;
    // The broker dead-letters a message returned more than delivery_limit times; the worker
    // sees the last delivery first and fails the job with a reason its owner can read.
    converter_config.max_attempts = config.queue.delivery_limit;
    std::vector<std::unique_ptr<workers::ConverterWorker>> converters;
    std::vector<std::jthread> threads;
    for (int i = 0; i < config.workers; ++i) {
        converters.push_back(std::make_unique<workers::ConverterWorker>(
            converter_config, queue.Queue(), *stores.jobs, *stores.blobs));
        converters.back()->on_conversion = [&metrics](double seconds, bool ok) {
            metrics.ObserveConversion(seconds, ok);
        };
        threads.emplace_back(
            [worker = converters.back().get()](std::stop_token stop) { worker->Run(stop); });
    }
    spdlog::info("converter: {} workers, scratch folder {}", config.workers,
                 config.scratch_dir.string());
    PrintLine(std::cout, "video2mp3 converter: consuming");

    const int signal = shutdown.Wait();
    spdlog::info("converter: {} received, giving back unfinished jobs",
                 ShutdownSignal::Name(signal));
    for (auto& thread : threads) {
        thread.request_stop();
    }
    threads.clear();
    spdlog::info("converter: stopped");
    return 0;
}

int RunNotifierRole(const NotifierRoleConfig& config) {
    ::signal(SIGPIPE, SIG_IGN);
    ShutdownSignal shutdown;

    adapters::SmtpConfig smtp;
    smtp.url = config.smtp_url;
    smtp.username = config.smtp_username;
    smtp.password = config.smtp_password;
    smtp.require_tls = config.smtp_tls;
    std::unique_ptr<adapters::SmtpMailer> mailer;
    try {
        mailer = std::make_unique<adapters::SmtpMailer>(smtp);
    } catch (const std::invalid_argument& error) {
        throw ConfigError(std::string("VIDEO2MP3_SMTP_URL: ") + error.what());
    }

    auto mongo = WaitForServer(shutdown, "MongoDB",
                               [&] { return std::make_unique<MongoStores>(config.mongodb_uri); });
    if (!mongo) {
        return 0;
    }
    MongoStores& stores = **mongo;
    // E-mails waiting for a retry (a 4xx answer) stay unacknowledged until their delay is
    // over; a larger prefetch lets the others go out meanwhile.
    RoleQueue queue(config.queue, "notifier", 16);

    gateway::Metrics metrics;
    metrics.SetGaugeReader(QueueGauges(queue.Queue()));
    std::unique_ptr<HealthServer> health;
    if (!config.health_listen.empty()) {
        health = std::make_unique<HealthServer>(
            [&] { return queue.Queue().Ready() && stores.jobs->Ready(); }, metrics);
        health->Start(config.health_listen);
    }

    workers::NotifierConfig notifier_config;
    notifier_config.public_url = config.public_url;
    notifier_config.mail_from = config.mail_from;
    notifier_config.max_attempts = config.queue.delivery_limit;
    workers::NotifierWorker notifier(notifier_config, queue.Queue(), *stores.jobs, *mailer);
    std::jthread thread([&notifier](std::stop_token stop) { notifier.Run(stop); });
    spdlog::info("notifier: mail via {}, links to {}", config.smtp_url, config.public_url);
    PrintLine(std::cout, "video2mp3 notifier: consuming");

    const int signal = shutdown.Wait();
    spdlog::info("notifier: {} received, stopping", ShutdownSignal::Name(signal));
    thread.request_stop();
    thread.join();
    spdlog::info("notifier: stopped");
    return 0;
}

}  // namespace video2mp3::app
