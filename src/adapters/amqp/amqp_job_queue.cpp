#include "adapters/amqp/amqp_job_queue.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

using std::chrono::milliseconds;

/// Publishes (confirm mode) and consumes.
constexpr amqp_channel_t kWorkChannel = 1;
/// Declarations, which the broker answers by closing the channel when they fail.
constexpr amqp_channel_t kInspectChannel = 2;

/// Longest wait for frames between two looks at retries and heartbeats.
constexpr milliseconds kFrameWait{50};
/// Frames handled in one round before commands get their turn again.
constexpr int kEventsPerRound = 256;
constexpr milliseconds kConnectTimeout{5000};
constexpr milliseconds kRpcTimeout{10000};

/// Delivery::tag = generation (24 bits) << 40 | the broker's delivery tag (40 bits).
constexpr int kGenerationShift = 40;
constexpr std::uint64_t kBrokerTagMask = (std::uint64_t{1} << kGenerationShift) - 1;
constexpr std::uint64_t kGenerationMask = (std::uint64_t{1} << 24) - 1;

constexpr const char* kDeadSuffix = ".dead";
constexpr int kNotFound = 404;

bool IsDeadLetterQueue(const std::string& queue) {
    const std::string suffix = kDeadSuffix;
    return queue.size() > suffix.size() &&
           queue.compare(queue.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Where DeadLetter sends a message of `queue`: `Q.dead`, or the dead-letter queue itself.
std::string DeadLetterQueueOf(const std::string& queue) {
    return IsDeadLetterQueue(queue) ? queue : queue + kDeadSuffix;
}

/// A declaration the broker refused; the inspect channel is closed.
class TopologyError : public std::runtime_error {
 public:
    TopologyError(const std::string& what, bool permanent)
        : std::runtime_error(what), permanent_(permanent) {}
    bool Permanent() const { return permanent_; }

 private:
    bool permanent_;
};

AmqpConfig Validated(AmqpConfig config) {
    if (config.prefetch < 1 || config.prefetch > 65535) {
        throw std::invalid_argument("AMQP prefetch must be between 1 and 65535");
    }
    if (config.delivery_limit < 1) {
        throw std::invalid_argument("AMQP delivery_limit must be at least 1");
    }
    if (config.heartbeat.count() < 0 || config.heartbeat.count() > 65535) {
        throw std::invalid_argument("AMQP heartbeat must be between 0 and 65535 seconds");
    }
    if (config.publish_timeout.count() <= 0) {
        throw std::invalid_argument("AMQP publish_timeout must be positive");
    }
    if (config.reconnect_min.count() <= 0 || config.reconnect_max < config.reconnect_min) {
        throw std::invalid_argument(
            "AMQP reconnect_min must be positive and reconnect_max at least reconnect_min");
    }
    return config;
}

/// Queue names are AMQP short strings (255 bytes), and `.dead` gets appended.
void CheckQueueName(const std::string& queue) {
    if (queue.empty() || queue.size() > 250) {
        throw std::invalid_argument("queue name must have 1 to 250 bytes: '" + queue + "'");
    }
}

std::string Seconds(std::chrono::seconds seconds) {
    return std::to_string(seconds.count()) + " s";
}

}  // namespace

struct AmqpJobQueue::Publication {
    std::string exchange;
    std::string routing_key;
    std::string queue;  ///< whose topology must exist first
    AmqpOutgoing message;
    Clock::time_point deadline;

    // I/O thread only.
    std::uint64_t id = 0;
    std::uint64_t seq = 0;  ///< publish sequence number on the work channel; 0: not sent
    bool returned = false;
    std::string return_text;
    int nacks = 0;

    // Guarded by mutex_.
    bool settled = false;
    bool abandoned = false;  ///< the caller stopped waiting
    std::string error;       ///< "" when confirmed
    bool transient = true;
};

struct AmqpJobQueue::Command {
    std::function<void()> work;
    // Guarded by mutex_.
    bool done = false;
    std::exception_ptr error;
};

AmqpJobQueue::WakeFd::WakeFd() : fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "eventfd");
    }
}

AmqpJobQueue::WakeFd::~WakeFd() {
    close(fd);
}

