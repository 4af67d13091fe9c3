#include "adapters/sqlite/sqlite_job_queue.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace video2mp3::adapters {

namespace {

std::string DeadLetterQueue(const std::string& queue) {
    return queue + ".dead";
}

}  // namespace

SqliteJobQueue::SqliteJobQueue(SqliteDatabase& database) : SqliteJobQueue(database, Options{}) {}

SqliteJobQueue::SqliteJobQueue(SqliteDatabase& database, Options options)
    : database_(database), options_(options) {
    if (options_.visibility_timeout <= std::chrono::milliseconds::zero()) {
        throw std::invalid_argument("queue visibility timeout must be positive");
    }
    if (options_.max_deliveries < 1) {
        throw std::invalid_argument("queue max_deliveries must be at least 1");
    }
}

void SqliteJobQueue::Publish(const std::string& queue, const std::string& message_id,
                             const std::string& body) {
    const std::int64_t now = UnixNowMs();
    {
        SqliteSession session(database_);
        session
            .Prepare(
                "INSERT INTO messages (queue, message_id, body, attempts, visible_at_ms, "
                "created_at_ms) VALUES (?1, ?2, ?3, 0, ?4, ?4)")
            .Bind(1, queue)
            .Bind(2, message_id)
            .Bind(3, body)
            .Bind(4, now)
            .Run();
    }

    Wake();
}

std::optional<Delivery> SqliteJobQueue::Take(const std::string& queue,
                                             std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
        // Read before looking, so a Publish between the look and the wait is not missed.
        const std::uint64_t seen = Generation();
        if (std::optional<Delivery> delivery = TryTake(queue)) {
            return delivery;
        }

        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            return std::nullopt;
        }
        const auto nap =
            std::min<std::chrono::steady_clock::duration>(kPollInterval, deadline - now);
        std::unique_lock lock(wake_mutex_);
        wake_.wait_for(lock, nap, [&] { return generation_ != seen; });
    }
}

void SqliteJobQueue::Ack(const Delivery& delivery) {
    SqliteSession session(database_);
    session.Prepare("DELETE FROM messages WHERE id = ?1 AND queue = ?2")
        .Bind(1, static_cast<std::int64_t>(delivery.tag))
        .Bind(2, delivery.queue)
        .Run();

    if (session.Changes() == 0) {
        spdlog::warn("sqlite queue: ack of message {} on {} (tag {}): it is gone",
                     delivery.message_id, delivery.queue, delivery.tag);
    }
}

void SqliteJobQueue::Retry(const Delivery& delivery, std::chrono::milliseconds delay) {
    if (delivery.attempt >= options_.max_deliveries) {
        if (MoveToDeadLetters(delivery, kDeliveryLimitReason)) {
            spdlog::warn("sqlite queue: message {} on {} was delivered {} times, dead-lettered",
                         delivery.message_id, delivery.queue, delivery.attempt);
        }
        return;
    }

    const std::int64_t visible_at = UnixNowMs() + std::max<std::int64_t>(delay.count(), 0);
    int changes = 0;
    {
        SqliteSession session(database_);
        session
            .Prepare(
                "UPDATE messages SET visible_at_ms = ?1 "
                "WHERE id = ?2 AND queue = ?3 AND attempts = ?4")
            .Bind(1, visible_at)
            .Bind(2, static_cast<std::int64_t>(delivery.tag))
            .Bind(3, delivery.queue)
            .Bind(4, delivery.attempt)
            .Run();
        changes = session.Changes();
    }

    if (changes == 0) {
        spdlog::warn("sqlite queue: retry of message {} on {} (tag {}): no longer held",
                     delivery.message_id, delivery.queue, delivery.tag);
        return;
    }
    Wake();
}

void SqliteJobQueue::Release(const Delivery& delivery) {
    int changes = 0;
    {
        SqliteSession session(database_);
        session
            .Prepare(
                "UPDATE messages SET visible_at_ms = 0, attempts = MAX(attempts - 1, 0) "
                "WHERE id = ?1 AND queue = ?2 AND attempts = ?3")
            .Bind(1, static_cast<std::int64_t>(delivery.tag))
            .Bind(2, delivery.queue)
            .Bind(3, delivery.attempt)
            .Run();
        changes = session.Changes();
    }
    if (changes == 0) {
        spdlog::warn("sqlite queue: release of message {} on {} (tag {}): no longer held",
                     delivery.message_id, delivery.queue, delivery.tag);
        return;
    }
    Wake();
}

