#include "gateway/http_common.h"

#include <sodium.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

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

}  // namespace video2mp3::gateway