AmqpJobQueue::AmqpJobQueue(AmqpConfig config)
    : config_(Validated(std::move(config))),
      endpoint_(ParseAmqpUrl(config_.url)),
      backoff_(config_.reconnect_min),
      channel_backoff_(config_.reconnect_min) {
    spdlog::info("amqp: queue on {} starting (prefetch {}, delivery limit {})",
                 endpoint_.Describe(), config_.prefetch, config_.delivery_limit);
    io_thread_ = std::thread([this] { Run(); });
}

AmqpJobQueue::~AmqpJobQueue() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    delivered_.notify_all();
    Wake();
    io_thread_.join();
    spdlog::info("amqp: queue on {} stopped", endpoint_.Describe());
}

// ---------------------------------------------------------------------------------------
// Caller side

void AmqpJobQueue::Publish(const std::string& queue, const std::string& message_id,
                           const std::string& body) {
    CheckQueueName(queue);
    auto publication = std::make_shared<Publication>();
    publication->routing_key = queue;
    publication->queue = queue;
    publication->message.message_id = message_id;
    publication->message.body = body;
    publication->deadline = Clock::now() + config_.publish_timeout;

    PublishAndWait(publication);
}

std::optional<Delivery> AmqpJobQueue::Take(const std::string& queue, milliseconds wait) {
    CheckQueueName(queue);
    const auto deadline = Clock::now() + wait;
    std::unique_lock lock(mutex_);
    if (consumed_.insert(queue).second) {
        lock.unlock();
        auto command = std::make_shared<Command>();
        command->work = [this, queue] {
            queues_.insert(queue);
            Consumer& consumer = consumers_[queue];
            consumer.tag = "video2mp3:" + queue;
            consumer.next_attempt = Clock::now();
            consumer.backoff = config_.reconnect_min;
        };
        Post(command);
        lock.lock();
    }

    delivered_.wait_until(lock, deadline, [&] {
        auto buffered = buffered_.find(queue);
        return stopping_ || (buffered != buffered_.end() && !buffered->second.empty());
    });
    auto buffered = buffered_.find(queue);
    if (buffered == buffered_.end() || buffered->second.empty()) {
        return std::nullopt;
    }
    Delivery delivery = std::move(buffered->second.front());
    buffered->second.pop_front();
    return delivery;
}

void AmqpJobQueue::Ack(const Delivery& delivery) {
    const bool ran = RunOnIoThread(
        [this, delivery] {
            if (Current(delivery, "ack")) {
                connection_->Ack(kWorkChannel, BrokerTag(delivery));
            }
        },
        Clock::now() + config_.publish_timeout);
    if (!ran) {
        spdlog::warn("amqp: ack of message {} on {} still queued after {}", delivery.message_id,
                     delivery.queue, Seconds(config_.publish_timeout));
    }
}

void AmqpJobQueue::Retry(const Delivery& delivery, milliseconds delay) {
    const auto due = Clock::now() + std::max(delay, milliseconds::zero());
    RunOnIoThread(
        [this, delivery, due] {
            if (Current(delivery, "retry")) {
                retries_.emplace(due, BrokerTag(delivery));
            }
        },
        Clock::now() + config_.publish_timeout);
}

void AmqpJobQueue::Release(const Delivery& delivery) {
    RunOnIoThread(
        [this, delivery] {
            if (Current(delivery, "release")) {
                connection_->Nack(kWorkChannel, BrokerTag(delivery), true);
            }
        },
        Clock::now() + config_.publish_timeout);
}

void AmqpJobQueue::DeadLetter(const Delivery& delivery, const std::string& reason) {
    // A delivery from a channel that died is back in its queue already; a copy would only
    // add a dead letter for a message that is still alive.
    auto current = std::make_shared<bool>(false);
    const bool ran =
        RunOnIoThread([this, delivery, current] { *current = Current(delivery, "dead-letter"); },
                      Clock::now() + config_.publish_timeout);
    if (!ran) {
        throw StorageError("RabbitMQ queue did not answer within " +
                           Seconds(config_.publish_timeout));
    }
    if (!*current) {
        return;
    }

    auto publication = std::make_shared<Publication>();
    publication->exchange = kDeadLetterExchange;
    publication->routing_key = DeadLetterQueueOf(delivery.queue);
    publication->queue = delivery.queue;
    publication->message.message_id = delivery.message_id;
    publication->message.body = delivery.body;
    publication->message.headers.push_back({kReasonHeader, reason});
    publication->deadline = Clock::now() + config_.publish_timeout;
    try {
        PublishAndWait(publication);
    } catch (const StorageError&) {
        try {
            Release(delivery);
        } catch (const StorageError& error) {
            spdlog::warn("amqp: giving back message {} failed: {}", delivery.message_id,
                         error.what());
        }
        throw;
    }

    Ack(delivery);
    spdlog::warn("amqp: message {} on {} moved to {}: {}", delivery.message_id, delivery.queue,
                 publication->routing_key, reason);
}

