#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

#include "video2mp3/auth/auth_service.h"
#include "video2mp3/auth/login_throttle.h"
#include "video2mp3/auth/password_hasher.h"
#include "video2mp3/auth/token_service.h"

namespace video2mp3::auth {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// Exactly 32 bytes, the key size of libsodium's one-shot HMACs.
const std::string kSecret = "0123456789abcdef0123456789abcdef";
const std::string kOtherSecret = "fedcba9876543210fedcba9876543210";

// ---------------------------------------------------------------------------------------
// Tokens made by hand, so that the rejection tests do not depend on libjwt.

enum class Mac { kHs256, kHs512, kNone };

std::string Base64Url(const std::string& bytes) {
    constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    std::string text(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
    sodium_bin2base64(text.data(), text.size(),
                      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), kVariant);
    text.resize(text.find('\0'));
    return text;
}

std::string FromBase64Url(const std::string& text) {
    std::string bytes(text.size(), '\0');
    std::size_t length = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), text.data(),
                          text.size(), nullptr, &length, nullptr,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        throw std::runtime_error("not base64url: " + text);
    }
    bytes.resize(length);
    return bytes;
}

std::string Sign(Mac mac, const std::string& secret, const std::string& input) {
    const auto* message = reinterpret_cast<const unsigned char*>(input.data());
    const auto* key = reinterpret_cast<const unsigned char*>(secret.data());
    if (mac == Mac::kHs256) {
        unsigned char out[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256(out, message, input.size(), key);
        return std::string(reinterpret_cast<const char*>(out), sizeof out);
    }
    if (mac == Mac::kHs512) {
        unsigned char out[crypto_auth_hmacsha512_BYTES];
        crypto_auth_hmacsha512(out, message, input.size(), key);
        return std::string(reinterpret_cast<const char*>(out), sizeof out);
    }
    return "";
}

std::string MakeToken(const Json& header, const Json& payload, Mac mac = Mac::kHs256,
                      const std::string& secret = kSecret) {
    const std::string input = Base64Url(header.dump()) + "." + Base64Url(payload.dump());
    return input + "." + Base64Url(Sign(mac, secret, input));
}

std::int64_t Now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Json GoodHeader() {
    return {{"alg", "HS256"}, {"typ", "JWT"}};
}

Json GoodClaims() {
    const std::int64_t now = Now();
    return {{"sub", "user-1"},    {"username", "alice@example.com"},
            {"admin", false},     {"iat", now},
            {"nbf", now},         {"exp", now + 3600},
            {"iss", "video2mp3"}, {"aud", "video2mp3"}};
}

TokenConfig Config(std::string secret = kSecret) {
    TokenConfig config;
    config.secret = std::move(secret);
    config.lifetime = 2h;
    config.leeway = 30s;
    return config;
}

User Alice(bool admin = false) {
    User user;
    user.id = "user-1";
    user.email = "alice@example.com";
    user.admin = admin;
    return user;
}

// Replaces one character of the token with another from the base64url alphabet.
std::string FlipCharacter(std::string token, std::size_t index) {
    token.at(index) = token[index] == 'A' ? 'B' : 'A';
    return token;
}

// ---------------------------------------------------------------------------------------
// PasswordHasher. argon2id at 19 MiB costs tens of milliseconds, so hashes are few.

TEST(PasswordHasher, HashIsArgon2idAtLeastOwaspMinimumCost) {
    const std::string hash = PasswordHasher::Hash("correct horse");

    std::smatch match;
    ASSERT_TRUE(std::regex_search(hash, match,
                                  std::regex(R"(^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$)")))
        << hash;
    EXPECT_GE(std::stoi(match[1]), 19456);
    EXPECT_GE(std::stoi(match[2]), 2);
    EXPECT_GE(std::stoi(match[3]), 1);
}

TEST(PasswordHasher, VerifiesTheRightPasswordOnlyAndSaltsEachHash) {
    const std::string first = PasswordHasher::Hash("correct horse");
    const std::string second = PasswordHasher::Hash("correct horse");

    EXPECT_NE(first, second);
    EXPECT_TRUE(PasswordHasher::Verify(first, "correct horse"));
    EXPECT_TRUE(PasswordHasher::Verify(second, "correct horse"));
    EXPECT_FALSE(PasswordHasher::Verify(first, "correct horse "));
}

TEST(PasswordHasher, MalformedHashDoesNotVerify) {
    EXPECT_FALSE(PasswordHasher::Verify("", "x"));
    EXPECT_FALSE(PasswordHasher::Verify("not a hash", "x"));
    EXPECT_FALSE(PasswordHasher::Verify("$argon2id$v=19$m=19456,t=2,p=1$broken", "x"));
}

// ---------------------------------------------------------------------------------------
// TokenService: what it issues, and the J1 matrix of tokens it must refuse.

TEST(TokenService, ShortSecretIsRefused) {
    EXPECT_THROW(TokenService(Config(std::string(31, 'k'))), std::invalid_argument);
    EXPECT_NO_THROW(TokenService(Config(std::string(32, 'k'))));
}

TEST(TokenService, IssuedTokenRoundTripsEveryClaim) {
    const TokenService tokens(Config());

    for (const bool admin : {false, true}) {
        const std::int64_t before = Now();
        const std::string token = tokens.Issue(Alice(admin));
        const std::optional<Claims> claims = tokens.Verify(token);

        ASSERT_TRUE(claims) << token;
        EXPECT_EQ(claims->sub, "user-1");
        EXPECT_EQ(claims->username, "alice@example.com");
        EXPECT_EQ(claims->admin, admin);
        EXPECT_GE(claims->iat, before);
        EXPECT_LE(claims->iat, Now());
        EXPECT_EQ(claims->exp - claims->iat, std::chrono::seconds(2h).count());
    }
}

TEST(TokenService, IssuedTokenCarriesHs256JwtHeaderAndRegisteredClaims) {
    const TokenService tokens(Config());
    const std::string token = tokens.Issue(Alice());

    const std::size_t first_dot = token.find('.');
    const std::size_t second_dot = token.find('.', first_dot + 1);
    const Json header = Json::parse(FromBase64Url(token.substr(0, first_dot)));
    const Json payload =
        Json::parse(FromBase64Url(token.substr(first_dot + 1, second_dot - first_dot - 1)));

    EXPECT_EQ(header.at("alg"), "HS256");
    EXPECT_EQ(header.at("typ"), "JWT");
    EXPECT_EQ(payload.at("iss"), "video2mp3");
    EXPECT_EQ(payload.at("aud"), "video2mp3");
    EXPECT_EQ(payload.at("nbf"), payload.at("iat"));
}

TEST(TokenService, TokenFromAnotherSecretIsRejected) {
    const TokenService ours(Config());
    const TokenService theirs(Config(kOtherSecret));

    EXPECT_FALSE(ours.Verify(theirs.Issue(Alice())));
}

// Proves the hand-made tokens below are right in every way but the one each test changes.
TEST(TokenService, HandMadeTokenIsAccepted) {
    const TokenService tokens(Config());

    const std::optional<Claims> claims = tokens.Verify(MakeToken(GoodHeader(), GoodClaims()));

    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->sub, "user-1");
    EXPECT_EQ(claims->username, "alice@example.com");
}

