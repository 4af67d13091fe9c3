#include "video2mp3/media/report_json.h"

namespace video2mp3::media {

namespace {

nlohmann::json StreamJson(const StreamReport& stream) {
    nlohmann::json json = {
        {"index", stream.index},
        {"type", stream.type},
        {"codec", stream.codec},
        {"default", stream.is_default},
    };
    if (stream.type == "audio") {
        json["sample_rate"] = stream.sample_rate;
        json["channels"] = stream.channels;
        json["channel_layout"] = stream.channel_layout;
        json["decodable"] = stream.has_decoder;
    }
    if (stream.attached_picture) {
        json["attached_picture"] = true;
    }
    if (!stream.language.empty()) {
        json["language"] = stream.language;
    }
    return json;
}

template <typename T>
nlohmann::json OrNull(const std::optional<T>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json ToJson(const ConvertReport& report) {
    nlohmann::json streams = nlohmann::json::array();
    for (const StreamReport& stream : report.streams) {
        streams.push_back(StreamJson(stream));
    }

    nlohmann::json json = {
        {"input",
         {
             {"name", report.input_name},
             {"container", report.container},
             {"bytes", OrNull(report.input_bytes)},
             {"duration_s", OrNull(report.input_duration_s)},
             {"streams", streams},
         }},
        {"chosen_stream",
         report.chosen_stream
             ? StreamJson(report.streams[static_cast<std::size_t>(*report.chosen_stream)])
             : nlohmann::json(nullptr)},
        {"decode_errors", report.decode_errors},
        {"warnings", report.warnings},
    };
    if (!report.output_path.empty()) {
        json["output"] = {
            {"path", report.output_path},
            {"mode", report.mode},
            {"codec", "mp3"},
            {"sample_rate", report.output_sample_rate},
            {"channels", report.output_channels},
            {"duration_s", report.output_duration_s},
            {"bytes", report.output_bytes},
            {"bitrate_kbps", report.output_bitrate_kbps},
        };
    }
    return json;
}

const char* ErrorKindName(MediaErrorKind kind) {
    switch (kind) {
        case MediaErrorKind::kEmptyFile:
            return "empty_file";
        case MediaErrorKind::kNotMedia:
            return "not_media";
        case MediaErrorKind::kNoAudio:
            return "no_audio";
        case MediaErrorKind::kTruncated:
            return "truncated";
        case MediaErrorKind::kUndecodable:
            return "undecodable";
        case MediaErrorKind::kReadFailed:
            return "read_failed";
        case MediaErrorKind::kWriteFailed:
            return "write_failed";
        case MediaErrorKind::kCancelled:
            return "cancelled";
    }
    return "unknown";
}

}  // namespace video2mp3::media
