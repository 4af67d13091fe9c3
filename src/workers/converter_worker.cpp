#include "workers/converter_worker.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <thread>
#include <vector>

#include "video2mp3/ports/errors.h"
#include "workers/job_message.h"

namespace video2mp3::workers {

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Copies a finished MP3 from the scratch folder into the blob store under the job's id.
BlobInfo StoreMp3(BlobStore& blobs, const Job& job, const std::filesystem::path& path) {
    std::filesystem::path name = job.filename.empty() ? "audio" : job.filename;
    name.replace_extension(".mp3");
    auto writer = blobs.Create(kMp3Bucket, job.id, name.filename().string(), "audio/mpeg");

    std::ifstream file(path, std::ios::binary);
    std::vector<char> buffer(256 * 1024);
    while (file) {
        file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto got = static_cast<std::size_t>(file.gcount());
        if (got > 0) {
            writer->Write(std::span(reinterpret_cast<const std::byte*>(buffer.data()), got));
        }
    }
    if (file.bad()) {
        throw StorageError("cannot read the converted MP3 at " + path.string());
    }
    return writer->Commit();
}

}  // namespace

ConverterWorker::ConverterWorker(ConverterConfig config, JobQueue& queue, JobStore& jobs,
                                 BlobStore& blobs)
    : config_(std::move(config)), queue_(queue), jobs_(jobs), blobs_(blobs) {}

void ConverterWorker::Run(std::stop_token stop) {
    while (!stop.stop_requested()) {
        try {
            const auto delivery = queue_.Take(kVideoQueue, config_.poll);
            if (delivery) {
                Handle(*delivery, stop);
            }
        } catch (const std::exception& error) {
            // The queue itself is in trouble; wait a little rather than spin.
            spdlog::error("converter: {}", error.what());
            std::this_thread::sleep_for(config_.poll);
        }
    }
}

void ConverterWorker::Handle(const Delivery& delivery, std::stop_token stop) {
    const auto message = JobMessage::Parse(delivery.body);
    if (!message) {
        spdlog::error("converter: malformed message {}, dead-lettered", delivery.message_id);
        queue_.DeadLetter(delivery, "malformed message");
        return;
    }

    const std::optional<Job> job = jobs_.Get(message->job_id);
    if (!job) {
        spdlog::info("converter: job {} no longer exists, dropping its message", message->job_id);
        queue_.Ack(delivery);
        return;
    }
    if (job->status == JobStatus::kDone || job->status == JobStatus::kFailed) {
        // A redelivery after a crash between finishing and acking: the result is stored, but
        // its announcement may not have gone out. The notifier ignores duplicates.
        if (!job->notified) {
            Announce(*job);
        }
        queue_.Ack(delivery);
        return;
    }
    if (delivery.attempt > config_.max_attempts) {
        // Delivered again and again without ever being acked or retried: the conversion
        // keeps killing its worker. Stop the loop here.
        FailJob(*job, "the conversion failed repeatedly and was stopped", 0);
        queue_.DeadLetter(delivery, "delivered " + std::to_string(delivery.attempt) + " times");
        return;
    }
    if (!jobs_.Claim(job->id)) {
        queue_.Ack(delivery);
        return;
    }
    if (delivery.attempt > 1) {
        spdlog::warn("converter: job {} delivered again (attempt {})", job->id, delivery.attempt);
    }

    const auto started = Clock::now();
    const auto scratch = config_.scratch_dir / (job->id + ".mp3");
    try {
        auto source = blobs_.Open(kVideoBucket, job->video_fid);
        if (!source) {
            FailJob(*job, "the uploaded file is missing from storage", SecondsSince(started));
            queue_.Ack(delivery);
            return;
        }

        int last_percent = -1;
        auto last_keep_alive = Clock::now();
        media::ConvertReport report;
        media::Convert(
            *source, scratch, config_.options, report,
            [&](double percent) {
                const int whole = static_cast<int>(percent);
                if (whole >= last_percent + 5 || whole == 100) {
                    last_percent = whole;
                    jobs_.SetProgress(job->id, whole);
                }
                if (Clock::now() - last_keep_alive > std::chrono::seconds(5)) {
                    last_keep_alive = Clock::now();
                    queue_.KeepAlive(delivery);
                }
            },
            stop);

        const BlobInfo mp3 = StoreMp3(blobs_, *job, scratch);
        std::filesystem::remove(scratch);
        const double seconds = SecondsSince(started);
        if (jobs_.Finish(job->id, mp3.id, mp3.size, report.output_duration_s, seconds)) {
            Job done = *job;
            done.status = JobStatus::kDone;
            done.mp3_fid = mp3.id;
            Announce(done);
        } else {
            // Deleted (or finished elsewhere) while converting: keep no orphan MP3.
            if (!jobs_.Get(job->id)) {
                blobs_.Remove(kMp3Bucket, mp3.id);
            }
        }
        queue_.Ack(delivery);
        spdlog::info(
            "converter: job {} done: {} bytes of video -> {} bytes of MP3, {:.1f} s of "
            "audio in {:.2f} s",
            job->id, job->video_bytes, mp3.size, report.output_duration_s, seconds);
        if (on_conversion) {
            on_conversion(seconds, true);
        }
    } catch (const media::MediaError& error) {
        std::error_code ignored;
        std::filesystem::remove(scratch, ignored);
        if (error.Kind() == media::MediaErrorKind::kCancelled) {
            spdlog::info("converter: job {} given back on shutdown", job->id);
            queue_.Release(delivery);
            return;
        }
        if (error.Permanent()) {
            FailJob(*job, error.what(), SecondsSince(started));
            queue_.Ack(delivery);
            return;
        }
        RetryOrGiveUp(delivery, *job, error.what(), SecondsSince(started));
    } catch (const std::exception& error) {
        // Storage or queue trouble: worth another try, up to the limit.
        std::error_code ignored;
        std::filesystem::remove(scratch, ignored);
        RetryOrGiveUp(delivery, *job, error.what(), SecondsSince(started));
    }
}

void ConverterWorker::RetryOrGiveUp(const Delivery& delivery, const Job& job,
                                    const std::string& what, double seconds) {
    if (delivery.attempt >= config_.max_attempts) {
        FailJob(job, "gave up after " + std::to_string(delivery.attempt) + " attempts: " + what,
                seconds);
        queue_.DeadLetter(delivery, what);
        return;
    }
    const auto delay = config_.first_retry_delay * (1 << std::min(delivery.attempt - 1, 10));
    spdlog::warn("converter: job {} attempt {} failed ({}), retrying in {} ms", job.id,
                 delivery.attempt, what, delay.count());
    queue_.Retry(delivery, delay);
}

void ConverterWorker::FailJob(const Job& job, const std::string& reason, double seconds) {
    spdlog::error("converter: job {} failed: {}", job.id, reason);
    if (jobs_.Fail(job.id, reason, seconds)) {
        Job failed = job;
        failed.status = JobStatus::kFailed;
        failed.error = reason;
        Announce(failed);
    }
    if (on_conversion) {
        on_conversion(seconds, false);
    }
}

void ConverterWorker::Announce(const Job& job) {
    JobMessage message;
    message.job_id = job.id;
    message.video_fid = job.video_fid;
    message.username = job.owner_email;
    if (job.status == JobStatus::kDone) {
        message.mp3_fid = job.mp3_fid;
    } else {
        message.error = job.error;
    }
    queue_.Publish(kMp3Queue, job.id, message.ToJson());
}

}  // namespace video2mp3::workers
