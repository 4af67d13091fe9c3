#include "app/serve_app.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "adapters/fs/fs_blob_store.h"
#include "adapters/mail/maildir_mailer.h"
#include "adapters/mail/smtp_mailer.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_job_queue.h"
#include "adapters/sqlite/sqlite_job_store.h"
#include "adapters/sqlite/sqlite_user_store.h"
#include "app/environment.h"
#include "app/shutdown_signal.h"
#include "gateway/gateway.h"
#include "gateway/metrics.h"
#include "video2mp3/auth/auth_service.h"
#include "video2mp3/auth/password_hasher.h"
#include "workers/converter_worker.h"
#include "workers/notifier_worker.h"

namespace video2mp3::app {

namespace {

/// One `serve` per data folder: a second one would hand out the same queued messages.
class DataDirLock {
 public:
    explicit DataDirLock(const std::filesystem::path& dir) {
        const auto path = dir / "serve.lock";
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ < 0 || ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            throw ConfigError("--data-dir: " + dir.string() +
                              " is in use by another video2mp3 serve");
        }
    }
    ~DataDirLock() { ::close(fd_); }
    DataDirLock(const DataDirLock&) = delete;
    DataDirLock& operator=(const DataDirLock&) = delete;

 private:
    int fd_ = -1;
};

}  // namespace

std::string LoadOrCreateSecret(const std::filesystem::path& data_dir, const std::string& given) {
    if (!given.empty()) {
        if (given.size() < 32) {
            throw ConfigError("VIDEO2MP3_JWT_SECRET: must be at least 32 bytes, is " +
                              std::to_string(given.size()));
        }
        return given;
    }

    const auto path = data_dir / "jwt-secret";
    if (std::filesystem::exists(path)) {
        std::ifstream file(path);
        std::string secret;
        std::getline(file, secret);
        if (secret.size() < 32) {
            throw ConfigError(path.string() + ": the secret must be at least 32 bytes");
        }
        return secret;
    }

    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium could not be initialised");
    }
    unsigned char bytes[32];
    randombytes_buf(bytes, sizeof(bytes));
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), bytes, sizeof(bytes));

    const auto temporary = data_dir / "jwt-secret.tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, hex, 64) != 64 || ::fsync(fd) != 0 || ::close(fd) != 0) {
        throw ConfigError("--data-dir: cannot write " + temporary.string());
    }
    std::filesystem::rename(temporary, path);
    spdlog::info("serve: created a new JWT secret in {}", path.string());
    return hex;
}

