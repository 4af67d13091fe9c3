#pragma once

#include <optional>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_database.h"
#include "video2mp3/ports/user_store.h"

namespace video2mp3::adapters {

/// User accounts in the SQLite database. E-mails are compared and stored lower-case (ASCII),
/// and are unique. Thread-safe; the database must outlive the store.
class SqliteUserStore final : public UserStore {
 public:
    explicit SqliteUserStore(SqliteDatabase& database);

    std::optional<User> Add(const std::string& email, const std::string& password_hash,
                            bool admin) override;
    std::optional<User> FindByEmail(const std::string& email) override;
    std::optional<User> FindById(const std::string& id) override;
    /// Every user, by e-mail.
    std::vector<User> List() override;
    bool SetPasswordHash(const std::string& email, const std::string& password_hash) override;
    bool Remove(const std::string& email) override;
    bool Ready() override;

 private:
    /// The user whose `column` (id or email) equals `key`.
    std::optional<User> FindOne(const char* column, const std::string& key);

    SqliteDatabase& database_;
};

}  // namespace video2mp3::adapters
