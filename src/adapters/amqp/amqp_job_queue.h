#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "adapters/amqp/amqp_connection.h"
#include "video2mp3/ports/job_queue.h"

namespace video2mp3::adapters {

/// Settings of the RabbitMQ queue.
struct AmqpConfig {
    /// amqp://user:pass@host:port/vhost (an empty vhost, as in `...:5672/`, means `/`), or
    /// amqps:// for TLS.
    std::string url;
    /// amqps only: PEM file of the certificate authorities to trust (empty: the system's).
    std::string ca_file;
    /// Heartbeat proposed to the broker (it may choose a shorter one); 0 turns them off.
    std::chrono::seconds heartbeat{30};
    /// Unacked deliveries per queue this object consumes (basic.qos, per consumer). Set it
    /// to the number of threads that Take from one queue.
    int prefetch = 1;
    /// x-delivery-limit of every queue declared: a message given back after more than this
    /// many deliveries goes to `<queue>.dead` (so attempts 1 to delivery_limit + 1 happen).
    int delivery_limit = 5;
    /// How long Publish (and DeadLetter) waits for the broker's confirm, including any time
    /// spent reconnecting or blocked by a resource alarm.
    std::chrono::seconds publish_timeout{10};
    /// Reconnect backoff: doubles from min to max after each failed attempt.
    std::chrono::milliseconds reconnect_min{200};
    std::chrono::milliseconds reconnect_max{10000};
    /// Shown by the broker's management tools for this connection.
    std::string connection_name = "video2mp3";
};

/// The JobQueue port on RabbitMQ (AMQP 0-9-1 with rabbitmq-c 0.11; written for RabbitMQ
/// 3.10 and later).
///
/// Topology, declared idempotently on first use of a queue name and again after every
/// reconnect: a durable direct exchange `video2mp3.dead`; for a queue Q, a durable quorum
/// queue Q with x-delivery-limit and a dead-letter exchange/routing key pointing at
/// `Q.dead`, a durable quorum queue `Q.dead` bound to `video2mp3.dead` with key `Q.dead`.
/// A name ending in `.dead` is a dead-letter queue: Take, Publish and Depth work on it as on
/// any queue, and DeadLetter from it puts the message back at its end.
///
/// Threads: one I/O thread owns the connection and its two channels (rabbitmq-c is not
/// thread-safe per connection): channel 1 publishes in confirm mode and consumes, channel 2
/// runs declarations, so that a failing one (a missing queue in Depth, a queue declared
/// elsewhere with other arguments) cannot close the channel holding our deliveries. Every
/// public method may be called from any thread; it hands its work to the I/O thread through
/// a command queue and waits for it. Between commands the I/O thread waits for frames at
/// most 50 ms at a time, so heartbeats are sent and checked however long the callers take
/// between calls (a worker may transcode for an hour without touching the queue;
/// KeepAlive does nothing). What the broker does not forgive is its consumer timeout
/// (`consumer_timeout`, 30 min by default in RabbitMQ 3.10): a delivery held longer closes
/// the channel and is redelivered, so the broker's setting must exceed the longest job.
///
/// Guarantees:
/// - Publish returns only after the broker confirmed the message (persistent, routed with
///   `mandatory` to a quorum queue). An unroutable message throws StorageError
///   (non-transient); a nack is republished once, then throws StorageError (transient);
///   no confirm within publish_timeout throws StorageError (transient). Messages not yet
///   confirmed when the connection drops are published again after reconnecting, so the
///   queue may hold a message twice (at-least-once; consumers dedupe by message_id).
/// - The first Take on a queue starts a consumer (manual acks) that lasts as long as this
///   object; up to `prefetch` deliveries wait in this object for the next Take. A delivery
///   not acked, retried, released or dead-lettered by the time the connection, channel or
///   this object goes away is redelivered by the broker.
/// - Delivery::tag carries the channel's generation: an Ack, Retry, Release or DeadLetter
///   for a delivery from a channel that has since died is dropped with a warning (the
///   broker has already requeued the message), never sent on the new channel. Ack, Retry
///   and Release throw nothing about the connection; they wait (up to publish_timeout)
///   until the I/O thread has handled them.
/// - Delivery::attempt is 1 + the x-delivery-count the quorum queue sets on redelivery. The
///   broker counts every return: Retry, Release and a lost consumer all count towards
///   delivery_limit (RabbitMQ 3.10 has no way to give a message back uncounted).
/// - Retry holds the message for `delay` (it keeps counting against prefetch) and then
///   nacks it with requeue; the broker dead-letters it past delivery_limit.
/// - DeadLetter publishes a copy (same message_id and body, header x-video2mp3-reason) to
///   `video2mp3.dead` with key `Q.dead`, waits for its confirm and then acks the original
///   (should the channel die in between, the original comes back as well). If the copy is
///   not confirmed, the original is given back (nack, requeue) and the StorageError of
///   the publish is thrown.
/// - Reconnects on any loss (socket error, missed heartbeats, channel or connection closed
///   by the broker, broker restart) with backoff reconnect_min doubling to reconnect_max;
///   then declares the topology, sets qos, consumes again and republishes what was not
///   confirmed. While disconnected, Publish waits up to publish_timeout, Take returns
///   nothing after its wait, Depth throws StorageError (transient) and Ready() is false.
/// - connection.blocked (a resource alarm) holds publishes back until unblocked, within
///   publish_timeout.
///
/// Construction connects in the background and does not throw when the broker is down; a
/// bad URL or setting throws std::invalid_argument, and so does a queue name that is empty
/// or longer than 250 bytes. The destructor stops the I/O thread and closes the connection
/// cleanly: deliveries not acked go back to the broker, publishes still waiting fail with
/// StorageError (transient). It waits for a connection attempt in progress (at most 5 s to
/// connect plus 10 s to log in, against a host that accepts and then says nothing).
class AmqpJobQueue final : public JobQueue {
 public:
    /// The dead-letter exchange every queue's dead letters go through.
    static constexpr const char* kDeadLetterExchange = "video2mp3.dead";
    /// The header of dead-lettered copies that says why.
    static constexpr const char* kReasonHeader = "x-video2mp3-reason";