TEST(TokenService, AudienceMayBeAnArrayContainingOurs) {
    const TokenService tokens(Config());
    Json claims = GoodClaims();

    claims["aud"] = Json::array({"someone-else", "video2mp3"});
    EXPECT_TRUE(tokens.Verify(MakeToken(GoodHeader(), claims)));

    claims["aud"] = Json::array({"someone-else"});
    EXPECT_FALSE(tokens.Verify(MakeToken(GoodHeader(), claims)));
}

TEST(TokenService, ClockSkewWithinLeewayIsTolerated) {
    const TokenService tokens(Config());
    Json claims = GoodClaims();

    claims["iat"] = Now() + 10;
    claims["nbf"] = Now() + 10;
    EXPECT_TRUE(tokens.Verify(MakeToken(GoodHeader(), claims)));

    claims = GoodClaims();
    claims["exp"] = Now() - 10;
    EXPECT_TRUE(tokens.Verify(MakeToken(GoodHeader(), claims)));
}

TEST(TokenService, UnsignedAlgNoneIsRejected) {
    const TokenService tokens(Config());
    const Json header = {{"alg", "none"}, {"typ", "JWT"}};
    const std::string unsigned_token = MakeToken(header, GoodClaims(), Mac::kNone);

    EXPECT_FALSE(tokens.Verify(unsigned_token));
    EXPECT_FALSE(tokens.Verify(unsigned_token.substr(0, unsigned_token.size() - 1)));
    EXPECT_FALSE(tokens.Verify(MakeToken({{"alg", "none"}}, GoodClaims(), Mac::kHs256)));
}