void AmqpJobQueue::KeepAlive(const Delivery& /*delivery*/) {}

std::size_t AmqpJobQueue::Depth(const std::string& queue) {
    CheckQueueName(queue);
    if (!ready_) {
        std::lock_guard lock(mutex_);
        throw StorageError("RabbitMQ at " + endpoint_.Describe() + " is not connected" +
                           (last_error_.empty() ? "" : ": " + last_error_));
    }

    auto count = std::make_shared<std::size_t>(0);
    const bool ran = RunOnIoThread(
        [this, queue, count] {
            if (!connection_) {
                throw StorageError("RabbitMQ at " + endpoint_.Describe() + " is not connected");
            }
            OpenInspectChannel();
            try {
                *count = connection_->PassiveDeclareQueue(kInspectChannel, queue);
            } catch (const AmqpChannelClosed& closed) {
                inspect_channel_open_ = false;
                if (closed.Code() != kNotFound) {
                    throw StorageError(closed.what());
                }
                *count = 0;
            }
        },
        Clock::now() + config_.publish_timeout);
    if (!ran) {
        throw StorageError("RabbitMQ did not tell the depth of " + queue + " within " +
                           Seconds(config_.publish_timeout));
    }
    return *count;
}

bool AmqpJobQueue::Ready() {
    return ready_ && !topology_refused_;
}

void AmqpJobQueue::Declare(const std::string& queue, std::chrono::milliseconds wait) {
    CheckQueueName(queue);
    const auto deadline = Clock::now() + wait;
    // Known from now on, so every (re)connect declares it, even if the broker is down now:
    // a refusal then shows in Ready() before anyone uses the queue.
    RunOnIoThread([this, queue] { queues_.insert(queue); }, deadline);
    while (!ready_ && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!ready_) {
        std::lock_guard lock(mutex_);
        throw StorageError("RabbitMQ at " + endpoint_.Describe() + " is not connected" +
                           (last_error_.empty() ? "" : ": " + last_error_));
    }
    auto refusal = std::make_shared<std::optional<TopologyError>>();
    const bool ran = RunOnIoThread(
        [this, queue, refusal] {
            if (!connection_) {
                throw StorageError("RabbitMQ at " + endpoint_.Describe() + " is not connected");
            }
            try {
                EnsureDeclared(queue);
            } catch (const TopologyError& error) {
                refusal->emplace(error);
            }
        },
        deadline);
    if (!ran) {
        throw StorageError("RabbitMQ did not answer the declaration of " + queue + " in time");
    }
    if (*refusal) {
        throw StorageError((*refusal)->what(), !(*refusal)->Permanent());
    }
}

bool AmqpJobQueue::RunOnIoThread(std::function<void()> work, Clock::time_point deadline) {
    auto command = std::make_shared<Command>();
    command->work = std::move(work);
    Post(command);

    std::unique_lock lock(mutex_);
    if (!settled_.wait_until(lock, deadline, [&] { return command->done; })) {
        return false;
    }
    if (command->error) {
        std::rethrow_exception(command->error);
    }
    return true;
}

