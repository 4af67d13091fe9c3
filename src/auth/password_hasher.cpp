#include "video2mp3/auth/password_hasher.h"

#include <sodium.h>

#include <array>
#include <cstddef>
#include <stdexcept>

namespace video2mp3::auth {
namespace {

// OWASP's minimum for argon2id: 19 MiB, 2 passes; libsodium always uses one lane.
constexpr unsigned long long kOpsLimit = 2;
constexpr std::size_t kMemLimitBytes = std::size_t{19456} * 1024;

void EnsureSodium() {
    static const bool ready = sodium_init() >= 0;
    if (!ready) {
        throw std::runtime_error("libsodium could not be initialised");
    }
}

// Made on first use so that start-up does not pay for it; static initialisation is
// thread-safe. The password is random, so nothing can ever match it.
const std::string& DummyHash() {
    static const std::string hash = [] {
        std::array<char, 32> password{};
        randombytes_buf(password.data(), password.size());
        return PasswordHasher::Hash(std::string_view(password.data(), password.size()));
    }();
    return hash;
}

}  // namespace

std::string PasswordHasher::Hash(std::string_view password) {
    EnsureSodium();

    std::array<char, crypto_pwhash_STRBYTES> encoded{};
    const int result =
        crypto_pwhash_str_alg(encoded.data(), password.data(), password.size(), kOpsLimit,
                              kMemLimitBytes, crypto_pwhash_ALG_ARGON2ID13);
    if (result != 0) {
        throw std::runtime_error("argon2id password hashing failed (out of memory)");
    }

    return std::string(encoded.data());
}

bool PasswordHasher::Verify(const std::string& hash, std::string_view password) {
    EnsureSodium();

    // libsodium reads the hash as a C string; an embedded NUL would hide the rest of it.
    if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES ||
        hash.find('\0') != std::string::npos) {
        return false;
    }

    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

void PasswordHasher::VerifyAgainstDummy(std::string_view password) {
    const std::string& hash = DummyHash();

    // The answer is thrown away: only the time spent matters.
    [[maybe_unused]] const bool matched = Verify(hash, password);
}

}  // namespace video2mp3::auth
