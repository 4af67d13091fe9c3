#include "video2mp3/domain/job.h"

namespace video2mp3 {

const char* ToString(JobStatus status) {
    switch (status) {
        case JobStatus::kQueued:
            return "queued";
        case JobStatus::kConverting:
            return "converting";
        case JobStatus::kDone:
            return "done";
        case JobStatus::kFailed:
            return "failed";
    }
    return "unknown";
}

std::optional<JobStatus> ParseJobStatus(const std::string& text) {
    for (JobStatus status :
         {JobStatus::kQueued, JobStatus::kConverting, JobStatus::kDone, JobStatus::kFailed}) {
        if (text == ToString(status)) {
            return status;
        }
    }
    return std::nullopt;
}

}  // namespace video2mp3