void AmqpJobQueue::PublishAndWait(const std::shared_ptr<Publication>& publication) {
    auto command = std::make_shared<Command>();
    command->work = [this, publication] {
        publication->id = next_publication_id_++;
        queues_.insert(publication->queue);
        publications_[publication->id] = publication;
    };
    Post(command);

    std::unique_lock lock(mutex_);
    if (!settled_.wait_until(lock, publication->deadline, [&] { return publication->settled; })) {
        publication->abandoned = true;
        std::string why;
        if (!ready_) {
            why = "not connected" + (last_error_.empty() ? "" : ": " + last_error_);
        } else if (blocked_) {
            why = "publishing is blocked by the broker (resource alarm)";
        } else {
            why = "no confirm from the broker";
        }
        lock.unlock();
        Wake();
        throw StorageError("RabbitMQ at " + endpoint_.Describe() + " did not take a message to " +
                           publication->routing_key + " within " +
                           Seconds(config_.publish_timeout) + ": " + why);
    }
    if (!publication->error.empty()) {
        throw StorageError(publication->error, publication->transient);
    }
}

void AmqpJobQueue::Post(std::shared_ptr<Command> command) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            throw StorageError("RabbitMQ queue is shutting down");
        }
        commands_.push_back(std::move(command));
    }
    Wake();
}

void AmqpJobQueue::Wake() {
    const std::uint64_t one = 1;
    // Only fails when the counter is about to overflow, which still wakes the reader.
    [[maybe_unused]] const ssize_t written = write(wake_.fd, &one, sizeof(one));
}

// ---------------------------------------------------------------------------------------
// I/O thread

void AmqpJobQueue::Run() {
    while (true) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) {
                break;
            }
        }

        try {
            if (!connection_ && Clock::now() >= next_connect_) {
                Connect();
            }
            RunCommands();
            if (connection_) {
                Service();
            }
        } catch (const AmqpConnectionLost& lost) {
            Disconnect(lost.what());
        } catch (const std::exception& error) {
            // Not expected; keep the thread alive and start over with a fresh connection.
            spdlog::error("amqp: {}", error.what());
            Disconnect(error.what());
        }

        DropAbandoned();
        WaitForWork();
    }
    Shutdown();
}

void AmqpJobQueue::Connect() {
    AmqpConnection::Options options;
    options.heartbeat = config_.heartbeat;
    options.connection_name = config_.connection_name;
    options.ca_file = config_.ca_file;
    options.connect_timeout = kConnectTimeout;
    options.rpc_timeout = kRpcTimeout;

    try {
        connection_ = std::make_unique<AmqpConnection>(endpoint_, options);
        declared_.clear();
        exchange_declared_ = false;
        inspect_channel_open_ = false;
        work_channel_open_ = false;
        blocked_ = false;
        channel_backoff_ = config_.reconnect_min;
        SetUpWorkChannel();
        for (const std::string& queue : queues_) {
            try {
                EnsureDeclared(queue);
            } catch (const TopologyError& error) {
                spdlog::error("amqp: {}", error.what());
            }
        }
    } catch (const std::exception& error) {
        connection_.reset();
        ready_ = false;
        {
            std::lock_guard lock(mutex_);
            last_error_ = error.what();
        }
        spdlog::warn("amqp: {}; next attempt in {} ms", error.what(), backoff_.count());
        next_connect_ = Clock::now() + backoff_;
        backoff_ = std::min(backoff_ * 2, config_.reconnect_max);
        return;
    }

    backoff_ = config_.reconnect_min;
    {
        std::lock_guard lock(mutex_);
        last_error_.clear();
    }
    spdlog::info("amqp: connected to {} (heartbeat {} s)", endpoint_.Describe(),
                 connection_->Heartbeat());
}

void AmqpJobQueue::Disconnect(const std::string& reason) {
    spdlog::warn("amqp: connection to {} lost: {}; reconnecting in {} ms", endpoint_.Describe(),
                 reason, backoff_.count());
    connection_.reset();
    work_channel_open_ = false;
    inspect_channel_open_ = false;
    ready_ = false;
    blocked_ = false;
    ForgetWorkChannel();
    {
        std::lock_guard lock(mutex_);
        last_error_ = reason;
    }
    next_connect_ = Clock::now() + backoff_;
}

void AmqpJobQueue::SetUpWorkChannel() {
    connection_->OpenChannel(kWorkChannel);
    connection_->ConfirmSelect(kWorkChannel);
    connection_->Qos(kWorkChannel, static_cast<std::uint16_t>(config_.prefetch));
    ++generation_;
    next_seq_ = 1;
    work_channel_open_ = true;
    work_channel_opened_at_ = Clock::now();
    ready_ = true;
}

