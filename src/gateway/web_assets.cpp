#include "gateway/web_assets.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <regex>
#include <stdexcept>

namespace video2mp3::gateway {

namespace {

bool EndsWith(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

/// A plain (unquoted) scalar under YAML 1.2's core schema.
nlohmann::json PlainScalar(const std::string& text) {
    static const std::regex kNull("null|Null|NULL|~|");
    static const std::regex kTrue("true|True|TRUE");
    static const std::regex kFalse("false|False|FALSE");
    static const std::regex kInteger("[-+]?[0-9]+");
    static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
    if (std::regex_match(text, kNull)) {
        return nullptr;
    }
    if (std::regex_match(text, kTrue)) {
        return true;
    }
    if (std::regex_match(text, kFalse)) {
        return false;
    }
    if (std::regex_match(text, kInteger)) {
        long long value = 0;
        const char* begin = text.data() + (text.front() == '+' ? 1 : 0);
        const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
        if (error == std::errc() && end == text.data() + text.size()) {
            return value;
        }
        return text;  // too large for an integer: kept as written
    }
    if (std::regex_match(text, kFloat)) {
        return std::stod(text);
    }
    return text;
}

nlohmann::json NodeToJson(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map: {
            nlohmann::json object = nlohmann::json::object();
            for (const auto& entry : node) {
                object[entry.first.as<std::string>()] = NodeToJson(entry.second);
            }
            return object;
        }
        case YAML::NodeType::Sequence: {
            nlohmann::json array = nlohmann::json::array();
            for (const auto& item : node) {
                array.push_back(NodeToJson(item));
            }
            return array;
        }
        case YAML::NodeType::Scalar:
            // yaml-cpp tags plain scalars "?" and quoted or block ones "!".
            return node.Tag() == "?" ? PlainScalar(node.Scalar()) : nlohmann::json(node.Scalar());
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            return nullptr;
    }
    return nullptr;
}

}  // namespace

std::optional<WebFile> FindWebFile(std::string_view name) {
    const auto files = EmbeddedWebFiles();
    const auto found = std::find_if(files.begin(), files.end(),
                                    [&](const WebFile& file) { return file.name == name; });
    if (found == files.end()) {
        return std::nullopt;
    }
    return *found;
}

std::string ContentTypeOf(std::string_view name) {
    if (EndsWith(name, ".html")) {
        return "text/html; charset=utf-8";
    }
    if (EndsWith(name, ".js")) {
        return "text/javascript; charset=utf-8";
    }
    if (EndsWith(name, ".css")) {
        return "text/css; charset=utf-8";
    }
    if (EndsWith(name, ".yaml")) {
        return "application/yaml; charset=utf-8";
    }
    if (EndsWith(name, ".svg")) {
        return "image/svg+xml";
    }
    return "application/octet-stream";
}

nlohmann::json YamlToJson(std::string_view yaml) {
    try {
        return NodeToJson(YAML::Load(std::string(yaml)));
    } catch (const YAML::Exception& error) {
        throw std::runtime_error(std::string("not YAML: ") + error.what());
    }
}

const nlohmann::json& OpenApiDocument() {
    static const nlohmann::json document = [] {
        const auto file = FindWebFile("openapi.yaml");
        if (!file) {
            throw std::logic_error("openapi.yaml is not embedded in this build");
        }
        return YamlToJson(file->content);
    }();
    return document;
}

}  // namespace video2mp3::gateway
