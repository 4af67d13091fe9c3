#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "gateway/gateway.h"
#include "video2mp3/ports/authenticator.h"
#include "video2mp3/ports/user_store.h"

namespace video2mp3::app {

struct AuthServerConfig {
    /// Request threads. A connection the gateway keeps alive holds one while it idles (up
    /// to the keep-alive timeout), so this must exceed the connections all gateways keep.
    std::size_t threads = 32;
    /// How long an idle keep-alive connection stays open. Stop() waits up to this long for
    /// the threads holding idle connections. Keep it above the clients' idle timeout (2 s
    /// in HttpAuthenticator).
    std::chrono::seconds keep_alive_timeout{5};
};

/// The auth role's internal HTTP API, which the gateway's HttpAuthenticator calls:
///
///   POST /login      HTTP Basic e-mail and password. 200 text/plain: the token; 401 wrong
///                    e-mail or password; 429 with Retry-After when throttled.
///   POST /validate   `Authorization: Bearer TOKEN`. 200 JSON {"sub", "username", "admin",
///                    "iat", "exp", "pwv"}; 401 when the token is missing or not valid.
///   GET  /healthz    200 while the process runs.
///   GET  /readyz     200 when the user store answers, else 503.
///
/// Errors are JSON {"error": "..."}. When the user store fails (PostgreSQL down) the answer
/// is 503 with the reason and Retry-After, never 500.
///
/// INTERNAL ONLY: login throttling counts failures per end-user address, which it takes
/// from the last entry of `X-Forwarded-For` (the gateway sets it), falling back to the
/// peer's address. Anyone who can reach this port can therefore pick the address they
/// are throttled under, and can ask it to check passwords without the gateway's limits:
/// never expose it outside the cluster's private network.
///
/// The caller ignores SIGPIPE (a client hanging up mid-answer must not end the process).
class AuthServer {
 public:
    /// `auth` (normally an auth::AuthService) and `users` must outlive the server.
    AuthServer(AuthServerConfig config, Authenticator& auth, UserStore& users);

    /// Binds the listening socket; port 0 picks a free one. Returns the port. Throws
    /// std::runtime_error when the address cannot be bound.
    int Bind(const std::string& host, int port);

    /// Serves until Stop(); requests in flight are finished first.
    void Serve();

    /// Stops taking connections; thread-safe, may be called from any thread.
    void Stop();

    /// The routes above; the API description (web/openapi.yaml) lists each of them.
    static const std::vector<gateway::Route>& Routes();

 private:
    void Login(const httplib::Request& request, httplib::Response& response);
    void Validate(const httplib::Request& request, httplib::Response& response);
    void Ready(const httplib::Request& request, httplib::Response& response);

    Authenticator& auth_;
    UserStore& users_;
    httplib::Server server_;
};

}  // namespace video2mp3::app