void AmqpJobQueue::ForgetWorkChannel() {
    std::size_t dropped = 0;
    {
        std::lock_guard lock(mutex_);
        for (auto& [queue, deliveries] : buffered_) {
            dropped += deliveries.size();
            deliveries.clear();
        }
    }
    if (dropped > 0) {
        spdlog::debug("amqp: {} delivery(ies) not yet taken go back to the broker", dropped);
    }

    retries_.clear();
    for (auto& [queue, consumer] : consumers_) {
        consumer.active = false;
    }
    consumer_queues_.clear();
    for (auto& [id, publication] : publications_) {
        publication->seq = 0;
        publication->returned = false;
    }
    confirms_.clear();
    next_seq_ = 1;
}

void AmqpJobQueue::OnChannelClosed(amqp_channel_t channel, const std::string& reason) {
    if (channel == kWorkChannel) {
        // Back off when the channel keeps failing, so a persistent error (say, an exchange
        // deleted behind our back) cannot make us spin; and declare everything again, in
        // case that is what went missing.
        const auto now = Clock::now();
        if (now - work_channel_opened_at_ > config_.reconnect_max) {
            channel_backoff_ = config_.reconnect_min;
        } else {
            channel_backoff_ = std::min(channel_backoff_ * 2, config_.reconnect_max);
        }
        reopen_work_channel_at_ = now + channel_backoff_;
        spdlog::warn("amqp: channel closed by the broker: {}; opening it again in {} ms", reason,
                     channel_backoff_.count());
        work_channel_open_ = false;
        ready_ = false;
        declared_.clear();
        exchange_declared_ = false;
        ForgetWorkChannel();
        return;
    }
    spdlog::debug("amqp: inspect channel closed: {}", reason);
    inspect_channel_open_ = false;
}

void AmqpJobQueue::RunCommands() {
    std::deque<std::shared_ptr<Command>> batch;
    {
        std::lock_guard lock(mutex_);
        batch.swap(commands_);
    }

    for (const auto& command : batch) {
        std::exception_ptr error;
        std::optional<std::string> lost;
        try {
            command->work();
        } catch (const AmqpConnectionLost& connection_lost) {
            error = std::make_exception_ptr(
                StorageError(std::string("RabbitMQ connection lost: ") + connection_lost.what()));
            lost = connection_lost.what();
        } catch (const AmqpChannelClosed& closed) {
            error = std::make_exception_ptr(StorageError(closed.what()));
            OnChannelClosed(closed.Channel(), closed.what());
        } catch (...) {
            error = std::current_exception();
        }

        {
            std::lock_guard lock(mutex_);
            command->done = true;
            command->error = error;
        }
        settled_.notify_all();
        if (lost) {
            Disconnect(*lost);
        }
    }
}

void AmqpJobQueue::Service() {
    try {
        if (!work_channel_open_ && Clock::now() >= reopen_work_channel_at_) {
            try {
                SetUpWorkChannel();
            } catch (const AmqpChannelClosed& closed) {
                throw AmqpConnectionLost(std::string("cannot reopen the channel: ") +
                                         closed.what());
            }
        }
        if (work_channel_open_) {
            StartConsumers();
            FlushPublications();
            FireRetries();
        }
    } catch (const AmqpChannelClosed& closed) {
        OnChannelClosed(closed.Channel(), closed.what());
    }

    // Always, so heartbeats keep flowing while the work channel waits to be reopened.
    try {
        ReadEvents();
    } catch (const AmqpChannelClosed& closed) {
        OnChannelClosed(closed.Channel(), closed.what());
    }
}

void AmqpJobQueue::ReadEvents() {
    for (int i = 0; i < kEventsPerRound; ++i) {
        // A wait of 1 us rather than 0: rabbitmq-c notices missed heartbeats only when
        // the wait it is given ends after the heartbeat deadline.
        const std::optional<AmqpEvent> event = connection_->NextEvent(std::chrono::microseconds(1));
        if (!event) {
            break;
        }
        HandleEvent(*event);
    }
    if (connection_) {
        connection_->ReleaseBuffers();
    }
}

