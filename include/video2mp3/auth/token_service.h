#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "video2mp3/ports/authenticator.h"
#include "video2mp3/ports/user_store.h"

namespace video2mp3::auth {

struct TokenConfig {
    std::string secret;  ///< HMAC key; at least 32 bytes
    std::string issuer = "video2mp3";
    std::string audience = "video2mp3";
    std::chrono::seconds lifetime = std::chrono::hours(24);
    std::chrono::seconds leeway = std::chrono::seconds(30);  ///< clock skew allowed
};

/// Issues and verifies HS256 JWTs with libjwt. Verification pins the algorithm to HS256
/// (whatever the token's header says) and checks the signature, `exp`, `nbf`, `iat`,
/// `iss`, `aud`, `sub` and `typ`. Thread-safe.
class TokenService {
 public:
    /// Throws std::invalid_argument when the secret is shorter than 32 bytes.
    explicit TokenService(TokenConfig config);

    /// A token for the user: claims sub, username, admin, iat, exp, iss, aud.
    std::string Issue(const User& user) const;

    /// A short keyed fingerprint of the user's password hash, carried in tokens as `pwv`:
    /// a new password makes every older token fail Validate.
    std::string PasswordVersion(const User& user) const;

    /// The claims of a valid token; nothing for any invalid one.
    std::optional<Claims> Verify(std::string_view token) const;

    const TokenConfig& Config() const { return config_; }

 private:
    TokenConfig config_;
};

}  // namespace video2mp3::auth