TEST(TokenService, Hs512WithTheSameSecretIsRejected) {
    const TokenService tokens(Config());
    const Json header = {{"alg", "HS512"}, {"typ", "JWT"}};

    EXPECT_FALSE(tokens.Verify(MakeToken(header, GoodClaims(), Mac::kHs512)));
}

TEST(TokenService, Rs256LabelOverAnHs256SignatureIsRejected) {
    const TokenService tokens(Config());
    const Json header = {{"alg", "RS256"}, {"typ", "JWT"}};

    EXPECT_FALSE(tokens.Verify(MakeToken(header, GoodClaims(), Mac::kHs256)));
}

TEST(TokenService, AlgorithmNameMustMatchExactly) {
    const TokenService tokens(Config());

    EXPECT_FALSE(tokens.Verify(MakeToken({{"alg", "hs256"}, {"typ", "JWT"}}, GoodClaims())));
    EXPECT_FALSE(tokens.Verify(MakeToken({{"typ", "JWT"}}, GoodClaims())));
}

TEST(TokenService, FlippedSignatureByteIsRejected) {
    const TokenService tokens(Config());
    const std::string token = MakeToken(GoodHeader(), GoodClaims());
    const std::size_t signature = token.rfind('.') + 1;

    EXPECT_FALSE(tokens.Verify(FlipCharacter(token, signature)));
    EXPECT_FALSE(tokens.Verify(FlipCharacter(token, signature + 20)));
    EXPECT_FALSE(tokens.Verify(FlipCharacter(token, token.size() - 1)));
}

TEST(TokenService, FlippedPayloadByteIsRejected) {
    const TokenService tokens(Config());
    const std::string token = MakeToken(GoodHeader(), GoodClaims());
    const std::size_t payload = token.find('.') + 1;

    EXPECT_FALSE(tokens.Verify(FlipCharacter(token, payload + 10)));
}

TEST(TokenService, PayloadSwappedUnderAnOldSignatureIsRejected) {
    const TokenService tokens(Config());
    const std::string token = MakeToken(GoodHeader(), GoodClaims());
    Json admin = GoodClaims();
    admin["admin"] = true;
    const std::string forged = MakeToken(GoodHeader(), admin);

    const std::string spliced =
        forged.substr(0, forged.rfind('.')) + token.substr(token.rfind('.'));

    EXPECT_FALSE(tokens.Verify(spliced));
}

TEST(TokenService, ExpiredTokenIsRejected) {
    const TokenService tokens(Config());
    Json claims = GoodClaims();
    claims["iat"] = Now() - 7200;
    claims["nbf"] = Now() - 7200;
    claims["exp"] = Now() - 3600;

    EXPECT_FALSE(tokens.Verify(MakeToken(GoodHeader(), claims)));
}

TEST(TokenService, NotBeforeInTheFutureIsRejected) {
    const TokenService tokens(Config());
    Json claims = GoodClaims();
    claims["nbf"] = Now() + 600;

    EXPECT_FALSE(tokens.Verify(MakeToken(GoodHeader(), claims)));
}

TEST(TokenService, IssuedInTheFutureIsRejected) {
    const TokenService tokens(Config());
    Json claims = GoodClaims();
    claims["iat"] = Now() + 600;

    EXPECT_FALSE(tokens.Verify(MakeToken(GoodHeader(), claims)));
}

