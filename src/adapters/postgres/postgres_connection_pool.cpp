#include "adapters/postgres/postgres_connection_pool.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <pqxx/except>
#include <stdexcept>

#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

/// libpq's and the server's messages on one line: "ERROR:  x\nDETAIL: y\n" -> "ERROR: x DETAIL: y".
std::string OneLine(const std::string& message) {
    std::string line;
    for (char c : message) {
        const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
        if (space && (line.empty() || line.back() == ' ')) {
            continue;
        }
        line += space ? ' ' : c;
    }
    while (!line.empty() && line.back() == ' ') {
        line.pop_back();
    }
    return line;
}

/// False when the connection is closed or the server has written to it while it sat idle,
/// which on an idle connection means the server is hanging up (shutdown, restart, or an
/// administrator ending the session).
bool LooksUsable(const pqxx::connection& connection) {
    const int socket = connection.sock();
    if (!connection.is_open() || socket < 0) {
        return false;
    }
    pollfd events{socket, POLLIN, 0};
    return ::poll(&events, 1, 0) == 0;
}

/// SQLSTATE classes worth a retry: connection exception (08), transaction rollback such as
/// deadlock or serialization failure (40), insufficient resources (53), operator
/// intervention such as a shutdown (57), system error (58), lock not available (55P03).
bool TransientState(const std::string& state) {
    const std::string type = state.substr(0, 2);
    return type == "08" || type == "40" || type == "53" || type == "57" || type == "58" ||
           state == "55P03";
}

}  // namespace

PostgresConnectionPool::Lease::Lease(PostgresConnectionPool& pool)
    : pool_(pool), connection_(pool.Acquire()) {}

PostgresConnectionPool::Lease::~Lease() {
    if (connection_) {
        pool_.Release(std::move(connection_));
    }
}

void PostgresConnectionPool::Lease::Discard() {
    if (connection_) {
        connection_.reset();
        pool_.Forget();
    }
}

PostgresConnectionPool::PostgresConnectionPool(PostgresUrl url, int size, Setup setup,
                                               std::chrono::milliseconds acquire_timeout)
    : url_(std::move(url)),
      size_(size),
      setup_(std::move(setup)),
      acquire_timeout_(acquire_timeout) {
    if (size_ < 1) {
        throw std::invalid_argument("the PostgreSQL pool needs at least one connection, not " +
                                    std::to_string(size_));
    }
}

PostgresConnectionPool::~PostgresConnectionPool() = default;

std::unique_ptr<pqxx::connection> PostgresConnectionPool::Acquire() {
    std::vector<std::unique_ptr<pqxx::connection>> closed;
    std::unique_lock lock(mutex_);
    while (true) {
        while (!idle_.empty()) {
            std::unique_ptr<pqxx::connection> connection = std::move(idle_.back());
            idle_.pop_back();
            if (LooksUsable(*connection)) {
                lock.unlock();
                return connection;
            }
            closed.push_back(std::move(connection));
            --open_;
        }
        if (open_ < size_) {
            ++open_;
            break;
        }
        const bool freed = available_.wait_for(lock, acquire_timeout_,
                                               [this] { return !idle_.empty() || open_ < size_; });
        if (!freed) {
            throw StorageError("PostgreSQL at " + url_.display + ": all " + std::to_string(size_) +
                                   " connections stayed busy for " +
                                   std::to_string(acquire_timeout_.count()) + " ms",
                               true);
        }
    }
    lock.unlock();

    if (!closed.empty()) {
        spdlog::debug("postgres: dropped {} idle connections to {} that the server closed",
                      closed.size(), url_.display);
        closed.clear();
    }
    try {
        return Connect();
    } catch (...) {
        Forget();
        throw;
    }
}

std::unique_ptr<pqxx::connection> PostgresConnectionPool::Connect() {
    std::unique_ptr<pqxx::connection> connection;
    try {
        connection = std::make_unique<pqxx::connection>(url_.conninfo);
        setup_(*connection);
    } catch (const pqxx::broken_connection& error) {
        const std::string reason = OneLine(error.what());
        NoteReachable(false, reason);
        throw StorageError("cannot connect to PostgreSQL at " + url_.display + ": " + reason, true);
    } catch (const pqxx::failure& error) {
        throw StorageError("cannot set up a connection to PostgreSQL at " + url_.display + ": " +
                               OneLine(error.what()),
                           true);
    }
    NoteReachable(true, "");
    spdlog::debug("postgres: opened a connection to {}", url_.display);
    return connection;
}

void PostgresConnectionPool::Release(std::unique_ptr<pqxx::connection> connection) {
    {
        std::lock_guard lock(mutex_);
        idle_.push_back(std::move(connection));
    }
    available_.notify_one();
}

void PostgresConnectionPool::Forget() {
    {
        std::lock_guard lock(mutex_);
        --open_;
    }
    available_.notify_one();
}

void PostgresConnectionPool::Fail(std::string_view what, std::exception_ptr failure, Lease& lease) {
    const std::string context =
        "PostgreSQL at " + url_.display + ": " + std::string(what) + " failed: ";
    try {
        std::rethrow_exception(failure);
    } catch (const PortError&) {
        throw;
    } catch (const pqxx::in_doubt_error& error) {
        lease.Discard();
        throw StorageError(context +
                               "the connection was lost during the commit, so whether the "
                               "change was made is unknown: " +
                               OneLine(error.what()),
                           true);
    } catch (const pqxx::broken_connection& error) {
        lease.Discard();
        const std::string reason = OneLine(error.what());
        NoteReachable(false, reason);
        throw StorageError(context + "the connection was lost: " + reason, true);
    } catch (const pqxx::sql_error& error) {
        const std::string state = error.sqlstate();
        if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0) {
            lease.Discard();  // the session is gone or going
        }
        throw StorageError(context + OneLine(error.what()) + " (SQLSTATE " + state + ")",
                           TransientState(state));
    } catch (const pqxx::internal_error& error) {
        lease.Discard();
        throw StorageError(context + OneLine(error.what()), false);
    } catch (const pqxx::failure& error) {
        lease.Discard();
        throw StorageError(context + OneLine(error.what()), true);
    } catch (const std::exception& error) {
        // Misuse or a value of the wrong type: the same call would fail again.
        throw StorageError(context + OneLine(error.what()), false);
    }
}

void PostgresConnectionPool::NoteReachable(bool reachable, const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (reachable && unreachable_) {
        spdlog::info("postgres: connected to {} again", url_.display);
    } else if (!reachable && !unreachable_) {
        spdlog::warn("postgres: cannot reach {}: {}; calls fail until it is back", url_.display,
                     reason);
    }
    unreachable_ = !reachable;
}

}  // namespace video2mp3::adapters
