#pragma once

#include <chrono>
#include <string>

#include "video2mp3/ports/mailer.h"

namespace video2mp3::adapters {

/// One mailbox, `Display Name <name@domain>` or a bare `name@domain`, split into its parts.
struct Mailbox {
    std::string display_name;  ///< without surrounding quotes; "" when there is none
    std::string address;
};

/// Parses a sender such as `video2mp3 <noreply@example.org>`: one address with something on
/// both sides of a single '@' and none of ` \t<>,;"()[]\` in it, the `<address>` (when
/// there is a name) last, balanced quotes in the name, no ',' or ';' outside quotes, no line
/// breaks. Throws std::invalid_argument saying what is wrong.
Mailbox ParseMailbox(const std::string& text);

/// Renders `mail` as an RFC 5322 message with CRLF line endings, ready for a Maildir file or
/// an SMTP DATA phase (dot-stuffing is left to the SMTP client):
///
///   Date (RFC 5322, UTC, from `now`), From, To, Subject, Message-ID: <message_id>,
///   MIME-Version: 1.0, Content-Type: text/plain; charset=UTF-8,
///   Content-Transfer-Encoding: 8bit, a blank line, then the body with every line ending
///   turned into CRLF.
///
/// A subject that is not short printable ASCII becomes RFC 2047 "=?UTF-8?B?...?=" words,
/// folded so no header line exceeds 78 characters; so does a sender's display name beyond
/// printable ASCII. Throws std::invalid_argument when from,
/// to or message_id is empty, or when from, to, subject or message_id contains CR, LF or
/// NUL (header injection).
std::string FormatMessage(const Mail& mail, std::chrono::system_clock::time_point now);

}  // namespace video2mp3::adapters