void AmqpJobQueue::HandleEvent(const AmqpEvent& event) {
    using Kind = AmqpEvent::Kind;
    switch (event.kind) {
        case Kind::kDeliver:
            HandleDelivery(event);
            return;
        case Kind::kAck:
        case Kind::kNack:
            if (event.channel == kWorkChannel) {
                HandleConfirm(event.delivery_tag, event.multiple, event.kind == Kind::kAck);
            }
            return;
        case Kind::kReturn:
            HandleReturn(event);
            return;
        case Kind::kCancel:
            HandleCancel(event);
            return;
        case Kind::kChannelClose:
            OnChannelClosed(event.channel, event.text);
            return;
        case Kind::kBlocked:
            spdlog::warn("amqp: the broker blocks publishing: {}", event.text);
            blocked_ = true;
            return;
        case Kind::kUnblocked:
            spdlog::info("amqp: the broker accepts publishing again");
            blocked_ = false;
            return;
        case Kind::kOther:
            break;
    }
    throw AmqpConnectionLost(event.text);
}

void AmqpJobQueue::HandleDelivery(const AmqpEvent& event) {
    const auto consumer = consumer_queues_.find(event.consumer_tag);
    if (event.channel != kWorkChannel || consumer == consumer_queues_.end()) {
        spdlog::warn("amqp: delivery for unknown consumer {} given back", event.consumer_tag);
        connection_->Nack(event.channel, event.delivery_tag, true);
        return;
    }
    if (event.delivery_tag > kBrokerTagMask) {
        // 2^40 deliveries on one channel: start afresh rather than reuse tag bits.
        throw AmqpConnectionLost("delivery tags of the channel used up");
    }

    Delivery delivery;
    delivery.queue = consumer->second;
    delivery.message_id = event.content.message_id;
    delivery.body = event.content.body;
    if (event.content.delivery_count) {
        delivery.attempt = static_cast<int>(
            std::clamp<std::int64_t>(*event.content.delivery_count, 0, INT_MAX - 1) + 1);
    } else {
        delivery.attempt = event.redelivered ? 2 : 1;
    }
    delivery.tag = ((generation_ & kGenerationMask) << kGenerationShift) | event.delivery_tag;
    if (delivery.attempt > 1) {
        spdlog::debug("amqp: message {} on {} delivered again (attempt {})", delivery.message_id,
                      delivery.queue, delivery.attempt);
    }

    {
        std::lock_guard lock(mutex_);
        buffered_[delivery.queue].push_back(std::move(delivery));
    }
    delivered_.notify_all();
}

void AmqpJobQueue::HandleConfirm(std::uint64_t seq, bool multiple, bool ack) {
    std::vector<std::uint64_t> ids;
    if (multiple) {
        const auto end = seq == 0 ? confirms_.end() : confirms_.upper_bound(seq);
        for (auto it = confirms_.begin(); it != end;) {
            ids.push_back(it->second);
            it = confirms_.erase(it);
        }
    } else if (auto it = confirms_.find(seq); it != confirms_.end()) {
        ids.push_back(it->second);
        confirms_.erase(it);
    }

    for (const std::uint64_t id : ids) {
        const auto found = publications_.find(id);
        if (found == publications_.end()) {
            continue;
        }
        const std::shared_ptr<Publication> publication = found->second;
        publication->seq = 0;
        if (ack && publication->returned) {
            Settle(publication,
                   "message to queue " + publication->routing_key + " was unroutable (" +
                       publication->return_text + ")",
                   false);
        } else if (ack) {
            Settle(publication, "", true);
        } else if (++publication->nacks < 2) {
            spdlog::warn("amqp: the broker refused message {} to {} (nack); publishing it again",
                         publication->message.message_id, publication->routing_key);
        } else {
            Settle(publication,
                   "RabbitMQ refused the message to " + publication->routing_key + " twice (nack)",
                   true);
        }
    }
}

void AmqpJobQueue::HandleReturn(const AmqpEvent& event) {
    // The return comes before the confirm of the same message, which is still waiting.
    // Messages to the same exchange and key are routed alike, so the earliest one of them
    // is the one returned.
    std::shared_ptr<Publication> earliest;
    for (const auto& [seq, id] : confirms_) {
        const auto found = publications_.find(id);
        if (found == publications_.end()) {
            continue;
        }
        const std::shared_ptr<Publication>& publication = found->second;
        if (!publication->returned && publication->exchange == event.exchange &&
            publication->routing_key == event.routing_key &&
            publication->message.message_id == event.content.message_id) {
            earliest = publication;
            break;
        }
    }
    if (!earliest) {
        spdlog::warn("amqp: message {} to {} came back unroutable ({} {}) but was not waiting",
                     event.content.message_id, event.routing_key, event.code, event.text);
        return;
    }
    earliest->returned = true;
    earliest->return_text = std::to_string(event.code) + " " + event.text;
}

