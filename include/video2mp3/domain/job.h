#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace video2mp3 {

/// Where a conversion job stands. A job only moves forward:
/// queued -> converting -> done | failed (queued may also fail directly).
enum class JobStatus { kQueued, kConverting, kDone, kFailed };

const char* ToString(JobStatus status);
std::optional<JobStatus> ParseJobStatus(const std::string& text);

/// One upload and its conversion, as the job store keeps it.
struct Job {
    std::string id;           ///< random, URL-safe
    std::string owner_id;     ///< User::id of the uploader
    std::string owner_email;  ///< where the notification goes
    JobStatus status = JobStatus::kQueued;
    int progress = 0;      ///< percent, 0..100
    std::string error;     ///< set when failed: a reason a person can read
    std::string filename;  ///< the client's name for the upload, metadata only
    std::string video_fid;
    std::string mp3_fid;  ///< set when done
    std::uint64_t video_bytes = 0;
    std::uint64_t mp3_bytes = 0;
    double duration_s = 0;           ///< the MP3's duration, when done
    double conversion_s = 0;         ///< time spent converting, when done or failed
    std::int64_t created_at_ms = 0;  ///< Unix time in milliseconds
    std::int64_t updated_at_ms = 0;
    bool notified = false;     ///< the owner's e-mail was handed to the mail server
    std::string notify_error;  ///< why the e-mail could not be sent, if it could not
};

}  // namespace video2mp3
