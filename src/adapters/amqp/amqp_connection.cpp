#include "adapters/amqp/amqp_connection.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <memory>

namespace video2mp3::adapters {

namespace {

constexpr const char* kDeliveryCountHeader = "x-delivery-count";
constexpr std::chrono::seconds kCloseTimeout{2};

amqp_bytes_t Bytes(const std::string& text) {
    amqp_bytes_t bytes;
    bytes.len = text.size();
    bytes.bytes = const_cast<char*>(text.data());
    return bytes;
}

std::string String(amqp_bytes_t bytes) {
    if (bytes.bytes == nullptr) {
        return {};
    }
    return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

timeval ToTimeval(std::chrono::microseconds duration) {
    duration = std::max(duration, std::chrono::microseconds(1));
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(duration.count() / 1'000'000);
    tv.tv_usec = static_cast<suseconds_t>(duration.count() % 1'000'000);
    return tv;
}

std::string ErrorText(int status) {
    return amqp_error_string2(status);
}

amqp_table_entry_t Entry(const AmqpField& field) {
    amqp_table_entry_t entry{};
    entry.key = Bytes(field.key);
    if (const auto* text = std::get_if<std::string>(&field.value)) {
        entry.value.kind = AMQP_FIELD_KIND_UTF8;
        entry.value.value.bytes = Bytes(*text);
    } else if (const auto* number = std::get_if<std::int64_t>(&field.value)) {
        entry.value.kind = AMQP_FIELD_KIND_I64;
        entry.value.value.i64 = *number;
    } else {
        entry.value.kind = AMQP_FIELD_KIND_BOOLEAN;
        entry.value.value.boolean = std::get<bool>(field.value) ? 1 : 0;
    }
    return entry;
}

/// The entries of an amqp_table_t; they point into `fields`, which must outlive the table.
std::vector<amqp_table_entry_t> Entries(const std::vector<AmqpField>& fields) {
    std::vector<amqp_table_entry_t> entries;
    entries.reserve(fields.size());
    for (const AmqpField& field : fields) {
        entries.push_back(Entry(field));
    }
    return entries;
}

amqp_table_t Table(std::vector<amqp_table_entry_t>& entries) {
    amqp_table_t table;
    table.num_entries = static_cast<int>(entries.size());
    table.entries = entries.empty() ? nullptr : entries.data();
    return table;
}

/// Any integer kind: brokers and other clients do not agree on one for x-delivery-count.
std::optional<std::int64_t> Integer(const amqp_field_value_t& value) {
    switch (value.kind) {
        case AMQP_FIELD_KIND_I8:
            return value.value.i8;
        case AMQP_FIELD_KIND_U8:
            return value.value.u8;
        case AMQP_FIELD_KIND_I16:
            return value.value.i16;
        case AMQP_FIELD_KIND_U16:
            return value.value.u16;
        case AMQP_FIELD_KIND_I32:
            return value.value.i32;
        case AMQP_FIELD_KIND_U32:
            return value.value.u32;
        case AMQP_FIELD_KIND_I64:
            return value.value.i64;
        case AMQP_FIELD_KIND_U64:
            return static_cast<std::int64_t>(std::min<std::uint64_t>(value.value.u64, INT64_MAX));
        default:
            return std::nullopt;
    }
}

/// A TLS socket that checks the broker's certificate chain and name, TLS 1.2 or later.
amqp_socket_t* TlsSocket(amqp_connection_state_t state, const std::string& ca_file,
                         const std::string& where) {
    amqp_socket_t* socket = amqp_ssl_socket_new(state);
    if (socket == nullptr) {
        throw AmqpConnectionLost("cannot connect to " + where + ": no TLS socket");
    }
    amqp_ssl_socket_set_verify_peer(socket, 1);
    amqp_ssl_socket_set_verify_hostname(socket, 1);
    if (amqp_ssl_socket_set_ssl_versions(socket, AMQP_TLSv1_2, AMQP_TLSvLATEST) != AMQP_STATUS_OK) {
        throw AmqpConnectionLost("cannot connect to " + where + ": TLS 1.2 is not available");
    }
    if (!ca_file.empty()) {
        if (amqp_ssl_socket_set_cacert(socket, ca_file.c_str()) != AMQP_STATUS_OK) {
            throw AmqpConnectionLost("cannot connect to " + where + ": cannot load CA file " +
                                     ca_file + " (PEM certificates expected)");
        }
    } else {
        auto* context = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket));
        if (context == nullptr || SSL_CTX_set_default_verify_paths(context) != 1) {
            throw AmqpConnectionLost("cannot connect to " + where +
                                     ": cannot load the system's certificate authorities");
        }
    }
    return socket;
}

std::string CloseText(int code, amqp_bytes_t text) {
    return std::to_string(code) + " " + String(text);
}

}  // namespace

