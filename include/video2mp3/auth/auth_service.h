#pragma once

#include "video2mp3/auth/login_throttle.h"
#include "video2mp3/auth/token_service.h"
#include "video2mp3/ports/authenticator.h"
#include "video2mp3/ports/user_store.h"

namespace video2mp3::auth {

/// The auth role in-process: passwords checked against the user store, tokens from the
/// token service, failed attempts throttled. E-mails are compared lower-case. Wrong
/// password and unknown user take the same time and give the same answer. Validate also
/// checks that the token's user still exists with the same password (so removing a user or
/// changing a password ends their sessions) and takes the admin flag from the account.
class AuthService final : public Authenticator {
 public:
    AuthService(UserStore& users, const TokenService& tokens, LoginThrottle& throttle);

    LoginResult Login(const std::string& email, const std::string& password,
                      const std::string& address) override;
    std::optional<Claims> Validate(const std::string& token) override;

 private:
    UserStore& users_;
    const TokenService& tokens_;
    LoginThrottle& throttle_;
};

}  // namespace video2mp3::auth
