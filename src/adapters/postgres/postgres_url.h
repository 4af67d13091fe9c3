#pragma once

#include <chrono>
#include <string>

namespace video2mp3::adapters {

/// A checked PostgreSQL URL, ready for libpq.
struct PostgresUrl {
    /// What libpq is given: the URL's settings as keyword=value pairs, with defaults for
    /// what it does not set:
    /// `connect_timeout`, `application_name=video2mp3`, and TCP keepalives and
    /// `tcp_user_timeout` that notice a vanished server within about half a minute.
    /// Holds the password: never log it.
    std::string conninfo;
    /// The URL without its password or parameters, for logs and error messages.
    std::string display;
};

/// Checks a libpq URL, `postgresql://[user[:password]@][host][:port][,...][/database]
/// [?name=value&...]` (also `postgres://`), with libpq's own parser, and adds
/// `connect_timeout` (seconds) when it sets none. Throws std::invalid_argument, with
/// libpq's reason (which never repeats the password), for another scheme, a malformed URL,
/// a parameter libpq does not know, or a connect_timeout that is not a whole number.
PostgresUrl ParsePostgresUrl(const std::string& url,
                             std::chrono::seconds connect_timeout = std::chrono::seconds(5));

}  // namespace video2mp3::adapters
