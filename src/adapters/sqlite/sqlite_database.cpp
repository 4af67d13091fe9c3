#include "adapters/sqlite/sqlite_database.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>

#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

// Migration N (0-based) takes the schema from user_version N to N + 1. Append; never edit.
constexpr std::array<const char*, SqliteDatabase::kSchemaVersion> kMigrations = {
    R"sql(
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    owner_email TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'converting', 'done', 'failed')),
    progress INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    filename TEXT NOT NULL DEFAULT '',
    video_fid TEXT NOT NULL DEFAULT '',
    mp3_fid TEXT NOT NULL DEFAULT '',
    video_bytes INTEGER NOT NULL DEFAULT 0,
    mp3_bytes INTEGER NOT NULL DEFAULT 0,
    duration_s REAL NOT NULL DEFAULT 0,
    conversion_s REAL NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    notified INTEGER NOT NULL DEFAULT 0,
    notify_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_by_created ON jobs (created_at_ms, id);
CREATE INDEX jobs_by_owner ON jobs (owner_id, created_at_ms, id);
CREATE INDEX jobs_by_status ON jobs (status);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    visible_at_ms INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    dead_reason TEXT
);
CREATE INDEX messages_by_queue ON messages (queue, id);
)sql",
};

bool IsTransient(int code) {
    switch (code & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_IOERR:
        case SQLITE_FULL:
            return true;
        default:
            return false;
    }
}

[[noreturn]] void ThrowSqliteError(sqlite3* connection, int code) {
    const char* message = connection != nullptr ? sqlite3_errmsg(connection) : sqlite3_errstr(code);
    throw StorageError(std::string("SQLite: ") + message, IsTransient(code));
}

void Check(sqlite3* connection, int code) {
    if (code != SQLITE_OK) {
        ThrowSqliteError(connection, code);
    }
}

}  // namespace