    explicit AmqpJobQueue(AmqpConfig config);
    ~AmqpJobQueue() override;
    AmqpJobQueue(const AmqpJobQueue&) = delete;
    AmqpJobQueue& operator=(const AmqpJobQueue&) = delete;

    void Publish(const std::string& queue, const std::string& message_id,
                 const std::string& body) override;
    std::optional<Delivery> Take(const std::string& queue, std::chrono::milliseconds wait) override;
    void Ack(const Delivery& delivery) override;
    void Retry(const Delivery& delivery, std::chrono::milliseconds delay) override;
    void Release(const Delivery& delivery) override;
    void DeadLetter(const Delivery& delivery, const std::string& reason) override;
    /// Nothing to do: the I/O thread answers heartbeats on its own.
    void KeepAlive(const Delivery& delivery) override;
    /// Ready messages (not delivered to a consumer); 0 when the queue does not exist yet.
    std::size_t Depth(const std::string& queue) override;
    /// Connected, with the publishing and consuming channel open, and no queue this object
    /// uses refused by the broker (declared elsewhere with other arguments, access refused).
    bool Ready() override;

    /// Declares `queue` (and its dead-letter queue) now, waiting up to `wait` for a
    /// connection and the broker's answer. Throws StorageError: transient when the broker cannot be
    /// reached, permanent when it refuses the declaration (the queue exists with other arguments,
    /// such as another x-delivery-limit; the reason says which).
    void Declare(const std::string& queue, std::chrono::milliseconds wait);

 private:
    using Clock = std::chrono::steady_clock;

    struct Publication;
    struct Command;
    struct Consumer {
        std::string tag;
        bool active = false;
        Clock::time_point next_attempt{};
        std::chrono::milliseconds backoff{0};
    };

