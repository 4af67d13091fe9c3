#include "adapters/mail/message_format.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace video2mp3::adapters {

namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kSubjectPrefix = "Subject: ";
constexpr std::size_t kMaxPlainLine = 78;  // RFC 5322 2.1.1
// RFC 2047: a line holding encoded words is at most 76 characters. "=?UTF-8?B?" and "?="
// take 12, so after "Subject: " 52 base64 characters (39 bytes) fit, and after the folding
// space 60 (45 bytes).
constexpr std::size_t kFirstWordBytes = 39;
constexpr std::size_t kNextWordBytes = 45;

constexpr std::array<const char*, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void RequireHeaderSafe(const char* field, const std::string& value) {
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        throw std::invalid_argument(std::string("mail ") + field +
                                    " contains a line break or NUL (header injection refused)");
    }
}

void RequireNonEmpty(const char* field, const std::string& value) {
    if (value.empty()) {
        throw std::invalid_argument(std::string("mail ") + field + " is empty");
    }
}

std::string FormatDate(std::chrono::system_clock::time_point now) {
    const auto seconds = std::chrono::floor<std::chrono::seconds>(now);
    const auto days = std::chrono::floor<std::chrono::days>(seconds);
    const std::chrono::year_month_day date(days);
    const std::chrono::hh_mm_ss time(seconds - days);
    const std::chrono::weekday weekday(days);

    std::array<char, 64> text{};
    std::snprintf(text.data(), text.size(), "%s, %02u %s %04d %02d:%02d:%02d +0000",
                  kDayNames[weekday.c_encoding()], static_cast<unsigned>(date.day()),
                  kMonthNames[static_cast<unsigned>(date.month()) - 1],
                  static_cast<int>(date.year()), static_cast<int>(time.hours().count()),
                  static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()));
    return text.data();
}

bool IsPlainSubject(const std::string& subject) {
    if (kSubjectPrefix.size() + subject.size() > kMaxPlainLine ||
        subject.find("=?") != std::string::npos) {
        return false;
    }
    for (const char c : subject) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte > 0x7e) {
            return false;
        }
    }
    return true;
}

std::string EncodedWord(std::string_view bytes) {
    std::vector<char> base64(
        sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(base64.data(), base64.size(),
                      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    return "=?UTF-8?B?" + std::string(base64.data()) + "?=";
}

bool IsUtf8Continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Splits at character boundaries: RFC 2047 forbids splitting a character across words.
std::string EncodeSubject(const std::string& subject) {
    std::string header;
    std::size_t start = 0;
    while (start < subject.size()) {
        const std::size_t limit = header.empty() ? kFirstWordBytes : kNextWordBytes;
        std::size_t end = std::min(subject.size(), start + limit);
        while (end < subject.size() && end > start + 1 && IsUtf8Continuation(subject[end])) {
            --end;
        }
        if (!header.empty()) {
            header += "\r\n ";
        }
        header += EncodedWord(std::string_view(subject).substr(start, end - start));
        start = end;
    }
    return header;
}

/// `from` with a display name beyond printable ASCII as an RFC 2047 encoded word; anything
/// else (a bare address, a name that cannot be parsed) as it is.
std::string FromHeader(const std::string& from) {
    Mailbox mailbox;
    try {
        mailbox = ParseMailbox(from);
    } catch (const std::invalid_argument&) {
        return from;
    }
    const bool plain =
        std::all_of(mailbox.display_name.begin(), mailbox.display_name.end(), [](char c) {
            const auto byte = static_cast<unsigned char>(c);
            return byte >= 0x20 && byte <= 0x7e;
        });
    if (plain) {
        return from;
    }
    return EncodedWord(mailbox.display_name) + " <" + mailbox.address + ">";
}

// Any of CRLF, LF or a bare CR ends a line; each becomes CRLF, and the body ends with one.
std::string NormalizeBody(const std::string& body) {
    std::string text;
    text.reserve(body.size() + body.size() / 32 + 2);
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (c == '\r') {
            if (i + 1 < body.size() && body[i + 1] == '\n') {
                ++i;
            }
            text += kCrlf;
        } else if (c == '\n') {
            text += kCrlf;
        } else {
            text += c;
        }
    }
    if (!text.empty() && !text.ends_with(kCrlf)) {
        text += kCrlf;
    }
    return text;
}

}  // namespace

Mailbox ParseMailbox(const std::string& text) {
    const auto refuse = [&](const std::string& why) {
        throw std::invalid_argument("'" + text + "' is not a mailbox (" + why + ")");
    };
    if (text.find_first_of("\r\n") != std::string::npos) {
        refuse("it holds a line break");
    }
    Mailbox mailbox;
    mailbox.address = text;
    const auto open = text.find('<');
    if (open != std::string::npos) {
        const auto close = text.find('>', open);
        if (close == std::string::npos) {
            refuse("'<' without '>'");
        }
        if (close + 1 != text.size() || text.find('<', open + 1) != std::string::npos) {
            refuse("one <address>, at the end");
        }
        std::string_view name = std::string_view(text).substr(0, open);
        const auto quotes = std::count(name.begin(), name.end(), '"');
        if (quotes % 2 != 0) {
            refuse("a quote without its pair");
        }
        if (quotes == 0 && name.find_first_of(",;") != std::string_view::npos) {
            refuse("',' or ';' in a name outside quotes");
        }
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
            name.remove_suffix(1);
        }
        if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
            name = name.substr(1, name.size() - 2);
        }
        mailbox.display_name = std::string(name);
        mailbox.address = text.substr(open + 1, close - open - 1);
    }
    const std::string& address = mailbox.address;
    const auto at = address.find('@');
    if (address.empty() || at == 0 || at == std::string::npos || at + 1 == address.size() ||
        address.find('@', at + 1) != std::string::npos ||
        address.find_first_of(" \t<>,;\"()[]\\") != std::string::npos) {
        refuse("no single name@domain address in it");
    }
    return mailbox;
}

std::string FormatMessage(const Mail& mail, std::chrono::system_clock::time_point now) {
    RequireNonEmpty("from", mail.from);
    RequireNonEmpty("to", mail.to);
    RequireNonEmpty("message id", mail.message_id);
    RequireHeaderSafe("from", mail.from);
    RequireHeaderSafe("to", mail.to);
    RequireHeaderSafe("subject", mail.subject);
    RequireHeaderSafe("message id", mail.message_id);

    const std::string subject =
        IsPlainSubject(mail.subject) ? mail.subject : EncodeSubject(mail.subject);

    std::string message;
    message.reserve(512 + mail.body.size());
    message.append("Date: ").append(FormatDate(now)).append(kCrlf);
    message.append("From: ").append(FromHeader(mail.from)).append(kCrlf);
    message.append("To: ").append(mail.to).append(kCrlf);
    message.append(kSubjectPrefix).append(subject).append(kCrlf);
    message.append("Message-ID: <").append(mail.message_id).append(">").append(kCrlf);
    message.append("MIME-Version: 1.0").append(kCrlf);
    message.append("Content-Type: text/plain; charset=UTF-8").append(kCrlf);
    message.append("Content-Transfer-Encoding: 8bit").append(kCrlf);
    message.append(kCrlf);
    message.append(NormalizeBody(mail.body));
    return message;
}

}  // namespace video2mp3::adapters