TEST(TokenService, WrongIssuerIsRejected) {
    const TokenService tokens(Config());
    Json claims = GoodClaims();
    claims["iss"] = "someone-else";

    EXPECT_FALSE(tokens.Verify(MakeToken(GoodHeader(), claims)));
}

TEST(TokenService, WrongAudienceIsRejected) {
    const TokenService tokens(Config());
    Json claims = GoodClaims();
    claims["aud"] = "someone-else";

    EXPECT_FALSE(tokens.Verify(MakeToken(GoodHeader(), claims)));
}

TEST(TokenService, MissingExpiryIsRejected) {
    const TokenService tokens(Config());
    Json claims = GoodClaims();
    claims.erase("exp");

    EXPECT_FALSE(tokens.Verify(MakeToken(GoodHeader(), claims)));
}

TEST(TokenService, MissingOrEmptySubjectIsRejected) {
    const TokenService tokens(Config());
    Json claims = GoodClaims();

    claims["sub"] = "";
    EXPECT_FALSE(tokens.Verify(MakeToken(GoodHeader(), claims)));

    claims.erase("sub");
    EXPECT_FALSE(tokens.Verify(MakeToken(GoodHeader(), claims)));
}

TEST(TokenService, WrongTypeIsRejected) {
    const TokenService tokens(Config());
    const Json header = {{"alg", "HS256"}, {"typ", "at+jwt"}};

    EXPECT_FALSE(tokens.Verify(MakeToken(header, GoodClaims())));
}

TEST(TokenService, TrailingGarbageIsRejected) {
    const TokenService tokens(Config());
    const std::string token = MakeToken(GoodHeader(), GoodClaims());

    EXPECT_FALSE(tokens.Verify(token + "A"));
    EXPECT_FALSE(tokens.Verify(token + "."));
    EXPECT_FALSE(tokens.Verify(token + ".AAAA"));
    EXPECT_FALSE(tokens.Verify(token + " "));
    EXPECT_FALSE(tokens.Verify(token + "\n"));
    EXPECT_FALSE(tokens.Verify(token + std::string(1, '\0') + "A"));
}

TEST(TokenService, WrongNumberOfSegmentsIsRejected) {
    const TokenService tokens(Config());
    const std::string token = MakeToken(GoodHeader(), GoodClaims());
    const std::string signing_input = token.substr(0, token.rfind('.'));

    EXPECT_FALSE(tokens.Verify(signing_input));
    EXPECT_FALSE(tokens.Verify(signing_input + "."));
    EXPECT_FALSE(tokens.Verify(token.substr(0, token.find('.'))));
    EXPECT_FALSE(tokens.Verify(""));
    EXPECT_FALSE(tokens.Verify(".."));
}

// ---------------------------------------------------------------------------------------
// LoginThrottle

TEST(LoginThrottle, FiveFailuresBlockTheAccountForAtMostTheWindow) {
    LoginThrottle throttle(5, 20, 60s);

    for (int i = 0; i < 4; ++i) {
        throttle.RecordFailure("alice@example.com", "10.0.0.1");
    }
    EXPECT_FALSE(throttle.Blocked("alice@example.com", "10.0.0.1"));

    throttle.RecordFailure("alice@example.com", "10.0.0.1");
    const std::optional<std::chrono::seconds> wait =
        throttle.Blocked("alice@example.com", "10.0.0.2");

    ASSERT_TRUE(wait);
    EXPECT_GT(*wait, 0s);
    EXPECT_LE(*wait, 60s);
    EXPECT_FALSE(throttle.Blocked("bob@example.com", "10.0.0.2"));
}

TEST(LoginThrottle, TwentyFailuresFromOneAddressBlockEveryAccountFromIt) {
    LoginThrottle throttle(5, 20, 60s);

    for (int i = 0; i < 19; ++i) {
        throttle.RecordFailure("user" + std::to_string(i) + "@example.com", "10.0.0.1");
    }
    EXPECT_FALSE(throttle.Blocked("anyone@example.com", "10.0.0.1"));

    throttle.RecordFailure("user19@example.com", "10.0.0.1");

    EXPECT_TRUE(throttle.Blocked("anyone@example.com", "10.0.0.1"));
    EXPECT_FALSE(throttle.Blocked("anyone@example.com", "10.0.0.2"));
}