    // Caller side.
    /// Runs `work` on the I/O thread and waits until it ran or `deadline` passed (false);
    /// rethrows what `work` threw.
    bool RunOnIoThread(std::function<void()> work, Clock::time_point deadline);
    void PublishAndWait(const std::shared_ptr<Publication>& publication);
    void Post(std::shared_ptr<Command> command);
    void Wake();

    // I/O thread.
    void Run();
    void Connect();
    void Disconnect(const std::string& reason);
    void SetUpWorkChannel();
    /// Forgets everything tied to the work channel: buffered deliveries, pending retries,
    /// consumers, publish sequence numbers.
    void ForgetWorkChannel();
    void OnChannelClosed(amqp_channel_t channel, const std::string& reason);
    void ReadEvents();
    void HandleReturn(const AmqpEvent& event);
    void HandleCancel(const AmqpEvent& event);
    void Shutdown();
    void RunCommands();
    void Service();
    void HandleEvent(const AmqpEvent& event);
    void HandleDelivery(const AmqpEvent& event);
    void HandleConfirm(std::uint64_t seq, bool multiple, bool ack);
    void StartConsumers();
    void FlushPublications();
    void FireRetries();
    void DropAbandoned();
    void EnsureDeclared(const std::string& queue);
    void OpenInspectChannel();
    void Settle(const std::shared_ptr<Publication>& publication, std::string error, bool transient);
    void WaitForWork();
    /// True when the delivery came from the work channel that is open now; logs if not.
    bool Current(const Delivery& delivery, const char* action);
    std::uint64_t BrokerTag(const Delivery& delivery) const;

    const AmqpConfig config_;
    const AmqpEndpoint endpoint_;
    /// Queues whose declaration the broker refused for good (I/O thread only), and whether
    /// there are any (read by Ready from any thread).
    std::set<std::string> refused_queues_;
    std::atomic<bool> topology_refused_{false};

    // Shared between callers and the I/O thread, guarded by mutex_.
    std::mutex mutex_;
    std::condition_variable settled_;    ///< a command ran or a publication settled
    std::condition_variable delivered_;  ///< buffered_ grew, or stopping_
    std::deque<std::shared_ptr<Command>> commands_;
    std::map<std::string, std::deque<Delivery>> buffered_;
    std::set<std::string> consumed_;  ///< queues a Take asked for
    bool stopping_ = false;
    std::string last_error_;  ///< why the last connection attempt or connection failed
    std::atomic<bool> ready_{false};
    std::atomic<bool> blocked_{false};

    // I/O thread only.
    std::unique_ptr<AmqpConnection> connection_;
    std::uint32_t generation_ = 0;  ///< of the work channel; part of every Delivery::tag
    bool work_channel_open_ = false;
    bool inspect_channel_open_ = false;
    bool exchange_declared_ = false;
    Clock::time_point next_connect_{};
    std::chrono::milliseconds backoff_{0};
    Clock::time_point work_channel_opened_at_{};
    Clock::time_point reopen_work_channel_at_{};
    std::chrono::milliseconds channel_backoff_{0};
    std::set<std::string> queues_;    ///< every name used so far
    std::set<std::string> declared_;  ///< declared on the current connection
    std::map<std::string, Consumer> consumers_;
    std::map<std::string, std::string> consumer_queues_;  ///< consumer tag -> queue
    std::uint64_t next_publication_id_ = 1;
    std::map<std::uint64_t, std::shared_ptr<Publication>> publications_;  ///< by id
    std::map<std::uint64_t, std::uint64_t> confirms_;  ///< publish seq -> publication id
    std::uint64_t next_seq_ = 1;
    std::multimap<Clock::time_point, std::uint64_t> retries_;  ///< due -> broker tag

    /// An eventfd that wakes the I/O thread when a command is queued.
    struct WakeFd {
        int fd = -1;
        WakeFd();
        ~WakeFd();
        WakeFd(const WakeFd&) = delete;
        WakeFd& operator=(const WakeFd&) = delete;
    };
    WakeFd wake_;
    std::thread io_thread_;  ///< last: starts after everything above exists
};

}  // namespace video2mp3::adapters
