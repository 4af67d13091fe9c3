#include "video2mp3/auth/auth_service.h"

#include <algorithm>
#include <cctype>

#include "video2mp3/auth/password_hasher.h"

namespace video2mp3::auth {
namespace {

std::string LowerCase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

LoginResult BadCredentials() {
    LoginResult result;
    result.outcome = LoginResult::Outcome::kBadCredentials;
    return result;
}

}  // namespace

AuthService::AuthService(UserStore& users, const TokenService& tokens, LoginThrottle& throttle)
    : users_(users), tokens_(tokens), throttle_(throttle) {}

LoginResult AuthService::Login(const std::string& email, const std::string& password,
                               const std::string& address) {
    const std::string account = LowerCase(email);

    // A throttled attempt never reaches the password check, so guessing gains nothing.
    if (const auto wait = throttle_.Blocked(account, address)) {
        LoginResult result;
        result.outcome = LoginResult::Outcome::kThrottled;
        result.retry_after = *wait;
        return result;
    }

    const std::optional<User> user = users_.FindByEmail(account);
    if (!user) {
        PasswordHasher::VerifyAgainstDummy(password);
        throttle_.RecordFailure(account, address);
        return BadCredentials();
    }

    if (!PasswordHasher::Verify(user->password_hash, password)) {
        throttle_.RecordFailure(account, address);
        return BadCredentials();
    }

    throttle_.RecordSuccess(account);

    LoginResult result;
    result.outcome = LoginResult::Outcome::kOk;
    result.token = tokens_.Issue(*user);
    return result;
}

std::optional<Claims> AuthService::Validate(const std::string& token) {
    std::optional<Claims> claims = tokens_.Verify(token);
    if (!claims) {
        return std::nullopt;
    }
    // A removed user's tokens stop working at once, and the admin flag is the account's
    // current one, not the one at login.
    const std::optional<User> user = users_.FindById(claims->sub);
    if (!user || claims->password_version != tokens_.PasswordVersion(*user)) {
        return std::nullopt;  // removed, or the password changed since the login
    }
    claims->admin = user->admin;
    return claims;
}

}  // namespace video2mp3::auth
