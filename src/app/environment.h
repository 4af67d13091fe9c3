#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>

namespace video2mp3::app {

/// A setting is missing or malformed; the message names the variable or flag.
class ConfigError : public std::runtime_error {
 public:
    using std::runtime_error::runtime_error;
};

/// The value of an environment variable, or of the file named by NAME_FILE (as Kubernetes
/// mounts secrets; one trailing newline is dropped). Nothing when neither is set.
std::optional<std::string> EnvString(const std::string& name);

/// A whole number from the environment, within [min, max]; `fallback` when unset.
std::int64_t EnvInteger(const std::string& name, std::int64_t fallback, std::int64_t min,
                        std::int64_t max);

/// "on"/"off", "true"/"false", "1"/"0", "yes"/"no".
bool EnvBool(const std::string& name, bool fallback);

/// Splits "HOST:PORT"; throws ConfigError naming `what`.
std::pair<std::string, int> ParseListen(const std::string& text, const std::string& what);

/// Checks an e-mail sender such as `video2mp3 <noreply@example.org>` or `noreply@example.org`:
/// one address with something on both sides of its '@', no spaces in it, and no line breaks
/// anywhere. Throws ConfigError naming `variable`.
void RequireMailbox(const std::string& variable, const std::string& value);

/// True for an address that means "every address of this machine" (0.0.0.0, ::).
bool IsWildcardHost(const std::string& host);

/// Writes one line for people and log collectors: `text` as it is, or, when
/// VIDEO2MP3_LOG_FORMAT=json, as a JSON object like the log's own lines (level "info" for
/// standard output, "critical" for standard error), so `kubectl logs` stays parseable.
void PrintLine(std::ostream& out, const std::string& text);

/// Sets spdlog's level from VIDEO2MP3_LOG_LEVEL (default info) and JSON lines when
/// VIDEO2MP3_LOG_FORMAT=json.
void ConfigureLogging(const std::string& default_level = "info");

}  // namespace video2mp3::app
