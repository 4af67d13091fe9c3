#include "video2mp3/auth/token_service.h"

#include <jwt.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace video2mp3::auth {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kMinSecretBytes = 32;
// Ours are about 350 bytes; a cap keeps hostile input from costing parse time.
constexpr std::size_t kMaxTokenBytes = 8192;
constexpr const char* kAlgorithm = "HS256";
constexpr const char* kType = "JWT";
constexpr int kBase64Url = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

struct JwtDeleter {
    void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct MallocDeleter {
    void operator()(char* text) const { std::free(text); }
};
using MallocString = std::unique_ptr<char, MallocDeleter>;

struct Segments {
    std::string_view header;
    std::string_view payload;
    std::string_view signature;
    std::string_view signing_input;  ///< "header.payload", what the MAC covers
};

void EnsureSodium() {
    static const bool ready = sodium_init() >= 0;
    if (!ready) {
        throw std::runtime_error("libsodium could not be initialised");
    }
}

void Require(int error, const char* step) {
    if (error != 0) {
        throw std::runtime_error(std::string("libjwt ") + step + ": " +
                                 std::generic_category().message(error));
    }
}

std::int64_t UnixNow() {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
}

const unsigned char* Bytes(std::string_view text) {
    return reinterpret_cast<const unsigned char*>(text.data());
}

std::string EncodeBase64Url(std::string_view bytes) {
    std::string text(sodium_base64_ENCODED_LEN(bytes.size(), kBase64Url), '\0');
    sodium_bin2base64(text.data(), text.size(), Bytes(bytes), bytes.size(), kBase64Url);
    text.resize(std::strlen(text.c_str()));
    return text;
}

std::optional<std::string> DecodeBase64Url(std::string_view text) {
    std::string bytes(text.size(), '\0');
    std::size_t length = 0;

    // No ignored characters and no end pointer: anything outside the alphabet fails.
    const int result =
        sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), text.data(),
                          text.size(), nullptr, &length, nullptr, kBase64Url);
    if (result != 0) {
        return std::nullopt;
    }

    bytes.resize(length);
    return bytes;
}

std::optional<Segments> Split(std::string_view token) {
    const std::size_t first_dot = token.find('.');
    if (first_dot == std::string_view::npos) {
        return std::nullopt;
    }
    const std::size_t second_dot = token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos ||
        token.find('.', second_dot + 1) != std::string_view::npos) {
        return std::nullopt;
    }

    Segments segments;
    segments.header = token.substr(0, first_dot);
    segments.payload = token.substr(first_dot + 1, second_dot - first_dot - 1);
    segments.signature = token.substr(second_dot + 1);
    segments.signing_input = token.substr(0, second_dot);
    if (segments.header.empty() || segments.payload.empty() || segments.signature.empty()) {
        return std::nullopt;
    }

    return segments;
}

std::optional<Json> DecodeJsonObject(std::string_view segment) {
    const std::optional<std::string> text = DecodeBase64Url(segment);
    if (!text) {
        return std::nullopt;
    }

    Json json = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) {
        return std::nullopt;
    }

    return json;
}

// RFC 8725 §3.1: the algorithm is ours to choose, so anything but HS256 is refused here,
// before any key is used. Critical extensions we do not know must be refused too.
bool HeaderAccepted(std::string_view segment) {
    const std::optional<Json> header = DecodeJsonObject(segment);
    if (!header) {
        return false;
    }

    const auto alg = header->find("alg");
    if (alg == header->end() || !alg->is_string() ||
        alg->get_ref<const std::string&>() != kAlgorithm) {
        return false;
    }

    const auto typ = header->find("typ");
    if (typ != header->end() &&
        (!typ->is_string() || typ->get_ref<const std::string&>() != kType)) {
        return false;
    }

    return !header->contains("crit");
}

std::string HmacSha256(std::string_view key, std::string_view message) {
    crypto_auth_hmacsha256_state state;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];

    crypto_auth_hmacsha256_init(&state, Bytes(key), key.size());
    crypto_auth_hmacsha256_update(&state, Bytes(message), message.size());
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof state);

    return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