TEST(LoginThrottle, SuccessClearsTheAccountButNotTheAddress) {
    LoginThrottle throttle(5, 6, 60s);

    for (int i = 0; i < 4; ++i) {
        throttle.RecordFailure("alice@example.com", "10.0.0.1");
    }
    throttle.RecordSuccess("alice@example.com");
    throttle.RecordFailure("alice@example.com", "10.0.0.2");

    EXPECT_FALSE(throttle.Blocked("alice@example.com", "10.0.0.3"));

    throttle.RecordFailure("bob@example.com", "10.0.0.1");
    throttle.RecordFailure("bob@example.com", "10.0.0.1");
    throttle.RecordSuccess("bob@example.com");

    EXPECT_TRUE(throttle.Blocked("carol@example.com", "10.0.0.1"));
}

TEST(LoginThrottle, AttemptsAreAllowedAgainOnceTheWindowHasPassed) {
    LoginThrottle throttle(5, 20, 1s);

    for (int i = 0; i < 5; ++i) {
        throttle.RecordFailure("alice@example.com", "10.0.0.1");
    }
    const std::optional<std::chrono::seconds> wait =
        throttle.Blocked("alice@example.com", "10.0.0.1");
    ASSERT_TRUE(wait);
    EXPECT_EQ(*wait, 1s);

    std::this_thread::sleep_for(1100ms);

    EXPECT_FALSE(throttle.Blocked("alice@example.com", "10.0.0.1"));
    throttle.RecordFailure("alice@example.com", "10.0.0.1");
    EXPECT_FALSE(throttle.Blocked("alice@example.com", "10.0.0.1"));
}

TEST(LoginThrottle, NonsenseLimitsAreRefused) {
    EXPECT_THROW(LoginThrottle(0, 20, 60s), std::invalid_argument);
    EXPECT_THROW(LoginThrottle(5, 20, 0s), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------
// AuthService, over an in-memory user store.

class MemoryUserStore final : public UserStore {
 public:
    std::optional<User> Add(const std::string& email, const std::string& password_hash,
                            bool admin) override {
        if (users_.contains(email)) {
            return std::nullopt;
        }
        User user;
        user.id = "id-" + std::to_string(users_.size() + 1);
        user.email = email;
        user.password_hash = password_hash;
        user.admin = admin;
        users_[email] = user;
        return user;
    }

    std::optional<User> FindByEmail(const std::string& email) override {
        const auto user = users_.find(email);
        if (user == users_.end()) {
            return std::nullopt;
        }
        return user->second;
    }

    std::optional<User> FindById(const std::string& id) override {
        for (const auto& [email, user] : users_) {
            if (user.id == id) {
                return user;
            }
        }
        return std::nullopt;
    }

    std::vector<User> List() override {
        std::vector<User> users;
        for (const auto& [email, user] : users_) {
            users.push_back(user);
        }
        return users;
    }

    bool SetPasswordHash(const std::string& email, const std::string& password_hash) override {
        const auto user = users_.find(email);
        if (user == users_.end()) {
            return false;
        }
        user->second.password_hash = password_hash;
        return true;
    }

    bool Remove(const std::string& email) override { return users_.erase(email) > 0; }

    bool Ready() override { return true; }

 private:
    std::map<std::string, User> users_;
};

class AuthServiceTest : public ::testing::Test {
 protected:
    static void SetUpTestSuite() { hash_ = new std::string(PasswordHasher::Hash("s3cret pw")); }

    static void TearDownTestSuite() {
        delete hash_;
        hash_ = nullptr;
    }

    void SetUp() override { user_ = *users_.Add("alice@example.com", *hash_, true); }

    static std::string* hash_;
    MemoryUserStore users_;
    TokenService tokens_{Config()};
    LoginThrottle throttle_{5, 20, 60s};
    AuthService auth_{users_, tokens_, throttle_};
    User user_;
};

std::string* AuthServiceTest::hash_ = nullptr;

TEST_F(AuthServiceTest, RightPasswordGivesATokenThatValidates) {
    const LoginResult result = auth_.Login("alice@example.com", "s3cret pw", "10.0.0.1");

    ASSERT_EQ(result.outcome, LoginResult::Outcome::kOk);
    const std::optional<Claims> claims = auth_.Validate(result.token);
    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->sub, user_.id);
    EXPECT_EQ(claims->username, "alice@example.com");
    EXPECT_TRUE(claims->admin);
}

TEST_F(AuthServiceTest, WrongPasswordAndUnknownUserGetTheSameAnswer) {
    const LoginResult wrong = auth_.Login("alice@example.com", "guess", "10.0.0.1");
    const LoginResult unknown = auth_.Login("nobody@example.com", "s3cret pw", "10.0.0.1");

    EXPECT_EQ(wrong.outcome, LoginResult::Outcome::kBadCredentials);
    EXPECT_TRUE(wrong.token.empty());
    EXPECT_EQ(unknown.outcome, LoginResult::Outcome::kBadCredentials);
    EXPECT_TRUE(unknown.token.empty());
}

TEST_F(AuthServiceTest, EmailIsMatchedWhateverItsCase) {
    const LoginResult result = auth_.Login("Alice@Example.COM", "s3cret pw", "10.0.0.1");

    ASSERT_EQ(result.outcome, LoginResult::Outcome::kOk);
    const std::optional<Claims> claims = auth_.Validate(result.token);
    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->username, "alice@example.com");
}