std::string AmqpEndpoint::Describe() const {
    return (tls ? "amqps://" : "") + host + ":" + std::to_string(port) +
           (vhost == "/" ? "/" : "/" + vhost);
}

AmqpEndpoint ParseAmqpUrl(const std::string& url) {
    if (url.empty()) {
        throw std::invalid_argument("AMQP URL is empty (expected amqp://user:pass@host:port/)");
    }
    // amqp_parse_url writes into its argument and points the result into it.
    std::vector<char> buffer(url.begin(), url.end());
    buffer.push_back('\0');
    amqp_connection_info info{};
    amqp_default_connection_info(&info);
    if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
        throw std::invalid_argument(
            "AMQP URL is malformed (expected amqp://user:pass@host:port/vhost, a port from 1 "
            "to 65535)");
    }
    if (info.port <= 0 || info.port > 65535) {
        throw std::invalid_argument("AMQP URL has a port outside 1..65535");
    }

    AmqpEndpoint endpoint;
    endpoint.tls = info.ssl != 0;
    endpoint.host = info.host;
    endpoint.port = info.port;
    endpoint.user = info.user;
    endpoint.password = info.password;
    endpoint.vhost = (info.vhost == nullptr || info.vhost[0] == '\0') ? "/" : info.vhost;
    if (endpoint.host.empty()) {
        throw std::invalid_argument("AMQP URL has no host");
    }
    return endpoint;
}

std::string CaFileProblem(const std::string& path) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
        return path + " is a folder, not a file";
    }
    std::unique_ptr<BIO, decltype(&BIO_free)> file(BIO_new_file(path.c_str(), "r"), &BIO_free);
    if (!file) {
        return "cannot read " + path;
    }
    int certificates = 0;
    while (X509* certificate = PEM_read_bio_X509(file.get(), nullptr, nullptr, nullptr)) {
        X509_free(certificate);
        ++certificates;
    }
    ERR_clear_error();
    if (certificates == 0) {
        return path + " holds no PEM certificate";
    }
    return "";
}

AmqpChannelClosed::AmqpChannelClosed(amqp_channel_t channel, int code, const std::string& text)
    : std::runtime_error(text), channel_(channel), code_(code) {}

void AmqpConnection::StateDeleter::operator()(amqp_connection_state_t state) const {
    amqp_destroy_connection(state);
}