// Compares the encoded signature as text, so only the one canonical encoding of the MAC
// passes, and in constant time (RFC 7518 §3.2).
bool SignatureMatches(const std::string& secret, const Segments& segments) {
    const std::string expected = EncodeBase64Url(HmacSha256(secret, segments.signing_input));
    if (segments.signature.size() != expected.size()) {
        return false;
    }

    return sodium_memcmp(segments.signature.data(), expected.data(), expected.size()) == 0;
}

// libjwt 1.10 takes the algorithm from the header and validates no claims, so it is only a
// second opinion on the signature; the caller has already checked everything else.
bool LibjwtAccepts(std::string_view token, const std::string& secret) {
    const std::string text(token);
    jwt_t* raw = nullptr;
    const int error =
        jwt_decode(&raw, text.c_str(), Bytes(secret), static_cast<int>(secret.size()));
    const JwtPtr jwt(raw);

    return error == 0 && jwt && jwt_get_alg(jwt.get()) == JWT_ALG_HS256;
}

std::optional<std::int64_t> IntegerClaim(const Json& claims, const char* name) {
    const auto claim = claims.find(name);
    if (claim == claims.end()) {
        return std::nullopt;
    }

    if (claim->is_number_unsigned()) {
        const auto value = claim->get<std::uint64_t>();
        if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return std::nullopt;
        }
        return static_cast<std::int64_t>(value);
    }
    if (claim->is_number_integer()) {
        return claim->get<std::int64_t>();
    }

    return std::nullopt;
}

std::optional<std::string> NonEmptyStringClaim(const Json& claims, const char* name) {
    const auto claim = claims.find(name);
    if (claim == claims.end() || !claim->is_string() ||
        claim->get_ref<const std::string&>().empty()) {
        return std::nullopt;
    }

    return claim->get<std::string>();
}

bool AudienceMatches(const Json& claims, const std::string& audience) {
    const auto aud = claims.find("aud");
    if (aud == claims.end()) {
        return false;
    }

    if (aud->is_string()) {
        return aud->get_ref<const std::string&>() == audience;
    }
    if (aud->is_array()) {
        for (const Json& entry : *aud) {
            if (entry.is_string() && entry.get_ref<const std::string&>() == audience) {
                return true;
            }
        }
    }

    return false;
}

std::optional<Claims> ReadClaims(const Json& payload, const TokenConfig& config, std::int64_t now) {
    const std::int64_t leeway = config.leeway.count();

    // Written as now ± leeway so that a huge claimed time cannot overflow.
    const std::optional<std::int64_t> exp = IntegerClaim(payload, "exp");
    if (!exp || *exp <= now - leeway) {
        return std::nullopt;
    }
    const std::optional<std::int64_t> iat = IntegerClaim(payload, "iat");
    if (!iat || *iat > now + leeway) {
        return std::nullopt;
    }
    if (payload.contains("nbf")) {
        const std::optional<std::int64_t> nbf = IntegerClaim(payload, "nbf");
        if (!nbf || *nbf > now + leeway) {
            return std::nullopt;
        }
    }

    const auto iss = payload.find("iss");
    if (iss == payload.end() || !iss->is_string() ||
        iss->get_ref<const std::string&>() != config.issuer) {
        return std::nullopt;
    }
    if (!AudienceMatches(payload, config.audience)) {
        return std::nullopt;
    }

    std::optional<std::string> sub = NonEmptyStringClaim(payload, "sub");
    std::optional<std::string> username = NonEmptyStringClaim(payload, "username");
    if (!sub || !username) {
        return std::nullopt;
    }

    bool admin = false;
    if (const auto claim = payload.find("admin"); claim != payload.end()) {
        if (!claim->is_boolean()) {
            return std::nullopt;
        }
        admin = claim->get<bool>();
    }

    std::string password_version;
    if (const auto claim = payload.find("pwv"); claim != payload.end()) {
        if (!claim->is_string()) {
            return std::nullopt;
        }
        password_version = claim->get<std::string>();
    }

    Claims claims;
    claims.password_version = std::move(password_version);
    claims.sub = std::move(*sub);
    claims.username = std::move(*username);
    claims.admin = admin;
    claims.iat = *iat;
    claims.exp = *exp;
    return claims;
}

}  // namespace

