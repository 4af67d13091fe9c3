#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "adapters/sqlite/sqlite_database.h"
#include "video2mp3/ports/job_queue.h"

namespace video2mp3::adapters {

/// Durable queues as rows of the SQLite database's `messages` table, for a single machine.
///
/// Take hands out the oldest visible message of a queue and hides it for the visibility
/// timeout; a message neither acked, retried nor dead-lettered by then is delivered again
/// with the next attempt number (at-least-once). The tag of a delivery is the message's row
/// id. Retry, DeadLetter and KeepAlive only act while the caller still holds the message
/// (same queue and attempt), so a consumer whose hold ran out cannot disturb the one that
/// took the message after it; Ack deletes the message in any case. Acting on a message that
/// is gone logs a warning and throws nothing.
///
/// Take wakes at once for messages published or given back through this object, and polls
/// every 100 ms for those of other objects or processes. Thread-safe; the database must
/// outlive the queue.
class SqliteJobQueue final : public JobQueue {
 public:
    struct Options {
        /// How long a taken message stays hidden without KeepAlive.
        std::chrono::milliseconds visibility_timeout = std::chrono::seconds(60);
        /// Deliveries after which Retry sends the message to the dead letters.
        int max_deliveries = 5;
    };

    static constexpr std::chrono::milliseconds kPollInterval{100};
    static constexpr const char* kDeliveryLimitReason = "delivery limit reached";

    explicit SqliteJobQueue(SqliteDatabase& database);
    /// Throws std::invalid_argument unless the timeout is positive and max_deliveries >= 1.
    SqliteJobQueue(SqliteDatabase& database, Options options);

    void Publish(const std::string& queue, const std::string& message_id,
                 const std::string& body) override;
    std::optional<Delivery> Take(const std::string& queue, std::chrono::milliseconds wait) override;
    void Ack(const Delivery& delivery) override;
    void Retry(const Delivery& delivery, std::chrono::milliseconds delay) override;
    void DeadLetter(const Delivery& delivery, const std::string& reason) override;
    void KeepAlive(const Delivery& delivery) override;
    void Release(const Delivery& delivery) override;
    /// Visible messages only: neither taken nor waiting out a Retry delay.
    std::size_t Depth(const std::string& queue) override;
    bool Ready() override;

    /// Makes every taken message of every queue visible now and returns how many there were.
    /// For start-up, when no consumer can be holding one; messages waiting out a Retry
    /// delay become visible early too.
    int ReleaseAll();

 private:
    std::optional<Delivery> TryTake(const std::string& queue);
    /// False (after a warning) when the caller no longer holds the message.
    bool MoveToDeadLetters(const Delivery& delivery, const std::string& reason);
    std::uint64_t Generation();
    void Wake();

    SqliteDatabase& database_;
    Options options_;

    std::mutex wake_mutex_;
    std::condition_variable wake_;
    std::uint64_t generation_ = 0;  ///< counts messages made visible by this object
};

}  // namespace video2mp3::adapters