TEST_F(AuthServiceTest, FiveFailuresThrottleEvenTheRightPassword) {
    for (int i = 0; i < 5; ++i) {
        const std::string email = i % 2 == 0 ? "alice@example.com" : "ALICE@example.com";
        EXPECT_EQ(auth_.Login(email, "guess", "10.0.0.1").outcome,
                  LoginResult::Outcome::kBadCredentials);
    }

    const LoginResult result = auth_.Login("alice@example.com", "s3cret pw", "10.0.0.2");

    EXPECT_EQ(result.outcome, LoginResult::Outcome::kThrottled);
    EXPECT_TRUE(result.token.empty());
    EXPECT_GT(result.retry_after, 0s);
    EXPECT_LE(result.retry_after, 60s);
}

TEST_F(AuthServiceTest, UnknownUsersAreThrottledToo) {
    for (int i = 0; i < 5; ++i) {
        auth_.Login("nobody@example.com", "guess", "10.0.0.1");
    }

    EXPECT_EQ(auth_.Login("nobody@example.com", "guess", "10.0.0.1").outcome,
              LoginResult::Outcome::kThrottled);
}

TEST_F(AuthServiceTest, RemovedUsersTokenStopsWorking) {
    const LoginResult result = auth_.Login("alice@example.com", "s3cret pw", "10.0.0.1");
    ASSERT_EQ(result.outcome, LoginResult::Outcome::kOk);
    ASSERT_TRUE(auth_.Validate(result.token));

    users_.Remove("alice@example.com");

    EXPECT_FALSE(auth_.Validate(result.token));
}

TEST_F(AuthServiceTest, PasswordChangeEndsOlderTokens) {
    const LoginResult before = auth_.Login("alice@example.com", "s3cret pw", "10.0.0.1");
    ASSERT_EQ(before.outcome, LoginResult::Outcome::kOk);
    ASSERT_TRUE(auth_.Validate(before.token));

    users_.SetPasswordHash("alice@example.com", PasswordHasher::Hash("another pw"));

    EXPECT_FALSE(auth_.Validate(before.token));
    const LoginResult after = auth_.Login("alice@example.com", "another pw", "10.0.0.1");
    ASSERT_EQ(after.outcome, LoginResult::Outcome::kOk);
    EXPECT_TRUE(auth_.Validate(after.token));
}

TEST_F(AuthServiceTest, ValidateRejectsGarbage) {
    EXPECT_FALSE(auth_.Validate("not.a.token"));
    EXPECT_FALSE(auth_.Validate(""));
}

}  // namespace
}  // namespace video2mp3::auth