void SqliteJobQueue::DeadLetter(const Delivery& delivery, const std::string& reason) {
    MoveToDeadLetters(delivery, reason);
}

void SqliteJobQueue::KeepAlive(const Delivery& delivery) {
    SqliteSession session(database_);
    session
        .Prepare(
            "UPDATE messages SET visible_at_ms = ?1 "
            "WHERE id = ?2 AND queue = ?3 AND attempts = ?4")
        .Bind(1, UnixNowMs() + options_.visibility_timeout.count())
        .Bind(2, static_cast<std::int64_t>(delivery.tag))
        .Bind(3, delivery.queue)
        .Bind(4, delivery.attempt)
        .Run();

    if (session.Changes() == 0) {
        spdlog::warn("sqlite queue: keep-alive of message {} on {} (tag {}): no longer held",
                     delivery.message_id, delivery.queue, delivery.tag);
    }
}

std::size_t SqliteJobQueue::Depth(const std::string& queue) {
    SqliteSession session(database_);
    SqliteStatement count =
        session.Prepare("SELECT COUNT(*) FROM messages WHERE queue = ?1 AND visible_at_ms <= ?2");
    count.Bind(1, queue).Bind(2, UnixNowMs());

    count.Step();
    return static_cast<std::size_t>(count.Int64(0));
}

bool SqliteJobQueue::Ready() {
    return database_.Ready();
}

int SqliteJobQueue::ReleaseAll() {
    const std::int64_t now = UnixNowMs();
    int released = 0;
    {
        SqliteSession session(database_);
        session.Prepare("UPDATE messages SET visible_at_ms = ?1 WHERE visible_at_ms > ?1")
            .Bind(1, now)
            .Run();
        released = session.Changes();
    }

    if (released > 0) {
        spdlog::info("sqlite queue: {} message(s) taken before start-up made visible again",
                     released);
        Wake();
    }
    return released;
}

std::optional<Delivery> SqliteJobQueue::TryTake(const std::string& queue) {
    const std::int64_t now = UnixNowMs();
    SqliteSession session(database_);
    SqliteTransaction transaction(session);

    Delivery delivery;
    delivery.queue = queue;
    {
        SqliteStatement select = session.Prepare(
            "SELECT id, message_id, body, attempts FROM messages "
            "WHERE queue = ?1 AND visible_at_ms <= ?2 ORDER BY id LIMIT 1");
        select.Bind(1, queue).Bind(2, now);
        if (!select.Step()) {
            return std::nullopt;
        }
        delivery.tag = static_cast<std::uint64_t>(select.Int64(0));
        delivery.message_id = select.Text(1);
        delivery.body = select.Text(2);
        delivery.attempt = select.Int(3) + 1;
    }

    session.Prepare("UPDATE messages SET attempts = ?1, visible_at_ms = ?2 WHERE id = ?3")
        .Bind(1, delivery.attempt)
        .Bind(2, now + options_.visibility_timeout.count())
        .Bind(3, static_cast<std::int64_t>(delivery.tag))
        .Run();
    transaction.Commit();

    if (delivery.attempt > 1) {
        spdlog::debug("sqlite queue: message {} on {} delivered again (attempt {})",
                      delivery.message_id, queue, delivery.attempt);
    }
    return delivery;
}

bool SqliteJobQueue::MoveToDeadLetters(const Delivery& delivery, const std::string& reason) {
    int changes = 0;
    {
        SqliteSession session(database_);
        session
            .Prepare(
                "UPDATE messages SET queue = ?1, attempts = 0, visible_at_ms = ?2, "
                "dead_reason = ?3 WHERE id = ?4 AND queue = ?5 AND attempts = ?6")
            .Bind(1, DeadLetterQueue(delivery.queue))
            .Bind(2, UnixNowMs())
            .Bind(3, reason)
            .Bind(4, static_cast<std::int64_t>(delivery.tag))
            .Bind(5, delivery.queue)
            .Bind(6, delivery.attempt)
            .Run();
        changes = session.Changes();
    }

    if (changes == 0) {
        spdlog::warn("sqlite queue: dead-lettering message {} on {} (tag {}): no longer held",
                     delivery.message_id, delivery.queue, delivery.tag);
        return false;
    }
    Wake();
    return true;
}

std::uint64_t SqliteJobQueue::Generation() {
    std::lock_guard lock(wake_mutex_);
    return generation_;
}

void SqliteJobQueue::Wake() {
    {
        std::lock_guard lock(wake_mutex_);
        ++generation_;
    }
    wake_.notify_all();
}

}  // namespace video2mp3::adapters