void AmqpJobQueue::HandleCancel(const AmqpEvent& event) {
    const auto found = consumer_queues_.find(event.consumer_tag);
    if (found == consumer_queues_.end()) {
        return;
    }
    const std::string queue = found->second;
    consumer_queues_.erase(found);
    spdlog::warn("amqp: the broker cancelled the consumer of {}; consuming again", queue);

    // The queue may have been deleted: declare it again before consuming.
    declared_.erase(queue);
    Consumer& consumer = consumers_[queue];
    consumer.active = false;
    consumer.next_attempt = Clock::now() + config_.reconnect_min;
}

void AmqpJobQueue::StartConsumers() {
    const auto now = Clock::now();
    for (auto& [queue, consumer] : consumers_) {
        if (consumer.active || now < consumer.next_attempt) {
            continue;
        }
        try {
            EnsureDeclared(queue);
            connection_->Consume(kWorkChannel, queue, consumer.tag);
        } catch (const TopologyError& error) {
            spdlog::error("amqp: cannot consume from {}: {}; next attempt in {} ms", queue,
                          error.what(), consumer.backoff.count());
            consumer.next_attempt = now + consumer.backoff;
            consumer.backoff = std::min(consumer.backoff * 2, config_.reconnect_max);
            continue;
        } catch (const AmqpChannelClosed&) {
            // The work channel went down with it (the queue vanished in between, say).
            consumer.next_attempt = now + consumer.backoff;
            consumer.backoff = std::min(consumer.backoff * 2, config_.reconnect_max);
            throw;
        }
        consumer.active = true;
        consumer.backoff = config_.reconnect_min;
        consumer_queues_[consumer.tag] = queue;
        spdlog::debug("amqp: consuming from {}", queue);
    }
}

void AmqpJobQueue::FlushPublications() {
    if (!work_channel_open_ || blocked_) {
        return;
    }
    std::vector<std::shared_ptr<Publication>> waiting;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, publication] : publications_) {
            if (publication->seq == 0 && !publication->abandoned) {
                waiting.push_back(publication);
            }
        }
    }

    for (const auto& publication : waiting) {
        try {
            EnsureDeclared(publication->queue);
        } catch (const TopologyError& error) {
            Settle(publication, error.what(), !error.Permanent());
            continue;
        }
        connection_->Publish(kWorkChannel, publication->exchange, publication->routing_key,
                             publication->message);
        publication->seq = next_seq_++;
        publication->returned = false;
        confirms_[publication->seq] = publication->id;
    }
}

void AmqpJobQueue::FireRetries() {
    const auto now = Clock::now();
    while (!retries_.empty() && retries_.begin()->first <= now) {
        const std::uint64_t tag = retries_.begin()->second;
        retries_.erase(retries_.begin());
        connection_->Nack(kWorkChannel, tag, true);
    }
}

void AmqpJobQueue::DropAbandoned() {
    std::vector<std::uint64_t> abandoned;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, publication] : publications_) {
            if (publication->abandoned || publication->settled) {
                abandoned.push_back(id);
            }
        }
    }
    for (const std::uint64_t id : abandoned) {
        const auto found = publications_.find(id);
        if (found->second->seq != 0) {
            confirms_.erase(found->second->seq);
        }
        publications_.erase(found);
    }
}

