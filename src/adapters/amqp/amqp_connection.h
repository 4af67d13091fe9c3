#pragma once

#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace video2mp3::adapters {

/// Where a broker is and who we are there, from an `amqp://user:pass@host:port/vhost` URL
/// (or `amqps://`, TLS, port 5671 by default).
struct AmqpEndpoint {
    bool tls = false;
    std::string host;
    int port = 5672;
    std::string user;
    std::string password;
    std::string vhost;

    /// `host:port/vhost`, without the credentials (for logs and error messages).
    std::string Describe() const;
};

/// Parses an AMQP URL with rabbitmq-c's amqp_parse_url. An empty vhost (`...:5672/`) means
/// the default vhost `/`. Throws std::invalid_argument naming the problem (not an amqp or
/// amqps URL, a bad port, no host).
AmqpEndpoint ParseAmqpUrl(const std::string& url);

/// What is wrong with a file meant to hold the PEM certificates of trusted CAs (a folder,
/// unreadable, no certificate in it), or "" when it holds at least one.
std::string CaFileProblem(const std::string& path);

/// The connection cannot be used any more: socket error, missed heartbeats, a protocol
/// error, or the broker closed it. The owner reconnects.
class AmqpConnectionLost : public std::runtime_error {
 public:
    using std::runtime_error::runtime_error;
};

/// The broker closed one channel (reply code and text in what()); the connection lives on.
/// close-ok has already been sent, so the channel number may be opened again.
class AmqpChannelClosed : public std::runtime_error {
 public:
    AmqpChannelClosed(amqp_channel_t channel, int code, const std::string& text);
    amqp_channel_t Channel() const { return channel_; }
    int Code() const { return code_; }

 private:
    amqp_channel_t channel_;
    int code_;
};

/// A table entry for queue arguments and message headers.
struct AmqpField {
    std::string key;
    std::variant<std::string, std::int64_t, bool> value;
};

/// A message's properties and body, copied out of rabbitmq-c's buffers.
struct AmqpContent {
    std::string message_id;  ///< "" when absent
    std::string body;
    /// The integer header x-delivery-count (set by quorum queues on redelivery).
    std::optional<std::int64_t> delivery_count;
};

/// A message to publish: persistent, application/json, with optional string headers.
struct AmqpOutgoing {
    std::string message_id;
    std::string body;
    std::vector<AmqpField> headers;
};

/// One asynchronous method from the broker, decoded and copied.
struct AmqpEvent {
    enum class Kind {
        kDeliver,       ///< basic.deliver with its content
        kAck,           ///< publisher confirm
        kNack,          ///< publisher confirm: the broker could not take the message
        kReturn,        ///< basic.return (unroutable mandatory publish) with its content
        kCancel,        ///< basic.cancel: the broker cancelled a consumer
        kChannelClose,  ///< channel.close (close-ok already sent)
        kBlocked,       ///< connection.blocked (resource alarm)
        kUnblocked,     ///< connection.unblocked
        kOther,         ///< anything else (described in `text`)
    };
    Kind kind = Kind::kOther;
    amqp_channel_t channel = 0;
    std::uint64_t delivery_tag = 0;
    bool multiple = false;
    bool redelivered = false;
    int code = 0;
    std::string text;  ///< reply text, consumer tag (cancel) or a description (other)
    std::string consumer_tag;
    std::string exchange;
    std::string routing_key;
    AmqpContent content;
};

/// One AMQP 0-9-1 connection made with rabbitmq-c (TCP or TLS, SASL PLAIN), owned by one thread:
/// rabbitmq-c is not thread-safe per connection. Every rabbitmq-c error becomes an
/// AmqpConnectionLost or AmqpChannelClosed where it is returned. Heartbeats are sent and
/// checked only while NextEvent (or an RPC) runs, so the owner must call it regularly.
class AmqpConnection {
 public:
    struct Options {
        std::chrono::seconds heartbeat{30};
        std::string connection_name;
        std::chrono::milliseconds connect_timeout{5000};
        /// Bounds every synchronous method (declare, consume, close...) and the login.
        std::chrono::milliseconds rpc_timeout{10000};
        /// amqps only: a PEM file of the certificate authorities to trust; empty means the
        /// system's (/etc/ssl/certs). The broker's certificate and its name are always
        /// checked, and nothing older than TLS 1.2 is spoken.
        std::string ca_file;
    };

    /// Opens the socket (with a TLS handshake for amqps) and logs in (client properties:
    /// connection_name, capabilities connection.blocked, authentication_failure_close,
    /// consumer_cancel_notify). Throws AmqpConnectionLost with the reason (refused, an
    /// untrusted certificate, login refused, timeout).
    AmqpConnection(const AmqpEndpoint& endpoint, const Options& options);
    /// Closes the connection cleanly when it still works (unacked deliveries go back to
    /// their queues), else just drops it.
    ~AmqpConnection();
    AmqpConnection(const AmqpConnection&) = delete;
    AmqpConnection& operator=(const AmqpConnection&) = delete;

    int Fd() const;
    /// Frames or bytes already read from the socket but not yet handed out.
    bool HasBufferedInput() const;
    /// The heartbeat the broker and we agreed on (0: none).
    int Heartbeat() const;

    void OpenChannel(amqp_channel_t channel);
    void ConfirmSelect(amqp_channel_t channel);
    void Qos(amqp_channel_t channel, std::uint16_t prefetch_count);
    void DeclareExchange(amqp_channel_t channel, const std::string& name, const std::string& type);
    void DeclareQueue(amqp_channel_t channel, const std::string& name,
                      const std::vector<AmqpField>& arguments);
    /// The number of ready messages in an existing queue; a missing queue closes the
    /// channel with 404 (AmqpChannelClosed).
    std::uint32_t PassiveDeclareQueue(amqp_channel_t channel, const std::string& name);
    void BindQueue(amqp_channel_t channel, const std::string& queue, const std::string& exchange,
                   const std::string& routing_key);
    void Consume(amqp_channel_t channel, const std::string& queue, const std::string& consumer_tag);
    void Publish(amqp_channel_t channel, const std::string& exchange,
                 const std::string& routing_key, const AmqpOutgoing& message);
    void Ack(amqp_channel_t channel, std::uint64_t delivery_tag);
    void Nack(amqp_channel_t channel, std::uint64_t delivery_tag, bool requeue);

    /// Waits up to `timeout` (at least a microsecond, so missed heartbeats are noticed) for
    /// the next method from the broker and reads the content that follows deliveries and
    /// returns. connection.close is answered and thrown as AmqpConnectionLost.
    std::optional<AmqpEvent> NextEvent(std::chrono::microseconds timeout);

    /// Frees rabbitmq-c's per-frame memory when nothing is queued in it.
    void ReleaseBuffers();

 private:
    void CheckRpc(amqp_channel_t channel, const std::string& what);
    void CheckStatus(int status, const std::string& what);
    [[noreturn]] void Lost(const std::string& reason);
    AmqpContent ReadContent(amqp_channel_t channel);

    struct StateDeleter {
        void operator()(amqp_connection_state_t state) const;
    };

    AmqpEndpoint endpoint_;
    std::unique_ptr<amqp_connection_state_t_, StateDeleter> state_;
    bool usable_ = false;
};

}  // namespace video2mp3::adapters
