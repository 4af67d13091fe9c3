#pragma once

#include <string>

namespace video2mp3 {

struct Mail {
    std::string message_id;  ///< without angle brackets, e.g. "job-ID@video2mp3"
    std::string from;
    std::string to;
    std::string subject;
    std::string body;  ///< plain text, UTF-8
};

/// Port: hands e-mail to a Maildir or an SMTP server. Thread-safe. Throws MailError
/// (transient or not) when the mail could not be handed over.
class Mailer {
 public:
    virtual ~Mailer() = default;
    virtual void Send(const Mail& mail) = 0;
};

}  // namespace video2mp3
