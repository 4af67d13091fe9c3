#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace video2mp3 {

/// What a verified token says about its bearer.
struct Claims {
    std::string sub;       ///< User::id
    std::string username;  ///< the e-mail
    bool admin = false;
    std::int64_t iat = 0;          ///< issued at, Unix seconds
    std::int64_t exp = 0;          ///< expires at, Unix seconds
    std::string password_version;  ///< changes when the password does (claim `pwv`)
};

struct LoginResult {
    enum class Outcome { kOk, kBadCredentials, kThrottled };
    Outcome outcome = Outcome::kBadCredentials;
    std::string token;                    ///< the JWT, when kOk
    std::chrono::seconds retry_after{0};  ///< when kThrottled
};

/// Port: the auth role as the gateway sees it (in-process in `serve`, over HTTP when
/// distributed). Thread-safe.
class Authenticator {
 public:
    virtual ~Authenticator() = default;

    /// Checks an e-mail and password; `address` is the client's, for throttling.
    virtual LoginResult Login(const std::string& email, const std::string& password,
                              const std::string& address) = 0;

    /// Verifies a bearer token; nothing when it is not valid for any reason.
    virtual std::optional<Claims> Validate(const std::string& token) = 0;
};

}  // namespace video2mp3
