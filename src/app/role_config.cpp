#include "app/role_config.h"

#include "adapters/amqp/amqp_connection.h"
#include "app/environment.h"

namespace video2mp3::app {

namespace {

/// A variable the role cannot start without.
std::string Required(const std::string& name, const std::string& what) {
    auto value = EnvString(name);
    if (!value || value->empty()) {
        throw ConfigError(name + ": not set; it must give " + what);
    }
    return *value;
}

Listen ListenFromEnv(Listen fallback) {
    const auto text = EnvString("VIDEO2MP3_LISTEN");
    if (!text) {
        return fallback;
    }
    const auto [host, port] = ParseListen(*text, "VIDEO2MP3_LISTEN");
    return Listen{host, port};
}

std::string QueueName(const std::string& variable, const std::string& fallback) {
    const std::string name = EnvString(variable).value_or(fallback);
    if (name.empty() || name.size() > 200 || name.find_first_of(" \t\r\n") != std::string::npos ||
        name.rfind("amq.", 0) == 0) {
        throw ConfigError(variable + ": '" + name +
                          "' is not a usable queue name (1 to 200 characters, no spaces, not "
                          "starting with amq.)");
    }
    return name;
}

QueueSettings QueueFromEnv() {
    QueueSettings queue;
    queue.amqp_url =
        Required("VIDEO2MP3_AMQP_URL", "RabbitMQ's URL, e.g. amqp://user:password@rabbitmq:5672/");
    RequireScheme("VIDEO2MP3_AMQP_URL", queue.amqp_url, {"amqp://", "amqps://"});
    queue.amqp_ca_file = EnvString("VIDEO2MP3_AMQP_CA_FILE").value_or("");
    if (!queue.amqp_ca_file.empty()) {
        if (queue.amqp_url.rfind("amqps://", 0) != 0) {
            throw ConfigError(
                "VIDEO2MP3_AMQP_CA_FILE: set, but VIDEO2MP3_AMQP_URL is not an amqps:// URL");
        }
        if (const std::string problem = adapters::CaFileProblem(queue.amqp_ca_file);
            !problem.empty()) {
            throw ConfigError("VIDEO2MP3_AMQP_CA_FILE: " + problem);
        }
    }
    queue.video_queue = QueueName("VIDEO2MP3_VIDEO_QUEUE", queue.video_queue);
    queue.mp3_queue = QueueName("VIDEO2MP3_MP3_QUEUE", queue.mp3_queue);
    if (queue.video_queue == queue.mp3_queue) {
        throw ConfigError("VIDEO2MP3_MP3_QUEUE: must differ from VIDEO2MP3_VIDEO_QUEUE ('" +
                          queue.video_queue + "')");
    }
    queue.heartbeat = std::chrono::seconds(EnvInteger("VIDEO2MP3_AMQP_HEARTBEAT", 30, 2, 600));
    queue.delivery_limit = static_cast<int>(EnvInteger("VIDEO2MP3_DELIVERY_LIMIT", 5, 1, 100));
    return queue;
}

std::string MongoFromEnv() {
    std::string uri =
        Required("VIDEO2MP3_MONGODB_URI",
                 "MongoDB's URI with the database, e.g. mongodb://mongo:27017/video2mp3");
    RequireScheme("VIDEO2MP3_MONGODB_URI", uri, {"mongodb://", "mongodb+srv://"});
    return uri;
}

std::string PublicUrl(bool required) {
    std::string url = required ? Required("VIDEO2MP3_PUBLIC_URL",
                                          "the gateway's address as users reach it, e.g. "
                                          "https://video2mp3.example.org")
                               : EnvString("VIDEO2MP3_PUBLIC_URL").value_or("");
    if (!url.empty()) {
        RequireScheme("VIDEO2MP3_PUBLIC_URL", url, {"http://", "https://"});
        while (!url.empty() && url.back() == '/') {
            url.pop_back();
        }
    }
    return url;
}

std::string HealthListen() {
    const std::string text = EnvString("VIDEO2MP3_HEALTH_LISTEN").value_or("");
    if (!text.empty()) {
        ParseListen(text, "VIDEO2MP3_HEALTH_LISTEN");  // checked now, used later
    }
    return text;
}

}  // namespace

void RequireScheme(const std::string& variable, const std::string& url,
                   std::initializer_list<const char*> schemes) {
    std::string expected;
    for (const char* scheme : schemes) {
        if (url.rfind(scheme, 0) == 0 && url.size() > std::string(scheme).size()) {
            return;
        }
        expected += (expected.empty() ? "" : " or ") + std::string(scheme);
    }
    throw ConfigError(variable + ": expected a URL starting with " + expected + ", got '" + url +
                      "'");
}

GatewayRoleConfig LoadGatewayRoleConfig() {
    GatewayRoleConfig config;
    config.listen = ListenFromEnv(config.listen);
    config.auth_url =
        Required("VIDEO2MP3_AUTH_URL", "the auth service's URL, e.g. http://auth:8081");
    RequireScheme("VIDEO2MP3_AUTH_URL", config.auth_url, {"http://", "https://"});
    config.mongodb_uri = MongoFromEnv();
    config.queue = QueueFromEnv();
    config.max_upload_bytes = static_cast<std::uint64_t>(
        EnvInteger("VIDEO2MP3_MAX_UPLOAD_BYTES", 2LL << 30, 1, std::int64_t{1} << 50));
    config.public_url = PublicUrl(false);
    config.shutdown_delay = std::chrono::seconds(EnvInteger("VIDEO2MP3_SHUTDOWN_DELAY", 0, 0, 300));
    config.trusted_proxy_hops =
        static_cast<int>(EnvInteger("VIDEO2MP3_TRUSTED_PROXY_HOPS", 0, 0, 10));
    config.sweep_grace =
        std::chrono::seconds(EnvInteger("VIDEO2MP3_SWEEP_GRACE", 3600, 60, 30LL * 86400));
    return config;
}

AuthRoleConfig LoadAuthRoleConfig() {
    AuthRoleConfig config;
    config.listen = ListenFromEnv(config.listen);
    config.jwt_secret =
        Required("VIDEO2MP3_JWT_SECRET", "the token signing key (32 bytes or more)");
    if (config.jwt_secret.size() < 32) {
        throw ConfigError("VIDEO2MP3_JWT_SECRET: must be at least 32 bytes, is " +
                          std::to_string(config.jwt_secret.size()));
    }
    config.postgres_url =
        Required("VIDEO2MP3_POSTGRES_URL",
                 "PostgreSQL's URL, e.g. postgresql://video2mp3:password@postgres:5432/video2mp3");
    RequireScheme("VIDEO2MP3_POSTGRES_URL", config.postgres_url, {"postgresql://", "postgres://"});
    return config;
}

ConverterRoleConfig LoadConverterRoleConfig() {
    ConverterRoleConfig config;
    config.mongodb_uri = MongoFromEnv();
    config.queue = QueueFromEnv();
    config.workers = static_cast<int>(EnvInteger("VIDEO2MP3_WORKERS", 1, 1, 256));
    config.scratch_dir = EnvString("VIDEO2MP3_SCRATCH_DIR")
                             .value_or(std::filesystem::temp_directory_path().string());
    config.health_listen = HealthListen();
    return config;
}

NotifierRoleConfig LoadNotifierRoleConfig() {
    NotifierRoleConfig config;
    config.mongodb_uri = MongoFromEnv();
    config.queue = QueueFromEnv();
    config.smtp_url = Required("VIDEO2MP3_SMTP_URL",
                               "the mail server, e.g. smtp://mail.example.org:587 (STARTTLS) or "
                               "smtps://mail.example.org:465");
    RequireScheme("VIDEO2MP3_SMTP_URL", config.smtp_url, {"smtp://", "smtps://"});
    config.smtp_username = EnvString("VIDEO2MP3_SMTP_USER").value_or("");
    config.smtp_password = EnvString("VIDEO2MP3_SMTP_PASSWORD").value_or("");
    config.smtp_tls = EnvBool("VIDEO2MP3_SMTP_TLS", true);
    config.mail_from = EnvString("VIDEO2MP3_MAIL_FROM").value_or(config.mail_from);
    RequireMailbox("VIDEO2MP3_MAIL_FROM", config.mail_from);
    config.public_url = PublicUrl(true);
    config.health_listen = HealthListen();
    return config;
}

}  // namespace video2mp3::app