void AmqpJobQueue::EnsureDeclared(const std::string& queue) {
    if (declared_.count(queue) != 0) {
        return;
    }
    queues_.insert(queue);

    const std::string dead = DeadLetterQueueOf(queue);
    try {
        OpenInspectChannel();
        if (!exchange_declared_) {
            connection_->DeclareExchange(kInspectChannel, kDeadLetterExchange, "direct");
            exchange_declared_ = true;
        }
        connection_->DeclareQueue(kInspectChannel, dead, {{"x-queue-type", "quorum"}});
        connection_->BindQueue(kInspectChannel, dead, kDeadLetterExchange, dead);
        if (!IsDeadLetterQueue(queue)) {
            connection_->DeclareQueue(kInspectChannel, queue,
                                      {{"x-queue-type", "quorum"},
                                       {"x-delivery-limit", std::int64_t{config_.delivery_limit}},
                                       {"x-dead-letter-exchange", kDeadLetterExchange},
                                       {"x-dead-letter-routing-key", dead}});
        }
    } catch (const AmqpChannelClosed& closed) {
        inspect_channel_open_ = false;
        // 403 access refused, 405 locked, 406 declared elsewhere with other arguments:
        // trying again will not help.
        const bool permanent = closed.Code() >= 403 && closed.Code() <= 406;
        if (permanent) {
            refused_queues_.insert(queue);
            topology_refused_ = true;
        }
        throw TopologyError("cannot declare queue " + queue + ": " + closed.what(), permanent);
    }
    refused_queues_.erase(queue);
    topology_refused_ = !refused_queues_.empty();
    declared_.insert(queue);
    declared_.insert(dead);
    spdlog::debug("amqp: declared {} and {}", queue, dead);
}

void AmqpJobQueue::OpenInspectChannel() {
    if (!inspect_channel_open_) {
        connection_->OpenChannel(kInspectChannel);
        inspect_channel_open_ = true;
    }
}

void AmqpJobQueue::Settle(const std::shared_ptr<Publication>& publication, std::string error,
                          bool transient) {
    {
        std::lock_guard lock(mutex_);
        if (!publication->settled) {
            publication->settled = true;
            publication->error = std::move(error);
            publication->transient = transient;
        }
    }
    settled_.notify_all();
    if (publication->seq != 0) {
        confirms_.erase(publication->seq);
        publication->seq = 0;
    }
    publications_.erase(publication->id);
}

void AmqpJobQueue::WaitForWork() {
    if (connection_ && connection_->HasBufferedInput()) {
        return;
    }
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || !commands_.empty()) {
            return;
        }
    }

    const auto now = Clock::now();
    auto wait = kFrameWait;
    if (!connection_) {
        wait = std::clamp(std::chrono::duration_cast<milliseconds>(next_connect_ - now),
                          milliseconds::zero(), milliseconds(1000));
    } else if (!retries_.empty()) {
        wait = std::clamp(std::chrono::duration_cast<milliseconds>(retries_.begin()->first - now),
                          milliseconds::zero(), kFrameWait);
    }

    pollfd fds[2] = {};
    fds[0].fd = wake_.fd;
    fds[0].events = POLLIN;
    nfds_t count = 1;
    if (connection_) {
        fds[1].fd = connection_->Fd();
        fds[1].events = POLLIN;
        count = 2;
    }
    if (poll(fds, count, static_cast<int>(wait.count())) > 0 && (fds[0].revents & POLLIN) != 0) {
        std::uint64_t ignored = 0;
        [[maybe_unused]] const ssize_t got = read(wake_.fd, &ignored, sizeof(ignored));
    }
}

bool AmqpJobQueue::Current(const Delivery& delivery, const char* action) {
    const std::uint64_t generation = delivery.tag >> kGenerationShift;
    if (connection_ && work_channel_open_ && generation == (generation_ & kGenerationMask)) {
        return true;
    }
    spdlog::warn(
        "amqp: {} of message {} on {} dropped: its channel has closed since, so the broker "
        "delivers it again",
        action, delivery.message_id, delivery.queue);
    return false;
}

std::uint64_t AmqpJobQueue::BrokerTag(const Delivery& delivery) const {
    return delivery.tag & kBrokerTagMask;
}

void AmqpJobQueue::Shutdown() {
    RunCommands();

    std::vector<std::shared_ptr<Publication>> waiting;
    for (const auto& [id, publication] : publications_) {
        waiting.push_back(publication);
    }
    for (const auto& publication : waiting) {
        Settle(publication, "RabbitMQ queue is shutting down", true);
    }
    {
        std::lock_guard lock(mutex_);
        buffered_.clear();
    }

    // Closing the connection gives every unacked delivery back to the broker.
    connection_.reset();
    ready_ = false;
}

}  // namespace video2mp3::adapters
