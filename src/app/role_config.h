#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>

namespace video2mp3::app {

/// Where a role listens, as HOST:PORT.
struct Listen {
    std::string host;
    int port = 0;
};

/// RabbitMQ settings shared by the gateway, converter and notifier.
struct QueueSettings {
    std::string amqp_url;                ///< VIDEO2MP3_AMQP_URL (required)
    std::string amqp_ca_file;            ///< VIDEO2MP3_AMQP_CA_FILE (amqps; default: system CAs)
    std::string video_queue = "video";   ///< VIDEO2MP3_VIDEO_QUEUE
    std::string mp3_queue = "mp3";       ///< VIDEO2MP3_MP3_QUEUE
    std::chrono::seconds heartbeat{30};  ///< VIDEO2MP3_AMQP_HEARTBEAT (seconds)
    int delivery_limit = 5;              ///< VIDEO2MP3_DELIVERY_LIMIT
    std::chrono::seconds publish_timeout{10};
};

struct GatewayRoleConfig {
    Listen listen{"0.0.0.0", 8080};  ///< VIDEO2MP3_LISTEN / --listen
    std::string auth_url;            ///< VIDEO2MP3_AUTH_URL (required)
    std::string mongodb_uri;         ///< VIDEO2MP3_MONGODB_URI (required)
    QueueSettings queue;
    std::uint64_t max_upload_bytes = 2ULL << 30;  ///< VIDEO2MP3_MAX_UPLOAD_BYTES
    std::string public_url;                       ///< VIDEO2MP3_PUBLIC_URL
    /// VIDEO2MP3_SHUTDOWN_DELAY: after SIGTERM, /readyz answers 503 this long before the
    /// gateway stops taking requests, so load balancers stop sending first.
    std::chrono::seconds shutdown_delay{0};
    /// VIDEO2MP3_TRUSTED_PROXY_HOPS: proxies in front whose X-Forwarded-For names the client.
    int trusted_proxy_hops = 0;
    /// VIDEO2MP3_SWEEP_GRACE: unfinished uploads older than this are removed (seconds).
    std::chrono::seconds sweep_grace{3600};
};

struct AuthRoleConfig {
    Listen listen{"0.0.0.0", 8081};  ///< VIDEO2MP3_LISTEN / --listen
    std::string jwt_secret;          ///< VIDEO2MP3_JWT_SECRET (required, >= 32 bytes)
    std::string postgres_url;        ///< VIDEO2MP3_POSTGRES_URL (required)
};

struct ConverterRoleConfig {
    std::string mongodb_uri;  ///< VIDEO2MP3_MONGODB_URI (required)
    QueueSettings queue;
    int workers = 1;                    ///< VIDEO2MP3_WORKERS / --workers: parallel conversions
    std::filesystem::path scratch_dir;  ///< VIDEO2MP3_SCRATCH_DIR (default: the temp folder)
    std::string health_listen;          ///< VIDEO2MP3_HEALTH_LISTEN: /healthz, /readyz, /metrics
};

struct NotifierRoleConfig {
    std::string mongodb_uri;  ///< VIDEO2MP3_MONGODB_URI (required)
    QueueSettings queue;
    std::string smtp_url;       ///< VIDEO2MP3_SMTP_URL (required): smtp:// (STARTTLS) or smtps://
    std::string smtp_username;  ///< VIDEO2MP3_SMTP_USER
    std::string smtp_password;  ///< VIDEO2MP3_SMTP_PASSWORD (or _FILE)
    bool smtp_tls = true;       ///< VIDEO2MP3_SMTP_TLS=off allows plain text (test servers)
    std::string mail_from = "video2mp3 <noreply@localhost>";  ///< VIDEO2MP3_MAIL_FROM
    std::string public_url;     ///< VIDEO2MP3_PUBLIC_URL (required): base of download links
    std::string health_listen;  ///< VIDEO2MP3_HEALTH_LISTEN
};

/// Each reads the role's VIDEO2MP3_* variables (secrets also from NAME_FILE) and checks
/// them; throws ConfigError naming the variable when one is missing or malformed.
GatewayRoleConfig LoadGatewayRoleConfig();
AuthRoleConfig LoadAuthRoleConfig();
ConverterRoleConfig LoadConverterRoleConfig();
NotifierRoleConfig LoadNotifierRoleConfig();

/// Checks that `url` starts with one of the schemes (e.g. "amqp://"); throws ConfigError
/// naming `variable` otherwise.
void RequireScheme(const std::string& variable, const std::string& url,
                   std::initializer_list<const char*> schemes);

}  // namespace video2mp3::app
