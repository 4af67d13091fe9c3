#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "video2mp3/ports/authenticator.h"

namespace httplib {
class Client;
}

namespace video2mp3::adapters {

struct HttpAuthenticatorConfig {
    std::string base_url;  ///< the auth service, e.g. http://auth:8081 (no path)
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(2);
    std::chrono::milliseconds read_timeout = std::chrono::seconds(5);  ///< also for writing
    /// Keep-alive connections kept between calls; more calls at once open extra
    /// connections, closed afterwards.
    int idle_connections = 8;
    /// A connection idle for longer is closed rather than used again. Keep it below the
    /// auth server's keep-alive timeout, so the client never sends on a connection the
    /// server is closing at that moment.
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(2);
};

/// The gateway's client of the auth service (app::AuthServer): Login is POST /login with
/// HTTP Basic and the end user's address in X-Forwarded-For; Validate is POST /validate
/// with the bearer token. Nothing is cached: every Validate asks the auth service, so a
/// removed user or a changed password ends sessions at once. Thread-safe: each call
/// borrows a keep-alive connection of its own.
///
/// Login and Validate throw PortError (transient), "the auth service is unavailable: why",
/// when the service cannot be reached within the timeouts, answers anything unexpected
/// (such as 503 when its database is down), or sends a malformed answer. A wrong password
/// (401) and throttling (429) are outcomes, not errors; an invalid token is nothing.
class HttpAuthenticator final : public Authenticator {
 public:
    /// Connects nothing yet. Throws std::invalid_argument when the URL is not
    /// http(s)://host[:port] or a timeout is not positive.
    explicit HttpAuthenticator(HttpAuthenticatorConfig config);
    ~HttpAuthenticator() override;
    HttpAuthenticator(const HttpAuthenticator&) = delete;
    HttpAuthenticator& operator=(const HttpAuthenticator&) = delete;

    LoginResult Login(const std::string& email, const std::string& password,
                      const std::string& address) override;
    std::optional<Claims> Validate(const std::string& token) override;

 private:
    class Lease;

    std::unique_ptr<httplib::Client> Acquire();
    void Release(std::unique_ptr<httplib::Client> client);

    HttpAuthenticatorConfig config_;
    struct IdleClient {
        std::unique_ptr<httplib::Client> client;
        std::chrono::steady_clock::time_point since;
    };

    std::mutex mutex_;
    std::vector<IdleClient> idle_;  ///< most recently used last
};

}  // namespace video2mp3::adapters