std::int64_t UnixNowMs() {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

SqliteStatement::SqliteStatement(sqlite3* connection, std::string_view sql)
    : connection_(connection) {
    sqlite3_stmt* raw = nullptr;
    Check(connection_,
          sqlite3_prepare_v2(connection_, sql.data(), static_cast<int>(sql.size()), &raw, nullptr));
    statement_.reset(raw);
}

SqliteStatement& SqliteStatement::Bind(int index, int value) {
    Check(connection_, sqlite3_bind_int(statement_.get(), index, value));
    return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, std::int64_t value) {
    Check(connection_, sqlite3_bind_int64(statement_.get(), index, value));
    return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, double value) {
    Check(connection_, sqlite3_bind_double(statement_.get(), index, value));
    return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, std::string_view value) {
    Check(connection_, sqlite3_bind_text(statement_.get(), index, value.data(),
                                         static_cast<int>(value.size()), SQLITE_TRANSIENT));
    return *this;
}

SqliteStatement& SqliteStatement::BindNull(int index) {
    Check(connection_, sqlite3_bind_null(statement_.get(), index));
    return *this;
}

bool SqliteStatement::Step() {
    const int code = sqlite3_step(statement_.get());
    if (code == SQLITE_ROW) {
        return true;
    }
    if (code == SQLITE_DONE) {
        return false;
    }
    ThrowSqliteError(connection_, code);
}

void SqliteStatement::Run() {
    while (Step()) {
    }
}

void SqliteStatement::Reset() {
    Check(connection_, sqlite3_reset(statement_.get()));
}

int SqliteStatement::Int(int column) const {
    return sqlite3_column_int(statement_.get(), column);
}

std::int64_t SqliteStatement::Int64(int column) const {
    return sqlite3_column_int64(statement_.get(), column);
}

double SqliteStatement::Double(int column) const {
    return sqlite3_column_double(statement_.get(), column);
}

std::string SqliteStatement::Text(int column) const {
    const unsigned char* text = sqlite3_column_text(statement_.get(), column);
    if (text == nullptr) {
        return {};
    }
    const int size = sqlite3_column_bytes(statement_.get(), column);
    return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

SqliteSession::SqliteSession(SqliteDatabase& database)
    : lock_(database.mutex_), connection_(database.connection_.get()) {}

SqliteStatement SqliteSession::Prepare(std::string_view sql) {
    return SqliteStatement(connection_, sql);
}

void SqliteSession::Execute(const std::string& sql) {
    Check(connection_, sqlite3_exec(connection_, sql.c_str(), nullptr, nullptr, nullptr));
}

int SqliteSession::Changes() const {
    return sqlite3_changes(connection_);
}

SqliteTransaction::SqliteTransaction(SqliteSession& session) : session_(session) {
    session_.Execute("BEGIN IMMEDIATE");
}

SqliteTransaction::~SqliteTransaction() {
    if (!open_) {
        return;
    }
    try {
        session_.Execute("ROLLBACK");
    } catch (const StorageError& error) {
        // SQLite may already have rolled back on its own (after a full disk, for instance).
        spdlog::debug("sqlite: rollback: {}", error.what());
    }
}

void SqliteTransaction::Commit() {
    session_.Execute("COMMIT");
    open_ = false;
}

SqliteDatabase::SqliteDatabase(const std::filesystem::path& path) : path_(path) {
    sqlite3* raw = nullptr;
    const int code =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    connection_.reset(raw);
    if (code != SQLITE_OK) {
        const char* message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(code);
        throw StorageError("SQLite: cannot open " + path.string() + ": " + message,
                           IsTransient(code));
    }

    Configure();

    Migrate();

    spdlog::debug("sqlite: opened {} (schema version {})", path_.string(), kSchemaVersion);
}

bool SqliteDatabase::Ready() {
    try {
        SqliteSession session(*this);
        SqliteStatement statement = session.Prepare("SELECT 1");
        return statement.Step() && statement.Int(0) == 1;
    } catch (const StorageError& error) {
        spdlog::warn("sqlite: {} not ready: {}", path_.string(), error.what());
        return false;
    }
}

void SqliteDatabase::Configure() {
    sqlite3* connection = connection_.get();
    Check(connection, sqlite3_extended_result_codes(connection, 1));
    Check(connection, sqlite3_busy_timeout(connection, kBusyTimeoutMs));

    SqliteSession session(*this);
    session.Execute("PRAGMA foreign_keys = ON");

    SqliteStatement journal = session.Prepare("PRAGMA journal_mode = WAL");
    const std::string mode = journal.Step() ? journal.Text(0) : std::string();
    journal.Reset();
    if (mode != "wal") {
        spdlog::warn("sqlite: {}: journal mode is '{}', not 'wal'", path_.string(), mode);
    }

    session.Execute("PRAGMA synchronous = NORMAL");
}

void SqliteDatabase::Migrate() {
    SqliteSession session(*this);
    SqliteTransaction transaction(session);

    // Read inside the write transaction, so two processes opening a new file at once do not
    // both create the schema.
    SqliteStatement read_version = session.Prepare("PRAGMA user_version");
    const int version = read_version.Step() ? read_version.Int(0) : 0;
    read_version.Reset();
    if (version > kSchemaVersion) {
        throw StorageError(path_.string() + ": schema version " + std::to_string(version) +
                               " is newer than this program's (" + std::to_string(kSchemaVersion) +
                               ")",
                           false);
    }
    if (version == kSchemaVersion) {
        return;
    }

    for (int step = version; step < kSchemaVersion; ++step) {
        session.Execute(kMigrations[static_cast<std::size_t>(step)]);
    }
    session.Execute("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    transaction.Commit();

    if (version == 0) {
        spdlog::info("sqlite: {}: created schema version {}", path_.string(), kSchemaVersion);
    } else {
        spdlog::info("sqlite: {}: schema migrated from version {} to {}", path_.string(), version,
                     kSchemaVersion);
    }
}

}  // namespace video2mp3::adapters
