#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "adapters/postgres/postgres_connection_pool.h"
#include "video2mp3/ports/user_store.h"

namespace video2mp3::adapters {

struct PostgresConfig {
    /// postgresql://user:password@host:port/database[?param=value...] (libpq's URL form).
    /// connect_timeout=5 is added unless the URL sets one.
    std::string url;
    int pool_size = 4;  ///< connections at most; each call holds one while it runs
};

/// User accounts in PostgreSQL, table `users`. E-mails are compared and stored lower-case
/// (ASCII) and are unique. Thread-safe, through a small pool of connections.
///
/// The constructor creates or migrates the schema: numbered migrations recorded in
/// `schema_migrations`, applied in one transaction under an advisory lock, so processes
/// starting together against an empty database do not race, and applying them again
/// changes nothing.
///
/// Every call throws StorageError on trouble, transient when PostgreSQL is unreachable or
/// the connection broke. A broken connection is closed and the next call connects again,
/// so a stopped and restarted PostgreSQL needs no restart of this process.
class PostgresUserStore final : public UserStore {
 public:
    /// Throws std::invalid_argument for a malformed URL or a pool size below 1,
    /// StorageError (transient) when PostgreSQL cannot be reached (the message says where
    /// and why), StorageError (not transient) when the database's schema is newer than
    /// this program.
    explicit PostgresUserStore(PostgresConfig config);

    std::optional<User> Add(const std::string& email, const std::string& password_hash,
                            bool admin) override;
    std::optional<User> FindByEmail(const std::string& email) override;
    std::optional<User> FindById(const std::string& id) override;
    /// Every user, by e-mail (byte order).
    std::vector<User> List() override;
    bool SetPasswordHash(const std::string& email, const std::string& password_hash) override;
    bool Remove(const std::string& email) override;
    /// True when `SELECT 1` answers; never throws.
    bool Ready() override;

    /// The schema version this program creates and understands.
    static int SchemaVersion();

 private:
    PostgresConnectionPool pool_;
};

}  // namespace video2mp3::adapters
