#include "workers/job_message.h"

#include <nlohmann/json.hpp>

namespace video2mp3::workers {

std::string JobMessage::ToJson() const {
    nlohmann::json json = {
        {"job_id", job_id},
        {"video_fid", video_fid},
        {"mp3_fid", mp3_fid ? nlohmann::json(*mp3_fid) : nlohmann::json(nullptr)},
        {"username", username},
    };
    if (error) {
        json["error"] = *error;
    }
    return json.dump();
}

std::optional<JobMessage> JobMessage::Parse(const std::string& text) {
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_object() || !json.contains("job_id") || !json["job_id"].is_string() ||
        json["job_id"].get<std::string>().empty()) {
        return std::nullopt;
    }

    const auto text_or_empty = [&](const char* key) {
        return json.contains(key) && json[key].is_string() ? json[key].get<std::string>()
                                                           : std::string();
    };
    JobMessage message;
    message.job_id = json["job_id"].get<std::string>();
    message.video_fid = text_or_empty("video_fid");
    message.username = text_or_empty("username");
    if (json.contains("mp3_fid") && json["mp3_fid"].is_string()) {
        message.mp3_fid = json["mp3_fid"].get<std::string>();
    }
    if (json.contains("error") && json["error"].is_string()) {
        message.error = json["error"].get<std::string>();
    }
    return message;
}

}  // namespace video2mp3::workers
