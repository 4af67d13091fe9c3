#pragma once

#include <chrono>
#include <string>

#include "video2mp3/ports/mailer.h"

namespace video2mp3::adapters {

struct SmtpConfig {
    std::string url;       ///< smtp://host:port (STARTTLS) or smtps://host:port (TLS at once)
    std::string username;  ///< empty: no AUTH
    std::string password;  ///< never logged or put in error messages
    /// For smtp://, refuse to send unless the server upgrades with STARTTLS. smtps:// is
    /// always TLS. Turn off only for a local test server.
    bool require_tls = true;
    std::chrono::seconds timeout{30};  ///< for the connection and for the whole delivery
};

/// Mailer that hands each message to an SMTP server with libcurl, one connection per Send.
/// MAIL FROM and RCPT TO are the addresses in the Mail's from and to (a "Name <addr>" form
/// is reduced to addr). Thread-safe (no shared state besides curl's global init).
///
/// Send throws MailError: a 4xx reply, a refused or lost connection, a timeout or a TLS
/// failure is transient; a 5xx reply or a malformed URL is not. The message carries
/// curl's text, its code and the server's reply code. A mail that FormatMessage refuses
/// throws std::invalid_argument.
class SmtpMailer final : public Mailer {
 public:
    /// Throws std::invalid_argument when the URL is not smtp:// or smtps:// or the timeout
    /// is not positive, MailError when libcurl cannot be initialised.
    explicit SmtpMailer(SmtpConfig config);

    void Send(const Mail& mail) override;

 private:
    SmtpConfig config_;
};

}  // namespace video2mp3::adapters
