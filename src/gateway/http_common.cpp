#include "gateway/http_common.h"

#include <sodium.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace video2mp3::gateway {

void Reply(httplib::Response& response, int status, const nlohmann::json& body) {
    response.status = status;
    response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                         "application/json");
}

void ReplyError(httplib::Response& response, int status, const std::string& reason) {
    Reply(response, status, {{"error", reason}});
}

namespace {

/// What follows `scheme` (lower-case, with its space) in `header`, compared without case.
std::optional<std::string> AfterScheme(const std::string& header, std::string_view scheme) {
    if (header.size() <= scheme.size()) {
        return std::nullopt;
    }
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) {
            return std::nullopt;
        }
    }
    return header.substr(scheme.size());
}

}  // namespace

std::optional<std::string> ParseBearer(const std::string& header) {
    return AfterScheme(header, "bearer ");
}

std::optional<std::pair<std::string, std::string>> ParseBasicAuth(const std::string& header) {
    const std::optional<std::string> credentials = AfterScheme(header, "basic ");
    if (!credentials) {
        return std::nullopt;
    }
    const std::string& encoded = *credentials;
    std::string decoded(encoded.size(), '\0');
    std::size_t length = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(),
                          encoded.c_str(), encoded.size(), nullptr, &length, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        return std::nullopt;
    }
    decoded.resize(length);
    const auto colon = decoded.find(':');
    if (colon == std::string::npos) {
        return std::nullopt;
    }
    return std::pair{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

void ReuseAddressOnly(httplib::Server& server) {
    server.set_socket_options([](socket_t socket) {
        const int yes = 1;
        ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
}

int BindServer(httplib::Server& server, const std::string& host, int port) {
    const int bound =
        port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
    if (bound < 0) {
        throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                                 std::strerror(errno));
    }
    return bound;
}

std::string ForwardedClient(const httplib::Request& request, int trusted_hops) {
    if (trusted_hops <= 0 || !request.has_header("X-Forwarded-For")) {
        return request.remote_addr;
    }
    // Every X-Forwarded-For header, in order, as one list.
    std::vector<std::string> entries;
    const std::size_t headers = request.get_header_value_count("X-Forwarded-For");
    for (std::size_t i = 0; i < headers; ++i) {
        const std::string header = request.get_header_value("X-Forwarded-For", i);
        std::string_view rest = header;
        while (true) {
            const auto comma = rest.find(',');
            std::string_view entry = rest.substr(0, comma);
            while (!entry.empty() && (entry.front() == ' ' || entry.front() == '\t')) {
                entry.remove_prefix(1);
            }
            while (!entry.empty() && (entry.back() == ' ' || entry.back() == '\t')) {
                entry.remove_suffix(1);
            }
            if (!entry.empty()) {
                entries.emplace_back(entry);
            }
            if (comma == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(comma + 1);
        }
    }
    if (entries.empty()) {
        return request.remote_addr;
    }
    // Fewer entries than proxies: the leftmost is the nearest one we can know.
    const std::size_t from_right = std::min<std::size_t>(trusted_hops, entries.size());
    return entries[entries.size() - from_right];
}

}  // namespace video2mp3::gateway