TokenService::TokenService(TokenConfig config) : config_(std::move(config)) {
    if (config_.secret.size() < kMinSecretBytes) {
        throw std::invalid_argument("token secret must be at least 32 bytes");
    }
    if (config_.secret.size() > static_cast<std::size_t>(INT_MAX)) {
        throw std::invalid_argument("token secret is too long");
    }
    if (config_.lifetime.count() <= 0) {
        throw std::invalid_argument("token lifetime must be positive");
    }
    if (config_.leeway.count() < 0) {
        throw std::invalid_argument("token leeway must not be negative");
    }

    EnsureSodium();
}

std::string TokenService::PasswordVersion(const User& user) const {
    std::array<unsigned char, 8> digest{};
    const std::size_t key_length =
        std::min<std::size_t>(config_.secret.size(), crypto_generichash_KEYBYTES_MAX);
    crypto_generichash(digest.data(), digest.size(),
                       reinterpret_cast<const unsigned char*>(user.password_hash.data()),
                       user.password_hash.size(),
                       reinterpret_cast<const unsigned char*>(config_.secret.data()), key_length);
    std::array<char, 17> hex{};
    sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
    return hex.data();
}

std::string TokenService::Issue(const User& user) const {
    if (user.id.empty() || user.email.empty()) {
        throw std::invalid_argument("a token needs the user's id and e-mail");
    }
    const std::int64_t issued_at = UnixNow();
    const std::int64_t expires_at = issued_at + config_.lifetime.count();

    jwt_t* raw = nullptr;
    Require(jwt_new(&raw), "jwt_new");
    const JwtPtr jwt(raw);

    Require(jwt_set_alg(jwt.get(), JWT_ALG_HS256, Bytes(config_.secret),
                        static_cast<int>(config_.secret.size())),
            "jwt_set_alg");
    Require(jwt_add_header(jwt.get(), "typ", kType), "typ header");
    Require(jwt_add_grant(jwt.get(), "sub", user.id.c_str()), "sub");
    Require(jwt_add_grant(jwt.get(), "username", user.email.c_str()), "username");
    Require(jwt_add_grant_bool(jwt.get(), "admin", user.admin ? 1 : 0), "admin");
    Require(jwt_add_grant_int(jwt.get(), "iat", issued_at), "iat");
    Require(jwt_add_grant_int(jwt.get(), "nbf", issued_at), "nbf");
    Require(jwt_add_grant_int(jwt.get(), "exp", expires_at), "exp");
    Require(jwt_add_grant(jwt.get(), "iss", config_.issuer.c_str()), "iss");
    Require(jwt_add_grant(jwt.get(), "aud", config_.audience.c_str()), "aud");
    Require(jwt_add_grant(jwt.get(), "pwv", PasswordVersion(user).c_str()), "pwv");

    const MallocString encoded(jwt_encode_str(jwt.get()));
    if (!encoded) {
        throw std::runtime_error("libjwt could not encode the token");
    }

    return std::string(encoded.get());
}

std::optional<Claims> TokenService::Verify(std::string_view token) const {
    if (token.empty() || token.size() > kMaxTokenBytes) {
        return std::nullopt;
    }

    const std::optional<Segments> segments = Split(token);
    if (!segments || !HeaderAccepted(segments->header)) {
        return std::nullopt;
    }

    if (!SignatureMatches(config_.secret, *segments) || !LibjwtAccepts(token, config_.secret)) {
        return std::nullopt;
    }

    const std::optional<Json> payload = DecodeJsonObject(segments->payload);
    if (!payload) {
        return std::nullopt;
    }

    return ReadClaims(*payload, config_, UnixNow());
}

}  // namespace video2mp3::auth
