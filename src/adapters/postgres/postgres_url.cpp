#include "adapters/postgres/postgres_url.h"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>

namespace video2mp3::adapters {

namespace {

/// A value quoted for a libpq keyword=value connection string.
std::string Quoted(const std::string& value) {
    std::string quoted = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') {
            quoted += '\\';
        }
        quoted += c;
    }
    return quoted + "'";
}

}  // namespace

PostgresUrl ParsePostgresUrl(const std::string& url, std::chrono::seconds connect_timeout) {
    if (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0) {
        throw std::invalid_argument(
            "bad PostgreSQL URL: it must start with postgresql:// (or postgres://)");
    }

    if (std::any_of(url.begin(), url.end(),
                    [](unsigned char c) { return c <= 0x20 || c == 0x7f; })) {
        throw std::invalid_argument(
            "bad PostgreSQL URL: it contains a space or a control character (percent-encode "
            "them)");
    }

    // libpq's own parser: the same rules, parameter names and percent-decoding as the
    // connection will use, so a typo fails here instead of looking like a server that is down.
    char* error = nullptr;
    const std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
        PQconninfoParse(url.c_str(), &error), &PQconninfoFree);
    if (!options) {
        std::string reason = error != nullptr ? error : "libpq could not parse it";
        PQfreemem(error);
        reason.erase(reason.find_last_not_of(" \n") + 1);
        // libpq quotes the token it could not read, which may be the password.
        const auto authority = url.find("://") + 3;
        const auto at = url.rfind('@', url.find('/', authority));
        const auto colon = url.find(':', authority);
        if (at != std::string::npos && colon != std::string::npos && colon < at) {
            const std::string password = url.substr(colon + 1, at - colon - 1);
            for (auto found = reason.find(password);
                 !password.empty() && found != std::string::npos; found = reason.find(password)) {
                reason.replace(found, password.size(), "***");
            }
        }
        throw std::invalid_argument("bad PostgreSQL URL: " + reason);
    }

    std::map<std::string, std::string> given;
    for (const PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
        if (option->val != nullptr) {
            given[option->keyword] = option->val;
        }
    }
    if (const auto timeout = given.find("connect_timeout");
        timeout != given.end() &&
        (timeout->second.empty() ||
         !std::all_of(timeout->second.begin(), timeout->second.end(), ::isdigit))) {
        throw std::invalid_argument(
            "bad PostgreSQL URL: connect_timeout must be a whole number of seconds");
    }

    // libpq reads the port only when it connects; a typo there must not look like an outage.
    if (const auto port = given.find("port"); port != given.end()) {
        std::size_t start = 0;
        while (start <= port->second.size()) {
            const auto comma = std::min(port->second.find(',', start), port->second.size());
            const std::string one = port->second.substr(start, comma - start);
            if (one.empty() || one.size() > 5 || !std::all_of(one.begin(), one.end(), ::isdigit) ||
                std::stoi(one) < 1 || std::stoi(one) > 65535) {
                throw std::invalid_argument("bad PostgreSQL URL: the port '" + one +
                                            "' is not a number from 1 to 65535");
            }
            start = comma + 1;
        }
    }

    const std::map<std::string, std::string> defaults = {
        {"connect_timeout", std::to_string(std::max<std::int64_t>(connect_timeout.count(), 1))},
        {"application_name", "video2mp3"},
        // A server that vanishes without closing its connections (host down, network cut)
        // would otherwise leave a call waiting for TCP's own timeouts, many minutes: give up
        // after 10 s of unacknowledged data, or about 25 s of silence while waiting.
        {"tcp_user_timeout", "10000"},
        {"keepalives_idle", "10"},
        {"keepalives_interval", "5"},
        {"keepalives_count", "3"},
    };
    std::map<std::string, std::string> all = defaults;
    for (const auto& [keyword, value] : given) {
        all[keyword] = value;
    }

    PostgresUrl parsed;
    for (const auto& [keyword, value] : all) {
        parsed.conninfo += (parsed.conninfo.empty() ? "" : " ") + keyword + "=" + Quoted(value);
    }
    const auto value_of = [&given](const char* keyword) {
        const auto found = given.find(keyword);
        return found == given.end() ? std::string() : found->second;
    };
    const std::string user = value_of("user");
    const std::string port = value_of("port");
    parsed.display = "postgresql://" + (user.empty() ? "" : user + "@") + value_of("host") +
                     (port.empty() ? "" : ":" + port) + "/" + value_of("dbname");
    return parsed;
}

}  // namespace video2mp3::adapters