AmqpConnection::AmqpConnection(const AmqpEndpoint& endpoint, const Options& options)
    : endpoint_(endpoint), state_(amqp_new_connection()) {
    const std::string where = endpoint_.Describe();
    if (!state_) {
        throw AmqpConnectionLost("cannot connect to " + where + ": out of memory");
    }

    amqp_socket_t* socket = endpoint_.tls ? TlsSocket(state_.get(), options.ca_file, where)
                                          : amqp_tcp_socket_new(state_.get());
    if (socket == nullptr) {
        throw AmqpConnectionLost("cannot connect to " + where + ": no socket");
    }
    const timeval connect_timeout = ToTimeval(options.connect_timeout);
    const int opened =
        amqp_socket_open_noblock(socket, endpoint_.host.c_str(), endpoint_.port, &connect_timeout);
    if (opened != AMQP_STATUS_OK) {
        std::string hint;
        if (opened == AMQP_STATUS_SSL_PEER_VERIFY_FAILED ||
            opened == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED) {
            hint =
                " (is the broker's certificate signed by a trusted CA, and for the host the "
                "URL names?)";
        } else if (opened == AMQP_STATUS_SSL_CONNECTION_FAILED) {
            hint =
                " (does the broker speak TLS on this port, with a certificate signed by a "
                "trusted CA, for the host the URL names?)";
        }
        throw AmqpConnectionLost("cannot connect to " + where + ": " + ErrorText(opened) + hint);
    }

    const timeval rpc_timeout = ToTimeval(options.rpc_timeout);
    amqp_set_handshake_timeout(state_.get(), &rpc_timeout);
    amqp_set_rpc_timeout(state_.get(), &rpc_timeout);

    const std::vector<AmqpField> capability_fields = {
        {"connection.blocked", true},
        {"authentication_failure_close", true},
        {"consumer_cancel_notify", true},
    };
    std::vector<amqp_table_entry_t> capabilities = Entries(capability_fields);
    // The tables point into these fields, so they live until the login is done.
    const std::vector<AmqpField> property_fields = {
        {"connection_name", options.connection_name},
        {"capabilities", false},  // replaced by the table below
    };
    std::vector<amqp_table_entry_t> properties = Entries(property_fields);
    properties[1].value.kind = AMQP_FIELD_KIND_TABLE;
    properties[1].value.value.table = Table(capabilities);
    const amqp_table_t properties_table = Table(properties);

    const auto heartbeat = static_cast<int>(options.heartbeat.count());
    const amqp_rpc_reply_t reply = amqp_login_with_properties(
        state_.get(), endpoint_.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat,
        &properties_table, AMQP_SASL_METHOD_PLAIN, endpoint_.user.c_str(),
        endpoint_.password.c_str());
    switch (reply.reply_type) {
        case AMQP_RESPONSE_NORMAL:
            usable_ = true;
            return;
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
                const auto* close = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
                const std::string text = CloseText(close->reply_code, close->reply_text);
                amqp_connection_close_ok_t close_ok{};
                amqp_send_method(state_.get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
                throw AmqpConnectionLost("login to " + where + " refused: " + text);
            }
            throw AmqpConnectionLost("login to " + where + " failed: unexpected " +
                                     amqp_method_name(reply.reply.id));
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw AmqpConnectionLost("login to " + where +
                                     " failed: " + ErrorText(reply.library_error) +
                                     " (wrong user, password or vhost?)");
        default:
            throw AmqpConnectionLost("login to " + where + " failed");
    }
}

AmqpConnection::~AmqpConnection() {
    if (!usable_) {
        return;
    }
    // A broker that blocks publishers stops reading, so do not wait long for close-ok.
    // Frames that arrive meanwhile are queued and dropped.
    const timeval close_timeout = ToTimeval(kCloseTimeout);
    amqp_set_rpc_timeout(state_.get(), &close_timeout);
    const amqp_rpc_reply_t reply = amqp_connection_close(state_.get(), AMQP_REPLY_SUCCESS);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        spdlog::debug("amqp: closing the connection to {} did not finish cleanly",
                      endpoint_.Describe());
    }
}

int AmqpConnection::Fd() const {
    return amqp_get_sockfd(state_.get());
}

bool AmqpConnection::HasBufferedInput() const {
    return amqp_frames_enqueued(state_.get()) != 0 || amqp_data_in_buffer(state_.get()) != 0;
}

int AmqpConnection::Heartbeat() const {
    return amqp_get_heartbeat(state_.get());
}

void AmqpConnection::OpenChannel(amqp_channel_t channel) {
    amqp_channel_open(state_.get(), channel);
    CheckRpc(channel, "channel.open");
}

void AmqpConnection::ConfirmSelect(amqp_channel_t channel) {
    amqp_confirm_select(state_.get(), channel);
    CheckRpc(channel, "confirm.select");
}

void AmqpConnection::Qos(amqp_channel_t channel, std::uint16_t prefetch_count) {
    amqp_basic_qos(state_.get(), channel, 0, prefetch_count, 0);
    CheckRpc(channel, "basic.qos");
}

void AmqpConnection::DeclareExchange(amqp_channel_t channel, const std::string& name,
                                     const std::string& type) {
    amqp_exchange_declare(state_.get(), channel, Bytes(name), Bytes(type), 0, 1, 0, 0,
                          amqp_empty_table);
    CheckRpc(channel, "exchange.declare " + name);
}

void AmqpConnection::DeclareQueue(amqp_channel_t channel, const std::string& name,
                                  const std::vector<AmqpField>& arguments) {
    std::vector<amqp_table_entry_t> entries = Entries(arguments);
    amqp_queue_declare(state_.get(), channel, Bytes(name), 0, 1, 0, 0, Table(entries));
    CheckRpc(channel, "queue.declare " + name);
}

std::uint32_t AmqpConnection::PassiveDeclareQueue(amqp_channel_t channel, const std::string& name) {
    const amqp_queue_declare_ok_t* ok =
        amqp_queue_declare(state_.get(), channel, Bytes(name), 1, 0, 0, 0, amqp_empty_table);
    CheckRpc(channel, "queue.declare (passive) " + name);
    return ok->message_count;
}

