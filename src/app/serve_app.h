#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace video2mp3::app {

/// Everything `video2mp3 serve` needs, filled from flags and VIDEO2MP3_* variables.
struct ServeConfig {
    std::filesystem::path data_dir = "video2mp3-data";
    std::string host = "127.0.0.1";
    int port = 8080;
    int workers = 0;  ///< converter threads; 0 = one per core
    std::uint64_t max_upload_bytes = 2ULL << 30;
    std::string public_url;      ///< empty: http://HOST:PORT
    int trusted_proxy_hops = 0;  ///< VIDEO2MP3_TRUSTED_PROXY_HOPS
    std::string jwt_secret;      ///< empty: <data>/jwt-secret, made on first start
    std::string smtp_url;        ///< empty: e-mail goes to <data>/mail (Maildir)
    std::string smtp_username;
    std::string smtp_password;
    bool smtp_tls = true;
    std::string mail_from = "video2mp3 <noreply@localhost>";
};

/// Runs gateway, auth, a converter pool and the notifier in this process on the embedded
/// adapters (SQLite, a blob folder, a Maildir or SMTP) until SIGINT or SIGTERM. Prints
/// "video2mp3 serve: listening on http://HOST:PORT" on stdout once ready. Returns the exit
/// status. Throws ConfigError for bad settings.
int RunServe(const ServeConfig& config);

/// The JWT secret for a data folder: VIDEO2MP3_JWT_SECRET if set, else the folder's
/// jwt-secret file, created with 32 random bytes on first use. Throws ConfigError when a
/// given secret is shorter than 32 bytes.
std::string LoadOrCreateSecret(const std::filesystem::path& data_dir, const std::string& given);

}  // namespace video2mp3::app
