#include "adapters/http/http_authenticator.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>

#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

/// Used when a 429 comes without a readable Retry-After.
constexpr std::chrono::seconds kDefaultRetryAfter{60};

PortError Unavailable(const std::string& why) {
    return PortError("the auth service is unavailable: " + why, true);
}

/// Printable ASCII only: what may go into a request header unchanged.
bool HeaderSafe(const std::string& value) {
    for (char c : value) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
            return false;
        }
    }
    return true;
}

std::string ConnectionProblem(httplib::Error error, const HttpAuthenticatorConfig& config) {
    switch (error) {
        case httplib::Error::Connection:
            return "cannot connect to " + config.base_url;
        case httplib::Error::ConnectionTimeout:
            return "no connection to " + config.base_url + " within " +
                   std::to_string(config.connect_timeout.count()) + " ms";
        case httplib::Error::Read:
            return "no answer from " + config.base_url + " within " +
                   std::to_string(config.read_timeout.count()) + " ms, or the connection broke";
        case httplib::Error::Write:
            return "the request to " + config.base_url + " could not be sent";
        default:
            return "the request to " + config.base_url + " failed: " + httplib::to_string(error);
    }
}

/// "HTTP 503: the reason the service gave".
std::string StatusProblem(const httplib::Response& response) {
    std::string reason;
    try {
        const nlohmann::json body = nlohmann::json::parse(response.body);
        reason = body.at("error").get<std::string>();
    } catch (const nlohmann::json::exception&) {
        reason = response.body.substr(0, 200);
        for (char& c : reason) {
            if (static_cast<unsigned char>(c) < 0x20) {
                c = ' ';
            }
        }
    }
    return "HTTP " + std::to_string(response.status) + (reason.empty() ? "" : ": " + reason);
}

std::chrono::seconds ParseRetryAfter(const std::string& header) {
    try {
        std::size_t used = 0;
        const long long seconds = std::stoll(header, &used);
        if (used == header.size() && seconds >= 0) {
            return std::chrono::seconds(seconds);
        }
    } catch (const std::exception&) {
        // An HTTP date or garbage: fall through to the default.
    }
    return kDefaultRetryAfter;
}

}  // namespace

/// A client borrowed for one call, given back afterwards unless its connection failed.
class HttpAuthenticator::Lease {
 public:
    explicit Lease(HttpAuthenticator& owner) : owner_(owner), client_(owner.Acquire()) {}
    ~Lease() {
        if (client_) {
            owner_.Release(std::move(client_));
        }
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    httplib::Client& Client() { return *client_; }
    void Discard() { client_.reset(); }

 private:
    HttpAuthenticator& owner_;
    std::unique_ptr<httplib::Client> client_;
};

HttpAuthenticator::HttpAuthenticator(HttpAuthenticatorConfig config) : config_(std::move(config)) {
    static const std::regex kBaseUrl(
        R"(^https?://([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$)");
    while (!config_.base_url.empty() && config_.base_url.back() == '/') {
        config_.base_url.pop_back();
    }
    if (!std::regex_match(config_.base_url, kBaseUrl)) {
        throw std::invalid_argument("the auth service URL must be http://host[:port], not '" +
                                    config_.base_url + "'");
    }
    if (config_.connect_timeout.count() <= 0 || config_.read_timeout.count() <= 0) {
        throw std::invalid_argument("the auth service timeouts must be positive");
    }
}

HttpAuthenticator::~HttpAuthenticator() = default;

std::unique_ptr<httplib::Client> HttpAuthenticator::Acquire() {
    std::vector<IdleClient> expired;
    {
        std::lock_guard lock(mutex_);
        const auto oldest_usable = std::chrono::steady_clock::now() - config_.idle_timeout;
        // The list is ordered by last use: everything before the first usable one expired.
        const auto first_usable = std::find_if(
            idle_.begin(), idle_.end(),
            [oldest_usable](const IdleClient& idle) { return idle.since >= oldest_usable; });
        std::move(idle_.begin(), first_usable, std::back_inserter(expired));
        idle_.erase(idle_.begin(), first_usable);
        if (!idle_.empty()) {
            std::unique_ptr<httplib::Client> client = std::move(idle_.back().client);
            idle_.pop_back();
            return client;
        }
    }
    expired.clear();  // closes their connections, outside the lock

    auto client = std::make_unique<httplib::Client>(config_.base_url);
    client->set_keep_alive(true);
    client->set_connection_timeout(config_.connect_timeout);
    client->set_read_timeout(config_.read_timeout);
    client->set_write_timeout(config_.read_timeout);
    client->set_follow_location(false);
    return client;
}

void HttpAuthenticator::Release(std::unique_ptr<httplib::Client> client) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < static_cast<std::size_t>(std::max(config_.idle_connections, 0))) {
        idle_.push_back({std::move(client), std::chrono::steady_clock::now()});
    }
}

LoginResult HttpAuthenticator::Login(const std::string& email, const std::string& password,
                                     const std::string& address) {
    httplib::Headers headers = {httplib::make_basic_authentication_header(email, password)};
    if (!address.empty() && HeaderSafe(address)) {
        headers.emplace("X-Forwarded-For", address);
    }

    Lease lease(*this);
    const httplib::Result result = lease.Client().Post("/login", headers, "", "text/plain");
    if (!result) {
        lease.Discard();
        throw Unavailable(ConnectionProblem(result.error(), config_));
    }

    LoginResult login;
    switch (result->status) {
        case 200:
            login.outcome = LoginResult::Outcome::kOk;
            login.token = result->body;
            if (login.token.empty() || !HeaderSafe(login.token)) {
                throw Unavailable("POST /login answered 200 without a usable token");
            }
            return login;
        case 401:
            login.outcome = LoginResult::Outcome::kBadCredentials;
            return login;
        case 429:
            login.outcome = LoginResult::Outcome::kThrottled;
            login.retry_after = ParseRetryAfter(result->get_header_value("Retry-After"));
            return login;
        default:
            throw Unavailable("POST /login answered " + StatusProblem(result.value()));
    }
}

std::optional<Claims> HttpAuthenticator::Validate(const std::string& token) {
    // A JWT is printable ASCII; anything else is not a token and must not reach a header.
    if (token.empty() || !HeaderSafe(token)) {
        return std::nullopt;
    }

    Lease lease(*this);
    const httplib::Result result =
        lease.Client().Post("/validate", {{"Authorization", "Bearer " + token}}, "", "text/plain");
    if (!result) {
        lease.Discard();
        throw Unavailable(ConnectionProblem(result.error(), config_));
    }
    if (result->status == 401) {
        return std::nullopt;
    }
    if (result->status != 200) {
        throw Unavailable("POST /validate answered " + StatusProblem(result.value()));
    }

    try {
        const nlohmann::json body = nlohmann::json::parse(result->body);
        Claims claims;
        claims.sub = body.at("sub").get<std::string>();
        claims.username = body.at("username").get<std::string>();
        claims.admin = body.at("admin").get<bool>();
        claims.iat = body.at("iat").get<std::int64_t>();
        claims.exp = body.at("exp").get<std::int64_t>();
        claims.password_version = body.at("pwv").get<std::string>();
        return claims;
    } catch (const nlohmann::json::exception& error) {
        throw Unavailable(std::string("POST /validate answered 200 with malformed claims: ") +
                          error.what());
    }
}

}  // namespace video2mp3::adapters