void AmqpConnection::BindQueue(amqp_channel_t channel, const std::string& queue,
                               const std::string& exchange, const std::string& routing_key) {
    amqp_queue_bind(state_.get(), channel, Bytes(queue), Bytes(exchange), Bytes(routing_key),
                    amqp_empty_table);
    CheckRpc(channel, "queue.bind " + queue);
}

void AmqpConnection::Consume(amqp_channel_t channel, const std::string& queue,
                             const std::string& consumer_tag) {
    amqp_basic_consume(state_.get(), channel, Bytes(queue), Bytes(consumer_tag), 0, 0, 0,
                       amqp_empty_table);
    CheckRpc(channel, "basic.consume " + queue);
}

void AmqpConnection::Publish(amqp_channel_t channel, const std::string& exchange,
                             const std::string& routing_key, const AmqpOutgoing& message) {
    static const std::string kContentType = "application/json";
    amqp_basic_properties_t properties{};
    properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    properties.content_type = Bytes(kContentType);
    properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    if (!message.message_id.empty()) {
        properties._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        properties.message_id = Bytes(message.message_id);
    }
    std::vector<amqp_table_entry_t> headers = Entries(message.headers);
    if (!headers.empty()) {
        properties._flags |= AMQP_BASIC_HEADERS_FLAG;
        properties.headers = Table(headers);
    }

    const int status =
        amqp_basic_publish(state_.get(), channel, Bytes(exchange), Bytes(routing_key), 1, 0,
                           &properties, Bytes(message.body));
    CheckStatus(status, "basic.publish to " + routing_key);
}

void AmqpConnection::Ack(amqp_channel_t channel, std::uint64_t delivery_tag) {
    CheckStatus(amqp_basic_ack(state_.get(), channel, delivery_tag, 0), "basic.ack");
}

void AmqpConnection::Nack(amqp_channel_t channel, std::uint64_t delivery_tag, bool requeue) {
    CheckStatus(amqp_basic_nack(state_.get(), channel, delivery_tag, 0, requeue ? 1 : 0),
                "basic.nack");
}

