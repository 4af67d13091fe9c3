#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace video2mp3 {

struct User {
    std::string id;             ///< random, stable; the JWT's `sub`
    std::string email;          ///< lower-case; unique
    std::string password_hash;  ///< argon2id, in libsodium's encoded form
    bool admin = false;
    std::int64_t created_at_ms = 0;
};

/// Port: user accounts (SQLite, PostgreSQL). Thread-safe. Throws StorageError on trouble.
class UserStore {
 public:
    virtual ~UserStore() = default;

    /// Adds a user and returns it with its new id; nothing when the e-mail is taken.
    virtual std::optional<User> Add(const std::string& email, const std::string& password_hash,
                                    bool admin) = 0;
    virtual std::optional<User> FindByEmail(const std::string& email) = 0;
    virtual std::optional<User> FindById(const std::string& id) = 0;
    virtual std::vector<User> List() = 0;
    /// True when the user existed.
    virtual bool SetPasswordHash(const std::string& email, const std::string& password_hash) = 0;
    /// True when the user existed.
    virtual bool Remove(const std::string& email) = 0;
    virtual bool Ready() = 0;
};

}  // namespace video2mp3
