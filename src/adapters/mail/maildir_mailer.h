#pragma once

#include <filesystem>

#include "video2mp3/ports/mailer.h"

namespace video2mp3::adapters {

/// Mailer that delivers into a local Maildir (for development, tests and single-machine
/// set-ups where a local agent picks the mail up). Each message is written to
/// tmp/<time>.<pid>_<random>.<host>, synced, then renamed into new/, so a reader never
/// sees half a message. Thread-safe (no shared state).
class MaildirMailer final : public Mailer {
 public:
    /// Creates <maildir>/tmp, new and cur when missing; throws MailError (transient) when
    /// it cannot.
    explicit MaildirMailer(std::filesystem::path maildir);

    /// Throws MailError (transient) on I/O failure, std::invalid_argument for a mail that
    /// FormatMessage refuses.
    void Send(const Mail& mail) override;

    const std::filesystem::path& Maildir() const { return maildir_; }

 private:
    std::filesystem::path maildir_;
};

}  // namespace video2mp3::adapters