std::optional<AmqpEvent> AmqpConnection::NextEvent(std::chrono::microseconds timeout) {
    const timeval tv = ToTimeval(timeout);
    amqp_frame_t frame{};
    const int status = amqp_simple_wait_frame_noblock(state_.get(), &frame, &tv);
    if (status == AMQP_STATUS_TIMEOUT) {
        return std::nullopt;
    }
    if (status == AMQP_STATUS_HEARTBEAT_TIMEOUT) {
        Lost("no heartbeat from " + endpoint_.Describe());
    }
    CheckStatus(status, "reading from the broker");

    AmqpEvent event;
    event.channel = frame.channel;
    if (frame.frame_type != AMQP_FRAME_METHOD) {
        event.text = "a frame of type " + std::to_string(frame.frame_type) +
                     " outside any message on channel " + std::to_string(frame.channel);
        return event;
    }

    // Copy everything out first: the frame lives in rabbitmq-c's buffers, which reading
    // the content may reuse.
    void* decoded = frame.payload.method.decoded;
    switch (frame.payload.method.id) {
        case AMQP_BASIC_DELIVER_METHOD: {
            const auto* deliver = static_cast<amqp_basic_deliver_t*>(decoded);
            event.kind = AmqpEvent::Kind::kDeliver;
            event.consumer_tag = String(deliver->consumer_tag);
            event.delivery_tag = deliver->delivery_tag;
            event.redelivered = deliver->redelivered != 0;
            event.exchange = String(deliver->exchange);
            event.routing_key = String(deliver->routing_key);
            event.content = ReadContent(frame.channel);
            break;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            const auto* returned = static_cast<amqp_basic_return_t*>(decoded);
            event.kind = AmqpEvent::Kind::kReturn;
            event.code = returned->reply_code;
            event.text = String(returned->reply_text);
            event.exchange = String(returned->exchange);
            event.routing_key = String(returned->routing_key);
            event.content = ReadContent(frame.channel);
            break;
        }
        case AMQP_BASIC_ACK_METHOD: {
            const auto* ack = static_cast<amqp_basic_ack_t*>(decoded);
            event.kind = AmqpEvent::Kind::kAck;
            event.delivery_tag = ack->delivery_tag;
            event.multiple = ack->multiple != 0;
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            const auto* nack = static_cast<amqp_basic_nack_t*>(decoded);
            event.kind = AmqpEvent::Kind::kNack;
            event.delivery_tag = nack->delivery_tag;
            event.multiple = nack->multiple != 0;
            break;
        }
        case AMQP_BASIC_CANCEL_METHOD: {
            const auto* cancel = static_cast<amqp_basic_cancel_t*>(decoded);
            event.kind = AmqpEvent::Kind::kCancel;
            event.consumer_tag = String(cancel->consumer_tag);
            break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
            const auto* close = static_cast<amqp_channel_close_t*>(decoded);
            event.kind = AmqpEvent::Kind::kChannelClose;
            event.code = close->reply_code;
            event.text = CloseText(close->reply_code, close->reply_text);
            amqp_channel_close_ok_t close_ok{};
            CheckStatus(amqp_send_method(state_.get(), frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD,
                                         &close_ok),
                        "channel.close-ok");
            break;
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            const auto* close = static_cast<amqp_connection_close_t*>(decoded);
            const std::string text = CloseText(close->reply_code, close->reply_text);
            amqp_connection_close_ok_t close_ok{};
            amqp_send_method(state_.get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
            Lost("closed by the broker: " + text);
        }
        case AMQP_CONNECTION_BLOCKED_METHOD: {
            const auto* blocked = static_cast<amqp_connection_blocked_t*>(decoded);
            event.kind = AmqpEvent::Kind::kBlocked;
            event.text = String(blocked->reason);
            break;
        }
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            event.kind = AmqpEvent::Kind::kUnblocked;
            break;
        default:
            event.text = std::string("unexpected ") + amqp_method_name(frame.payload.method.id) +
                         " on channel " + std::to_string(frame.channel);
            break;
    }
    return event;
}

void AmqpConnection::ReleaseBuffers() {
    amqp_maybe_release_buffers(state_.get());
}

void AmqpConnection::CheckRpc(amqp_channel_t channel, const std::string& what) {
    const amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_.get());
    switch (reply.reply_type) {
        case AMQP_RESPONSE_NORMAL:
            return;
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            Lost(what + ": " + ErrorText(reply.library_error));
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            break;
        default:
            Lost(what + ": no reply");
    }

    if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* close = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
        const int code = close->reply_code;
        const std::string text = what + ": " + CloseText(code, close->reply_text);
        amqp_channel_close_ok_t close_ok{};
        CheckStatus(
            amqp_send_method(state_.get(), channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok),
            "channel.close-ok");
        throw AmqpChannelClosed(channel, code, text);
    }
    if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* close = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
        const std::string text = CloseText(close->reply_code, close->reply_text);
        amqp_connection_close_ok_t close_ok{};
        amqp_send_method(state_.get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
        Lost(what + ": connection closed by the broker: " + text);
    }
    Lost(what + ": unexpected " + amqp_method_name(reply.reply.id));
}

void AmqpConnection::CheckStatus(int status, const std::string& what) {
    if (status != AMQP_STATUS_OK) {
        Lost(what + ": " + ErrorText(status));
    }
}

void AmqpConnection::Lost(const std::string& reason) {
    usable_ = false;
    throw AmqpConnectionLost(reason);
}

AmqpContent AmqpConnection::ReadContent(amqp_channel_t channel) {
    amqp_message_t message{};
    const amqp_rpc_reply_t reply = amqp_read_message(state_.get(), channel, &message, 0);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        // A close in the middle of a message, or a broken stream: start over.
        Lost("reading a message on channel " + std::to_string(channel) + " failed" +
             (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
                  ? ": " + ErrorText(reply.library_error)
                  : std::string()));
    }

    AmqpContent content;
    const amqp_basic_properties_t& properties = message.properties;
    if ((properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) {
        content.message_id = String(properties.message_id);
    }
    if ((properties._flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
        for (int i = 0; i < properties.headers.num_entries; ++i) {
            const amqp_table_entry_t& entry = properties.headers.entries[i];
            if (String(entry.key) == kDeliveryCountHeader) {
                content.delivery_count = Integer(entry.value);
            }
        }
    }
    content.body = String(message.body);
    amqp_destroy_message(&message);
    return content;
}

}  // namespace video2mp3::adapters
