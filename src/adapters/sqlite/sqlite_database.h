#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace video2mp3::adapters {

struct SqliteConnectionCloser {
    void operator()(sqlite3* connection) const { sqlite3_close_v2(connection); }
};
struct SqliteStatementFinalizer {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

using SqliteConnectionPtr = std::unique_ptr<sqlite3, SqliteConnectionCloser>;
using SqliteStatementPtr = std::unique_ptr<sqlite3_stmt, SqliteStatementFinalizer>;

/// Unix time in milliseconds from the system clock: what every timestamp in the database is.
std::int64_t UnixNowMs();

/// One prepared statement of a session. Parameters are numbered from 1, columns from 0.
/// Every SQLite error becomes StorageError carrying SQLite's message; busy, locked, I/O and
/// disk-full errors are transient, the others (constraints, corruption, bad SQL) are not.
class SqliteStatement {
 public:
    SqliteStatement(sqlite3* connection, std::string_view sql);

    SqliteStatement& Bind(int index, int value);
    SqliteStatement& Bind(int index, std::int64_t value);
    SqliteStatement& Bind(int index, double value);
    SqliteStatement& Bind(int index, std::string_view value);
    SqliteStatement& BindNull(int index);

    /// Runs to the next row: true when one is ready to read, false when there are no more.
    bool Step();

    /// Runs the statement to the end, ignoring any rows.
    void Run();

    /// Makes the statement ready to run again, keeping its bindings.
    void Reset();

    int Int(int column) const;
    std::int64_t Int64(int column) const;
    double Double(int column) const;
    /// The column as text; empty for NULL.
    std::string Text(int column) const;

 private:
    sqlite3* connection_;
    SqliteStatementPtr statement_;
};

class SqliteDatabase;

/// Exclusive use of a database's one connection for as long as the session lives: it holds
/// the database's mutex, so a session must not be opened while the same thread holds another.
class SqliteSession {
 public:
    explicit SqliteSession(SqliteDatabase& database);

    SqliteStatement Prepare(std::string_view sql);

    /// Runs one or more statements that take no parameters.
    void Execute(const std::string& sql);

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    int Changes() const;

 private:
    std::unique_lock<std::mutex> lock_;
    sqlite3* connection_;
};

/// BEGIN IMMEDIATE (so the write lock is taken up front, waiting on the busy timeout, and
/// never fails half-way through) until Commit(); rolled back if destroyed before that.
class SqliteTransaction {
 public:
    explicit SqliteTransaction(SqliteSession& session);
    ~SqliteTransaction();
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;

    void Commit();

 private:
    SqliteSession& session_;
    bool open_ = true;
};

/// One SQLite database file holding users, jobs and queued messages, opened (and created)
/// with write-ahead logging, a 5 s busy timeout, foreign keys on and synchronous=NORMAL
/// (with WAL, durable against a crash of the process; the last transactions may be lost if
/// the machine itself loses power). The schema is created or migrated on open and its
/// version kept in PRAGMA user_version; a file from a newer program is refused.
///
/// Thread-safe: the one connection is used by one SqliteSession at a time. Other processes
/// may open the same file; SQLite's locking keeps them consistent.
class SqliteDatabase {
 public:
    static constexpr int kSchemaVersion = 1;
    static constexpr int kBusyTimeoutMs = 5000;

    /// Opens or creates the file. Throws StorageError.
    explicit SqliteDatabase(const std::filesystem::path& path);
    SqliteDatabase(const SqliteDatabase&) = delete;
    SqliteDatabase& operator=(const SqliteDatabase&) = delete;

    const std::filesystem::path& Path() const { return path_; }

    /// True when a trivial query answers.
    bool Ready();

 private:
    friend class SqliteSession;

    void Configure();
    void Migrate();

    std::filesystem::path path_;
    std::mutex mutex_;
    SqliteConnectionPtr connection_;
};

}  // namespace video2mp3::adapters
