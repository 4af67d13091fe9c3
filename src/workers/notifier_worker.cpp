#include "workers/notifier_worker.h"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <thread>

#include "video2mp3/ports/errors.h"
#include "workers/job_message.h"

namespace video2mp3::workers {

NotifierWorker::NotifierWorker(NotifierConfig config, JobQueue& queue, JobStore& jobs,
                               Mailer& mailer)
    : config_(std::move(config)), queue_(queue), jobs_(jobs), mailer_(mailer) {
    while (!config_.public_url.empty() && config_.public_url.back() == '/') {
        config_.public_url.pop_back();
    }
}

void NotifierWorker::Run(std::stop_token stop) {
    while (!stop.stop_requested()) {
        try {
            const auto delivery = queue_.Take(kMp3Queue, config_.poll);
            if (delivery) {
                Handle(*delivery);
            }
        } catch (const std::exception& error) {
            spdlog::error("notifier: {}", error.what());
            std::this_thread::sleep_for(config_.poll);
        }
    }
}

Mail NotifierWorker::Compose(const Job& job) const {
    Mail mail;
    mail.message_id = "job-" + job.id + "@video2mp3";
    mail.from = config_.mail_from;
    mail.to = job.owner_email;
    const std::string name = job.filename.empty() ? "your upload" : job.filename;

    if (job.status == JobStatus::kDone) {
        const std::string link = config_.public_url + "/download?fid=" + job.mp3_fid;
        mail.subject = "Your MP3 is ready: " + name;
        mail.body = "Hello,\n\nthe MP3 of " + name + " is ready.\n\n" + "Job id:   " + job.id +
                    "\n" + "MP3 file id: " + job.mp3_fid + "\n" + "Download: " + link + "\n\n" +
                    "From a terminal, with the token that `POST /login` gives you:\n\n" +
                    "  curl --output song.mp3 -H 'Authorization: Bearer TOKEN' '" + link +
                    "'\n\n-- video2mp3\n";
    } else {
        mail.subject = "We could not convert " + name;
        mail.body = "Hello,\n\nwe could not turn " + name + " into an MP3.\n\n" +
                    "Reason: " + (job.error.empty() ? "unknown" : job.error) + "\n" +
                    "Job id: " + job.id + "\n\n" +
                    "If the file plays with sound on your computer, please send it again "
                    "or try another copy of it.\n\n"
                    "-- video2mp3\n";
    }
    return mail;
}

void NotifierWorker::Handle(const Delivery& delivery) {
    const auto message = JobMessage::Parse(delivery.body);
    if (!message) {
        spdlog::error("notifier: malformed message {}, dead-lettered", delivery.message_id);
        queue_.DeadLetter(delivery, "malformed message");
        return;
    }

    const std::optional<Job> job = jobs_.Get(message->job_id);
    if (!job || job->notified ||
        (job->status != JobStatus::kDone && job->status != JobStatus::kFailed)) {
        queue_.Ack(delivery);  // deleted, already e-mailed, or not finished: nothing to say
        return;
    }

    if (delivery.attempt > config_.max_attempts) {
        jobs_.MarkNotified(job->id, "gave up after repeated failures");
        queue_.DeadLetter(delivery, "delivered " + std::to_string(delivery.attempt) + " times");
        return;
    }

    try {
        mailer_.Send(Compose(*job));
        jobs_.MarkNotified(job->id, "");
        queue_.Ack(delivery);
        spdlog::info("notifier: job {} e-mailed ({})", job->id, ToString(job->status));
    } catch (const MailError& error) {
        if (!error.Transient() || delivery.attempt >= config_.max_attempts) {
            spdlog::error("notifier: job {} e-mail failed for good: {}", job->id, error.what());
            jobs_.MarkNotified(job->id, error.what());
            if (error.Transient()) {
                queue_.DeadLetter(delivery, error.what());
            } else {
                queue_.Ack(delivery);
            }
            return;
        }
        const auto delay = config_.first_retry_delay * (1 << std::min(delivery.attempt - 1, 10));
        spdlog::warn("notifier: job {} e-mail attempt {} failed ({}), retrying in {} ms", job->id,
                     delivery.attempt, error.what(), delay.count());
        queue_.Retry(delivery, delay);
    } catch (const std::invalid_argument& error) {
        // The address cannot be used in a mail header at all: no retry can help.
        spdlog::error("notifier: job {} cannot be e-mailed: {}", job->id, error.what());
        jobs_.MarkNotified(job->id, error.what());
        queue_.Ack(delivery);
    }
}

}  // namespace video2mp3::workers
