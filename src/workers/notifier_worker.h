#pragma once

#include <chrono>
#include <stop_token>
#include <string>

#include "video2mp3/ports/job_queue.h"
#include "video2mp3/ports/job_store.h"
#include "video2mp3/ports/mailer.h"

namespace video2mp3::workers {

struct NotifierConfig {
    std::string public_url = "http://127.0.0.1:8080";  ///< base of the download link
    std::string mail_from = "video2mp3 <noreply@localhost>";
    int max_attempts = 5;                               ///< for 4xx answers and lost servers
    std::chrono::milliseconds first_retry_delay{2000};  ///< doubled on each attempt
    std::chrono::milliseconds poll{500};
};

/// The notifier role: takes results from the `mp3` queue and e-mails the job's owner once:
/// the download link and the curl command on success, the reason on failure. A job already
/// notified is not e-mailed again; the Message-ID is derived from the job id, so a
/// duplicate that slips through (a crash between the server's 250 and the record) can be
/// recognised by mail clients.
class NotifierWorker {
 public:
    NotifierWorker(NotifierConfig config, JobQueue& queue, JobStore& jobs, Mailer& mailer);

    void Run(std::stop_token stop);
    void Handle(const Delivery& delivery);

    /// The e-mail for a finished job (exposed for tests).
    Mail Compose(const Job& job) const;

 private:
    NotifierConfig config_;
    JobQueue& queue_;
    JobStore& jobs_;
    Mailer& mailer_;
};

}  // namespace video2mp3::workers
