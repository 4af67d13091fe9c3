#pragma once

#include <optional>
#include <string>

namespace video2mp3::workers {

/// The seed's queue message, kept field for field: on `video`
/// {"job_id", "video_fid", "mp3_fid": null, "username"}; on `mp3` the same with `mp3_fid`
/// set, or with "error" when the job failed.
struct JobMessage {
    std::string job_id;
    std::string video_fid;
    std::optional<std::string> mp3_fid;
    std::string username;
    std::optional<std::string> error;

    std::string ToJson() const;

    /// Nothing when the text is not such a message (malformed JSON, missing job_id).
    static std::optional<JobMessage> Parse(const std::string& text);
};

}  // namespace video2mp3::workers
