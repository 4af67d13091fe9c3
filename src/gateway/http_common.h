#pragma once

// What the HTTP servers of the roles (the gateway, the auth service, the workers' health
// door) share: JSON answers, HTTP Basic credentials, binding.

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

namespace video2mp3::gateway {

/// Answers `status` with `body` as JSON (invalid UTF-8 replaced, never an exception).
void Reply(httplib::Response& response, int status, const nlohmann::json& body);

/// Answers `status` with {"error": reason}.
void ReplyError(httplib::Response& response, int status, const std::string& reason);

/// The user name and password of an `Authorization: Basic ...` header (the scheme's name in
/// any case, RFC 7617); nothing when it is missing or malformed.
std::optional<std::pair<std::string, std::string>> ParseBasicAuth(const std::string& header);

/// The token of an `Authorization: Bearer ...` header (the scheme's name in any case);
/// nothing when it is missing or another scheme.
std::optional<std::string> ParseBearer(const std::string& header);

/// The address of the client a request came from when `trusted_hops` proxies of our own
/// stand in front (each appends the address it saw to X-Forwarded-For): the entry that many
/// places from the right; anything further left could be forged by the client. With 0 hops,
/// or no header, the peer's own address.
std::string ForwardedClient(const httplib::Request& request, int trusted_hops);

/// Sets SO_REUSEADDR only on the listening socket: httplib's default also sets SO_REUSEPORT,
/// which would let a second server bind the same port and silently share its connections.
void ReuseAddressOnly(httplib::Server& server);

/// Binds HOST:PORT (port 0: a free one) and returns the port; throws std::runtime_error with
/// the system's reason when it cannot.
int BindServer(httplib::Server& server, const std::string& host, int port);

}  // namespace video2mp3::gateway
