#include "app/auth_server.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "gateway/http_common.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::app {

namespace {

using gateway::ParseBasicAuth;
using gateway::Reply;
using gateway::ReplyError;

constexpr int kRetryAfterSeconds = 5;

/// The end user's address: the last X-Forwarded-For entry, which the nearest proxy (our
/// gateway) wrote; earlier entries come from further away and anyone may forge them.
std::string ClientAddress(const httplib::Request& request) {
    return gateway::ForwardedClient(request, 1);
}

nlohmann::json ClaimsJson(const Claims& claims) {
    return {
        {"sub", claims.sub}, {"username", claims.username}, {"admin", claims.admin},
        {"iat", claims.iat}, {"exp", claims.exp},           {"pwv", claims.password_version},
    };
}

}  // namespace

AuthServer::AuthServer(AuthServerConfig config, Authenticator& auth, UserStore& users)
    : auth_(auth), users_(users) {
    server_.set_read_timeout(std::chrono::seconds(10));
    server_.set_write_timeout(std::chrono::seconds(10));
    // The gateway keeps its connections open; without a higher cap httplib would close each
    // after 5 requests and the gateway would pay a new connection every few calls.
    server_.set_keep_alive_max_count(10000);
    server_.set_keep_alive_timeout(std::max<time_t>(config.keep_alive_timeout.count(), 1));
    server_.set_payload_max_length(64 * 1024);  // no endpoint takes a body
    const std::size_t threads = std::max<std::size_t>(config.threads, 1);
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    gateway::ReuseAddressOnly(server_);

    // Both POSTs carry everything in headers; answering before httplib reads a body also
    // accepts a body-less POST without Content-Length (as `curl -X POST` sends).
    server_.set_pre_routing_handler([this](const auto& rq, auto& rs) {
        if (rq.method == "POST" && rq.path == "/login") {
            Login(rq, rs);
            return httplib::Server::HandlerResponse::Handled;
        }
        if (rq.method == "POST" && rq.path == "/validate") {
            Validate(rq, rs);
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    server_.Get("/healthz", [](const auto&, auto& rs) { rs.set_content("ok\n", "text/plain"); });
    server_.Get("/readyz", [this](const auto& rq, auto& rs) { Ready(rq, rs); });

    server_.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
        if (!response.body.empty()) {
            return;
        }
        const bool post_path = request.path == "/login" || request.path == "/validate";
        const bool get_path = request.path == "/healthz" || request.path == "/readyz";
        if (post_path || get_path) {
            const std::string allowed = post_path ? "POST" : "GET";
            response.set_header("Allow", allowed);
            ReplyError(response, 405, request.method + " is not allowed here; use " + allowed);
            return;
        }
        ReplyError(response, response.status,
                   response.status == 404 ? "no such endpoint: " + request.path : "bad request");
    });
    server_.set_exception_handler([](const httplib::Request& request, httplib::Response& response,
                                     std::exception_ptr failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const PortError& error) {
            // The user store failed (PostgreSQL down or unreachable): worth a retry later.
            spdlog::error("auth: {} {}: {}", request.method, request.path, error.what());
            response.set_header("Retry-After", std::to_string(kRetryAfterSeconds));
            ReplyError(response, 503,
                       std::string("the user store is unavailable: ") + error.what());
            return;
        } catch (const std::exception& error) {
            spdlog::error("auth: {} {}: {}", request.method, request.path, error.what());
        } catch (...) {
            spdlog::error("auth: {} {}: unknown exception", request.method, request.path);
        }
        ReplyError(response, 500, "internal error");
    });
    server_.set_logger([](const httplib::Request& request, const httplib::Response& response) {
        spdlog::debug("auth: {} {} -> {}", request.method, request.path, response.status);
    });
}

const std::vector<gateway::Route>& AuthServer::Routes() {
    static const std::vector<gateway::Route> routes = {
        {"POST", "/login"}, {"POST", "/validate"}, {"GET", "/healthz"}, {"GET", "/readyz"}};
    return routes;
}

int AuthServer::Bind(const std::string& host, int port) {
    return gateway::BindServer(server_, host, port);
}

void AuthServer::Serve() {
    server_.listen_after_bind();
}

void AuthServer::Stop() {
    server_.stop();
}

void AuthServer::Login(const httplib::Request& request, httplib::Response& response) {
    const auto credentials = ParseBasicAuth(request.get_header_value("Authorization"));
    if (!credentials) {
        response.set_header("WWW-Authenticate", "Basic realm=\"video2mp3\"");
        ReplyError(response, 401, "send the e-mail and password with HTTP Basic auth");
        return;
    }

    const std::string address = ClientAddress(request);
    const LoginResult result = auth_.Login(credentials->first, credentials->second, address);

    switch (result.outcome) {
        case LoginResult::Outcome::kOk:
            spdlog::debug("auth: login from {}", address);
            response.set_content(result.token, "text/plain");
            return;
        case LoginResult::Outcome::kThrottled:
            spdlog::info("auth: login from {} refused for {} s: too many failures", address,
                         result.retry_after.count());
            response.set_header("Retry-After", std::to_string(result.retry_after.count()));
            ReplyError(response, 429,
                       "too many failed logins; try again in " +
                           std::to_string(result.retry_after.count()) + " seconds");
            return;
        case LoginResult::Outcome::kBadCredentials:
            spdlog::debug("auth: failed login from {}", address);
            response.set_header("WWW-Authenticate", "Basic realm=\"video2mp3\"");
            ReplyError(response, 401, "wrong e-mail or password");
            return;
    }
}

void AuthServer::Validate(const httplib::Request& request, httplib::Response& response) {
    const std::optional<std::string> token =
        gateway::ParseBearer(request.get_header_value("Authorization"));
    if (!token) {
        response.set_header("WWW-Authenticate", "Bearer");
        ReplyError(response, 401, "missing bearer token: send 'Authorization: Bearer TOKEN'");
        return;
    }

    const std::optional<Claims> claims = auth_.Validate(*token);
    if (!claims) {
        response.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
        ReplyError(response, 401, "the token is invalid or expired");
        return;
    }
    Reply(response, 200, ClaimsJson(*claims));
}

void AuthServer::Ready(const httplib::Request&, httplib::Response& response) {
    const bool users = users_.Ready();
    Reply(response, users ? 200 : 503, {{"user_store", users}});
}

}  // namespace video2mp3::app