int RunServe(const ServeConfig& config) {
    // A client that hangs up mid-response must cost its connection, not the process.
    ::signal(SIGPIPE, SIG_IGN);
    ShutdownSignal shutdown;
    std::filesystem::create_directories(config.data_dir);
    DataDirLock lock(config.data_dir);
    std::filesystem::create_directories(config.data_dir / "scratch");

    auth::TokenConfig token_config;
    token_config.secret = LoadOrCreateSecret(config.data_dir, config.jwt_secret);
    const auth::TokenService tokens(token_config);

    adapters::SqliteDatabase database(config.data_dir / "video2mp3.db");
    adapters::SqliteUserStore users(database);
    adapters::SqliteJobStore jobs(database);
    adapters::SqliteJobQueue queue(database);
    adapters::FsBlobStore blobs(config.data_dir / "blobs");

    // Nothing else uses this folder (the lock says so): whatever was being worked on when
    // the last run stopped is given back now, and half-written uploads are swept.
    const int released = queue.ReleaseAll();
    const int swept = blobs.SweepIncomplete(std::chrono::seconds(0));
    for (const auto& leftover : std::filesystem::directory_iterator(config.data_dir / "scratch")) {
        std::filesystem::remove(leftover.path());
    }
    if (released > 0 || swept > 0) {
        spdlog::warn(
            "serve: recovered from an unclean stop: {} messages given back, {} "
            "incomplete uploads removed",
            released, swept);
    }

    std::unique_ptr<Mailer> mailer;
    if (config.smtp_url.empty()) {
        mailer = std::make_unique<adapters::MaildirMailer>(config.data_dir / "mail");
    } else {
        adapters::SmtpConfig smtp;
        smtp.url = config.smtp_url;
        smtp.username = config.smtp_username;
        smtp.password = config.smtp_password;
        smtp.require_tls = config.smtp_tls;
        try {
            mailer = std::make_unique<adapters::SmtpMailer>(smtp);
        } catch (const std::invalid_argument& error) {
            throw ConfigError(std::string("VIDEO2MP3_SMTP_URL: ") + error.what());
        }
    }

    // The first login of an unknown user would otherwise also pay for making the dummy hash.
    auth::PasswordHasher::VerifyAgainstDummy("warm-up");
    auth::LoginThrottle throttle;
    auth::AuthService auth(users, tokens, throttle);
    gateway::Metrics metrics;
    metrics.SetGaugeReader([&] {
        std::map<std::string, double> gauges;
        for (const auto& [status, count] : jobs.CountByStatus()) {
            gauges["video2mp3_jobs{status=\"" + status + "\"}"] = static_cast<double>(count);
        }
        for (const char* name : {kVideoQueue, kMp3Queue}) {
            gauges[std::string("video2mp3_queue_depth{queue=\"") + name + "\"}"] =
                static_cast<double>(queue.Depth(name));
        }
        return gauges;
    });

    gateway::GatewayConfig gateway_config;
    gateway_config.max_upload_bytes = config.max_upload_bytes;
    gateway_config.public_url = config.public_url;
    gateway_config.trusted_proxy_hops = config.trusted_proxy_hops;
    gateway::Gateway gateway(gateway_config, auth, blobs, jobs, queue, metrics);
    int port = 0;
    try {
        port = gateway.Bind(config.host, config.port);
    } catch (const std::runtime_error& error) {
        throw ConfigError(std::string("--listen / VIDEO2MP3_LISTEN: ") + error.what());
    }
    std::string url = "http://" + config.host + ":" + std::to_string(port);
    if (config.public_url.empty() && IsWildcardHost(config.host)) {
        // Download links in answers follow each client's Host; e-mails have no request, so
        // they name this machine, which is likelier to be reachable than 0.0.0.0.
        std::array<char, 256> name{};
        if (::gethostname(name.data(), name.size() - 1) == 0 && name[0] != '\0') {
            url = "http://" + std::string(name.data()) + ":" + std::to_string(port);
        }
        spdlog::warn(
            "serve: listening on every address; e-mailed links will name {} until "
            "VIDEO2MP3_PUBLIC_URL gives the address users reach",
            url);
    } else {
        gateway.SetPublicUrl(config.public_url.empty() ? url : config.public_url);
    }

    workers::ConverterConfig converter_config;
    converter_config.scratch_dir = config.data_dir / "scratch";
    const int worker_count =
        config.workers > 0 ? config.workers
                           : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    std::vector<std::unique_ptr<workers::ConverterWorker>> converters;
    std::vector<std::jthread> threads;
    for (int i = 0; i < worker_count; ++i) {
        converters.push_back(
            std::make_unique<workers::ConverterWorker>(converter_config, queue, jobs, blobs));
        converters.back()->on_conversion = [&metrics](double seconds, bool ok) {
            metrics.ObserveConversion(seconds, ok);
        };
        threads.emplace_back(
            [worker = converters.back().get()](std::stop_token stop) { worker->Run(stop); });
    }

    workers::NotifierConfig notifier_config;
    notifier_config.public_url = config.public_url.empty() ? url : config.public_url;
    notifier_config.mail_from = config.mail_from;
    workers::NotifierWorker notifier(notifier_config, queue, jobs, *mailer);
    threads.emplace_back([&notifier](std::stop_token stop) { notifier.Run(stop); });

    std::atomic<bool> serving_ended{false};
    std::jthread http([&gateway, &serving_ended] {
        gateway.Serve();
        serving_ended = true;
    });
    spdlog::info("serve: {} converter workers, data in {}", worker_count, config.data_dir.string());
    PrintLine(std::cout, "video2mp3 serve: listening on " + url);

    const int signal = shutdown.Wait();
    spdlog::info("serve: {} received, stopping", ShutdownSignal::Name(signal));
    // A stop that comes before the server thread is listening would be lost: repeat it
    // until the thread has returned.
    while (!serving_ended) {
        gateway.Stop();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    http.join();
    for (auto& thread : threads) {
        thread.request_stop();
    }
    threads.clear();
    spdlog::info("serve: stopped");
    return 0;
}

}  // namespace video2mp3::app
