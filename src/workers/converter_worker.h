#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <stop_token>

#include "video2mp3/media/converter.h"
#include "video2mp3/ports/blob_store.h"
#include "video2mp3/ports/job_queue.h"
#include "video2mp3/ports/job_store.h"

namespace video2mp3::workers {

struct ConverterConfig {
    media::ConvertOptions options;
    std::filesystem::path scratch_dir;  ///< where MP3s are written before they are stored
    int max_attempts = 5;               ///< for failures a retry may fix (storage trouble)
    std::chrono::milliseconds first_retry_delay{1000};  ///< doubled on each attempt
    std::chrono::milliseconds poll{500};                ///< how long one Take waits
};

/// The converter role: takes jobs from the `video` queue, converts the stored video,
/// stores the MP3 under the job's id, marks the job done (or failed, with a reason a person
/// can read) and announces the result on the `mp3` queue. Acks only after the result is
/// durable, so a crash at any point means a redelivery, never a lost job; and a redelivered
/// message for a finished job converts nothing again.
///
/// One instance per worker thread; instances share the ports, which are thread-safe.
class ConverterWorker {
 public:
    ConverterWorker(ConverterConfig config, JobQueue& queue, JobStore& jobs, BlobStore& blobs);

    /// Handles messages until `stop` is requested. A conversion in progress when the stop
    /// comes is abandoned and its message given back for another worker.
    void Run(std::stop_token stop);

    /// Handles one delivery (exposed for tests).
    void Handle(const Delivery& delivery, std::stop_token stop);

    /// Called after each finished conversion with its duration in seconds (for metrics).
    std::function<void(double seconds, bool succeeded)> on_conversion;

 private:
    void Announce(const Job& job);
    void FailJob(const Job& job, const std::string& reason, double seconds);
    void RetryOrGiveUp(const Delivery& delivery, const Job& job, const std::string& what,
                       double seconds);

    ConverterConfig config_;
    JobQueue& queue_;
    JobStore& jobs_;
    BlobStore& blobs_;
};

}  // namespace video2mp3::workers
