#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace video2mp3 {

/// Names of the two queues (the seed's).
inline constexpr const char* kVideoQueue = "video";
inline constexpr const char* kMp3Queue = "mp3";

/// One message handed to a consumer. It stays owned by that consumer until Ack, Retry or
/// DeadLetter; if the consumer dies first, the message is delivered again.
struct Delivery {
    std::string queue;
    std::string message_id;  ///< the job id
    std::string body;        ///< JSON
    int attempt = 1;         ///< 1 on first delivery, counting redeliveries
    std::uint64_t tag = 0;   ///< the adapter's handle for this delivery
};

/// Port: durable queues between the roles (SQLite, RabbitMQ). At-least-once: a message is
/// never lost once Publish returns, and may be delivered more than once, so consumers must
/// be idempotent. Thread-safe; throws StorageError on trouble.
class JobQueue {
 public:
    virtual ~JobQueue() = default;

    /// Stores a message durably; returns once it is safe.
    virtual void Publish(const std::string& queue, const std::string& message_id,
                         const std::string& body) = 0;

    /// Takes the next message, waiting up to `wait` for one.
    virtual std::optional<Delivery> Take(const std::string& queue,
                                         std::chrono::milliseconds wait) = 0;

    /// Done with the message: it is gone.
    virtual void Ack(const Delivery& delivery) = 0;

    /// Give the message back, to be delivered again after `delay`. Once the queue's
    /// delivery limit is reached it goes to the dead letters (`<queue>.dead`) instead.
    virtual void Retry(const Delivery& delivery, std::chrono::milliseconds delay) = 0;

    /// Gives the message back at once without counting this delivery: the consumer is
    /// shutting down, not failing.
    virtual void Release(const Delivery& delivery) = 0;

    /// Moves the message to the dead letters (`<queue>.dead`) with a reason.
    virtual void DeadLetter(const Delivery& delivery, const std::string& reason) = 0;

    /// Tells the queue the consumer is still working on the message (long conversions).
    virtual void KeepAlive(const Delivery& delivery) = 0;

    /// Messages waiting (not taken) in a queue.
    virtual std::size_t Depth(const std::string& queue) = 0;
    virtual bool Ready() = 0;
};

}  // namespace video2mp3
