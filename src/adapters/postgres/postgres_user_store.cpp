#include "adapters/postgres/postgres_user_store.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdint>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

struct Migration {
    int version;
    const char* sql;
};

// Append only: a released migration is never edited, a change is a new number.
constexpr Migration kMigrations[] = {
    {1,
     "CREATE TABLE users ("
     " id text PRIMARY KEY,"
     " email text NOT NULL UNIQUE,"
     " password_hash text NOT NULL,"
     " admin boolean NOT NULL DEFAULT false,"
     " created_at_ms bigint NOT NULL)"},
};

constexpr int kLatestVersion = kMigrations[std::size(kMigrations) - 1].version;

// The key of the advisory lock held while migrating: "v2m3user" in ASCII.
constexpr std::int64_t kMigrationLock = 0x7632'6d33'7573'6572;

constexpr const char* kUserColumns = "id, email, password_hash, admin, created_at_ms";

std::string LowerCase(const std::string& text) {
    std::string lower = text;
    for (char& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return lower;
}

std::int64_t UnixNowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

User ReadUser(const pqxx::row& row) {
    User user;
    user.id = row[0].as<std::string>();
    user.email = row[1].as<std::string>();
    user.password_hash = row[2].as<std::string>();
    user.admin = row[3].as<bool>();
    user.created_at_ms = row[4].as<std::int64_t>();
    return user;
}

void PrepareStatements(pqxx::connection& connection) {
    const std::string columns = kUserColumns;
    connection.prepare("user_insert",
                       "INSERT INTO users (" + columns +
                           ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING");
    connection.prepare("user_by_email", "SELECT " + columns + " FROM users WHERE email = $1");
    connection.prepare("user_by_id", "SELECT " + columns + " FROM users WHERE id = $1");
    // Byte order, whatever the database's collation, as the SQLite store lists them.
    connection.prepare("user_list",
                       "SELECT " + columns + " FROM users ORDER BY email COLLATE \"C\"");
    connection.prepare("user_set_password", "UPDATE users SET password_hash = $2 WHERE email = $1");
    connection.prepare("user_remove", "DELETE FROM users WHERE email = $1");
}

/// Brings the schema to kLatestVersion. The advisory lock comes first, so a second process
/// waits here until the first has committed, then finds nothing left to do.
void Migrate(pqxx::connection& connection, const std::string& where) {
    pqxx::work transaction(connection);
    transaction.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
    transaction.exec0(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY,"
        " applied_at_ms bigint NOT NULL)");
    const int current =
        transaction.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0].as<int>();
    if (current > kLatestVersion) {
        throw StorageError("PostgreSQL at " + where + ": the schema is at version " +
                               std::to_string(current) + ", newer than this program's " +
                               std::to_string(kLatestVersion) + "; upgrade video2mp3",
                           false);
    }

    for (const Migration& migration : kMigrations) {
        if (migration.version <= current) {
            continue;
        }
        transaction.exec0(migration.sql);
        transaction.exec_params(
            "INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)",
            migration.version, UnixNowMs());
    }
    transaction.commit();

    if (current < kLatestVersion) {
        spdlog::info("postgres: migrated the schema of {} from version {} to {}", where, current,
                     kLatestVersion);
    }
}

std::optional<User> FirstUser(const pqxx::result& rows) {
    if (rows.empty()) {
        return std::nullopt;
    }
    return ReadUser(rows[0]);
}

}  // namespace

PostgresUserStore::PostgresUserStore(PostgresConfig config)
    : pool_(ParsePostgresUrl(config.url), config.pool_size, PrepareStatements) {
    pool_.Run("creating or migrating the schema",
              [this](pqxx::connection& connection) { Migrate(connection, pool_.Display()); });
    spdlog::info("postgres: user store ready on {} (schema version {}, up to {} connections)",
                 pool_.Display(), kLatestVersion, config.pool_size);
}

int PostgresUserStore::SchemaVersion() {
    return kLatestVersion;
}

std::optional<User> PostgresUserStore::Add(const std::string& email,
                                           const std::string& password_hash, bool admin) {
    User user;
    user.id = RandomId();
    user.email = LowerCase(email);
    user.password_hash = password_hash;
    user.admin = admin;
    user.created_at_ms = UnixNowMs();

    const bool added = pool_.Run("adding a user", [&user](pqxx::connection& connection) {
        pqxx::nontransaction statement(connection);
        const pqxx::result result = statement.exec_prepared(
            "user_insert", user.id, user.email, user.password_hash, user.admin, user.created_at_ms);
        return result.affected_rows() > 0;
    });
    if (!added) {
        return std::nullopt;
    }
    return user;
}

std::optional<User> PostgresUserStore::FindByEmail(const std::string& email) {
    return pool_.Run("finding a user by e-mail", [&email](pqxx::connection& connection) {
        pqxx::nontransaction statement(connection);
        return FirstUser(statement.exec_prepared("user_by_email", LowerCase(email)));
    });
}

std::optional<User> PostgresUserStore::FindById(const std::string& id) {
    return pool_.Run("finding a user by id", [&id](pqxx::connection& connection) {
        pqxx::nontransaction statement(connection);
        return FirstUser(statement.exec_prepared("user_by_id", id));
    });
}

std::vector<User> PostgresUserStore::List() {
    return pool_.Run("listing users", [](pqxx::connection& connection) {
        pqxx::nontransaction statement(connection);
        std::vector<User> users;
        for (const pqxx::row& row : statement.exec_prepared("user_list")) {
            users.push_back(ReadUser(row));
        }
        return users;
    });
}

bool PostgresUserStore::SetPasswordHash(const std::string& email,
                                        const std::string& password_hash) {
    return pool_.Run("changing a password", [&](pqxx::connection& connection) {
        pqxx::nontransaction statement(connection);
        return statement.exec_prepared("user_set_password", LowerCase(email), password_hash)
                   .affected_rows() > 0;
    });
}

bool PostgresUserStore::Remove(const std::string& email) {
    return pool_.Run("removing a user", [&email](pqxx::connection& connection) {
        pqxx::nontransaction statement(connection);
        return statement.exec_prepared("user_remove", LowerCase(email)).affected_rows() > 0;
    });
}

bool PostgresUserStore::Ready() {
    try {
        return pool_.Run("checking readiness", [](pqxx::connection& connection) {
            pqxx::nontransaction statement(connection);
            return statement.exec1("SELECT 1")[0].as<int>() == 1;
        });
    } catch (const std::exception& error) {
        spdlog::debug("postgres: not ready: {}", error.what());
        return false;
    }
}

}  // namespace video2mp3::adapters
