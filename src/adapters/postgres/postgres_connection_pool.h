#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/postgres/postgres_url.h"

namespace video2mp3::adapters {

/// Up to `size` libpqxx connections to one database, opened when first needed and lent to
/// one caller at a time. Thread-safe; the pool must outlive every Run() in progress.
///
/// Run() turns every libpqxx error into StorageError, carrying PostgreSQL's own message:
/// a lost or refused connection, a commit whose outcome is unknown, a deadlock or a server
/// shutting down are transient; bad SQL and constraint violations are not. A connection
/// that broke is closed rather than lent again, so once the server is back the next call
/// connects afresh: a PostgreSQL restart costs the calls made while it was down, not a
/// restart of this process. Idle connections the server has closed meanwhile (it writes
/// a farewell message and hangs up when it stops) are noticed and dropped before use.
class PostgresConnectionPool {
 public:
    /// Prepares a new connection, e.g. by defining its prepared statements.
    using Setup = std::function<void(pqxx::connection&)>;

    /// Connects nothing yet. Throws std::invalid_argument when `size` is below 1.
    PostgresConnectionPool(PostgresUrl url, int size, Setup setup,
                           std::chrono::milliseconds acquire_timeout = std::chrono::seconds(10));
    ~PostgresConnectionPool();
    PostgresConnectionPool(const PostgresConnectionPool&) = delete;
    PostgresConnectionPool& operator=(const PostgresConnectionPool&) = delete;

    /// Calls `work(connection)` on a connection of its own and returns what it returns.
    /// `what` names the operation in error messages ("finding a user"). Waits up to the
    /// acquire timeout for a free connection, then throws StorageError (transient).
    template <typename Work>
    auto Run(std::string_view what, Work&& work) {
        Lease lease(*this);
        try {
            return work(lease.Connection());
        } catch (...) {
            Fail(what, std::current_exception(), lease);
        }
    }

    /// The URL without its password, for messages.
    const std::string& Display() const { return url_.display; }

 private:
    /// A borrowed connection, given back when the lease ends unless it was discarded.
    class Lease {
     public:
        explicit Lease(PostgresConnectionPool& pool);
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

        pqxx::connection& Connection() { return *connection_; }
        /// Closes the connection instead of giving it back.
        void Discard();

     private:
        PostgresConnectionPool& pool_;
        std::unique_ptr<pqxx::connection> connection_;
    };

    std::unique_ptr<pqxx::connection> Acquire();
    std::unique_ptr<pqxx::connection> Connect();
    void Release(std::unique_ptr<pqxx::connection> connection);
    void Forget();

    /// Throws the StorageError for a failure of `what`, discarding the lease's connection
    /// when it cannot be trusted any more.
    [[noreturn]] void Fail(std::string_view what, std::exception_ptr failure, Lease& lease);

    /// Logs the first failure to reach the server, and the recovery, once each.
    void NoteReachable(bool reachable, const std::string& reason);

    PostgresUrl url_;
    int size_;
    Setup setup_;
    std::chrono::milliseconds acquire_timeout_;

    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<pqxx::connection>> idle_;
    int open_ = 0;  ///< idle plus lent out plus being opened
    bool unreachable_ = false;
};

}  // namespace video2mp3::adapters
