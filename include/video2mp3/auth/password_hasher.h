#pragma once

#include <string>
#include <string_view>

namespace video2mp3::auth {

/// argon2id password hashes (libsodium), at least OWASP's minimum cost: 19 MiB of memory,
/// 2 iterations, 1 lane. Hashes are libsodium's self-describing encoded strings
/// ("$argon2id$v=19$m=19456,t=2,p=1$..."), so the cost can be raised later without breaking
/// old hashes. Thread-safe.
class PasswordHasher {
 public:
    /// Hashes a password with a fresh random salt. Throws std::runtime_error when out of
    /// memory.
    static std::string Hash(std::string_view password);

    /// True when `password` matches `hash`. False for a malformed hash.
    static bool Verify(const std::string& hash, std::string_view password);

    /// Spends the same time as a Verify against a real hash, for unknown users, so that
    /// the answer's timing does not reveal which e-mails have accounts.
    static void VerifyAgainstDummy(std::string_view password);
};

}  // namespace video2mp3::auth
