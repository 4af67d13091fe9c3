#include "app/environment.h"

#include <fmt/chrono.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "adapters/mail/message_format.h"

namespace video2mp3::app {

namespace {

/// `%*` in a log pattern: the message as a JSON string, quotes and escapes included, so a
/// message holding quotes, backslashes or newlines still makes one valid JSON line.
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
    void format(const spdlog::details::log_msg& message, const std::tm&,
                spdlog::memory_buf_t& out) override {
        const std::string text =
            nlohmann::json(std::string(message.payload.data(), message.payload.size()))
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        out.append(text.data(), text.data() + text.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonMessage>();
    }
};

}  // namespace

std::optional<std::string> EnvString(const std::string& name) {
    if (const char* value = std::getenv(name.c_str()); value != nullptr && *value != '\0') {
        return std::string(value);
    }
    const char* file = std::getenv((name + "_FILE").c_str());
    if (file == nullptr || *file == '\0') {
        return std::nullopt;
    }
    std::error_code error;
    if (std::filesystem::is_directory(file, error)) {
        throw ConfigError(name + "_FILE: " + file + " is a folder, not a file");
    }
    std::ifstream stream(file);
    if (!stream) {
        throw ConfigError(name + "_FILE: cannot read " + file);
    }
    std::stringstream content;
    content << stream.rdbuf();
    std::string text = content.str();
    if (!text.empty() && text.back() == '\n') {
        text.pop_back();
    }
    return text;
}

std::int64_t EnvInteger(const std::string& name, std::int64_t fallback, std::int64_t min,
                        std::int64_t max) {
    const auto text = EnvString(name);
    if (!text) {
        return fallback;
    }
    try {
        std::size_t used = 0;
        const long long value = std::stoll(*text, &used);
        if (used == text->size() && value >= min && value <= max) {
            return value;
        }
    } catch (const std::exception&) {
    }
    throw ConfigError(name + ": expected a whole number from " + std::to_string(min) + " to " +
                      std::to_string(max) + ", got '" + *text + "'");
}

bool EnvBool(const std::string& name, bool fallback) {
    auto text = EnvString(name);
    if (!text) {
        return fallback;
    }
    std::transform(text->begin(), text->end(), text->begin(), ::tolower);
    if (*text == "on" || *text == "true" || *text == "1" || *text == "yes") {
        return true;
    }
    if (*text == "off" || *text == "false" || *text == "0" || *text == "no") {
        return false;
    }
    throw ConfigError(name + ": expected on or off, got '" + *text + "'");
}

std::pair<std::string, int> ParseListen(const std::string& text, const std::string& what) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        throw ConfigError(what + ": expected HOST:PORT, got '" + text + "'");
    }
    try {
        std::size_t used = 0;
        const std::string port_text = text.substr(colon + 1);
        const int port = std::stoi(port_text, &used);
        if (used == port_text.size() && port >= 0 && port <= 65535) {
            return {text.substr(0, colon), port};
        }
    } catch (const std::exception&) {
    }
    throw ConfigError(what + ": the port in '" + text + "' must be 0 to 65535");
}

void RequireMailbox(const std::string& variable, const std::string& value) {
    try {
        adapters::ParseMailbox(value);
    } catch (const std::invalid_argument& error) {
        throw ConfigError(variable + ": " + error.what() +
                          "; e.g. 'video2mp3 <noreply@example.org>'");
    }
}

void PrintLine(std::ostream& out, const std::string& text) {
    const char* format = std::getenv("VIDEO2MP3_LOG_FORMAT");
    if (format == nullptr || std::string_view(format) != "json") {
        out << text << std::endl;
        return;
    }
    const auto now = std::chrono::system_clock::now();
    const std::string line = nlohmann::json{
        {"time", fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", fmt::gmtime(now))},
        {"level", &out == &std::cerr ? "critical" : "info"},
        {"logger", "video2mp3"},
        {"message", text}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out << line << std::endl;
}

bool IsWildcardHost(const std::string& host) {
    return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

void ConfigureLogging(const std::string& default_level) {
    const std::string level = EnvString("VIDEO2MP3_LOG_LEVEL").value_or(default_level);
    const auto parsed = spdlog::level::from_str(level);
    if (parsed == spdlog::level::off && level != "off") {
        throw ConfigError(
            "VIDEO2MP3_LOG_LEVEL: expected trace, debug, info, warn, error or off, got '" + level +
            "'");
    }
    spdlog::set_level(parsed);
    const std::string format = EnvString("VIDEO2MP3_LOG_FORMAT").value_or("text");
    if (format != "text" && format != "json") {
        throw ConfigError("VIDEO2MP3_LOG_FORMAT: expected text or json, got '" + format + "'");
    }
    if (format == "json") {
        auto formatter = std::make_unique<spdlog::pattern_formatter>();
        formatter->add_flag<JsonMessage>('*').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%n","message":%*})");
        spdlog::set_formatter(std::move(formatter));
    }
}

}  // namespace video2mp3::app
