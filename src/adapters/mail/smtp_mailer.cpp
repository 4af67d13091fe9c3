#include "adapters/mail/smtp_mailer.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "adapters/mail/message_format.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

constexpr std::string_view kSmtpScheme = "smtp://";
constexpr std::string_view kSmtpsScheme = "smtps://";

struct CurlEasyDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};

struct CurlSlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

void InitCurlOnce() {
    static std::once_flag once;
    static CURLcode result = CURLE_OK;
    std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (result != CURLE_OK) {
        throw MailError(std::string("SMTP: curl_global_init failed: ") + curl_easy_strerror(result),
                        false);
    }
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) ==
                      std::tolower(static_cast<unsigned char>(b));
           });
}

/// "Name <addr@host>" -> "<addr@host>"; "addr@host" -> "<addr@host>".
std::string EnvelopeAddress(const std::string& header_value) {
    std::string_view address = header_value;
    const std::size_t open = address.rfind('<');
    if (open != std::string_view::npos) {
        const std::size_t close = address.find('>', open);
        address = address.substr(
            open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1);
    }
    while (!address.empty() && std::isspace(static_cast<unsigned char>(address.front()))) {
        address.remove_prefix(1);
    }
    while (!address.empty() && std::isspace(static_cast<unsigned char>(address.back()))) {
        address.remove_suffix(1);
    }
    if (address.empty()) {
        throw std::invalid_argument("mail address has no addr-spec");
    }
    return "<" + std::string(address) + ">";
}

/// Feeds the formatted message to curl's upload.
struct MessageReader {
    std::string_view text;
    std::size_t offset = 0;
};

std::size_t ReadMessage(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* reader = static_cast<MessageReader*>(user);
    const std::size_t chunk = std::min(size * count, reader->text.size() - reader->offset);
    std::memcpy(buffer, reader->text.data() + reader->offset, chunk);
    reader->offset += chunk;
    return chunk;
}

template <typename Value>
void SetOption(CURL* curl, CURLoption option, Value value) {
    const CURLcode code = curl_easy_setopt(curl, option, value);
    if (code != CURLE_OK) {
        throw MailError(std::string("SMTP: cannot set curl option ") + std::to_string(option) +
                            ": " + curl_easy_strerror(code),
                        false);
    }
}

// Errors that will repeat until someone fixes the configuration. Everything else without a
// reply code (refused connection, timeout, TLS trouble, a dropped link) may pass.
bool IsConfigurationError(CURLcode code) {
    switch (code) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_BAD_FUNCTION_ARGUMENT:
            return true;
        default:
            return false;
    }
}

}  // namespace

SmtpMailer::SmtpMailer(SmtpConfig config) : config_(std::move(config)) {
    if (!StartsWithNoCase(config_.url, kSmtpScheme) &&
        !StartsWithNoCase(config_.url, kSmtpsScheme)) {
        throw std::invalid_argument("SMTP URL must start with smtp:// or smtps://");
    }
    if (config_.timeout.count() <= 0) {
        throw std::invalid_argument("SMTP timeout must be positive");
    }
    InitCurlOnce();
}

void SmtpMailer::Send(const Mail& mail) {
    const std::string message = FormatMessage(mail, std::chrono::system_clock::now());
    const std::string from = EnvelopeAddress(mail.from);
    const CurlSlist recipients(curl_slist_append(nullptr, EnvelopeAddress(mail.to).c_str()));
    const CurlEasy curl(curl_easy_init());
    if (!curl || !recipients) {
        throw MailError("SMTP: cannot allocate a curl handle", true);
    }

    std::array<char, CURL_ERROR_SIZE> error_text{};
    MessageReader reader{message};
    const bool implicit_tls = StartsWithNoCase(config_.url, kSmtpsScheme);
    const long use_ssl =
        implicit_tls || config_.require_tls ? long{CURLUSESSL_ALL} : long{CURLUSESSL_NONE};
    const long timeout = static_cast<long>(config_.timeout.count());

    SetOption(curl.get(), CURLOPT_ERRORBUFFER, error_text.data());
    SetOption(curl.get(), CURLOPT_URL, config_.url.c_str());
    SetOption(curl.get(), CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    SetOption(curl.get(), CURLOPT_NOSIGNAL, 1L);
    SetOption(curl.get(), CURLOPT_USE_SSL, use_ssl);
    SetOption(curl.get(), CURLOPT_CONNECTTIMEOUT, timeout);
    SetOption(curl.get(), CURLOPT_TIMEOUT, timeout);
    if (!config_.username.empty()) {
        SetOption(curl.get(), CURLOPT_USERNAME, config_.username.c_str());
        SetOption(curl.get(), CURLOPT_PASSWORD, config_.password.c_str());
    }
    SetOption(curl.get(), CURLOPT_MAIL_FROM, from.c_str());
    SetOption(curl.get(), CURLOPT_MAIL_RCPT, recipients.get());
    SetOption(curl.get(), CURLOPT_UPLOAD, 1L);
    SetOption(curl.get(), CURLOPT_READFUNCTION, &ReadMessage);
    SetOption(curl.get(), CURLOPT_READDATA, &reader);
    SetOption(curl.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));

    const CURLcode code = curl_easy_perform(curl.get());
    if (code == CURLE_OK) {
        return;
    }

    long reply = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &reply);
    bool transient = !IsConfigurationError(code);
    if (reply >= 400 && reply < 500) {
        transient = true;
    } else if (reply >= 500 && reply < 600) {
        transient = false;
    }

    std::string what = std::string("SMTP delivery failed: ") + curl_easy_strerror(code) +
                       " (curl code " + std::to_string(code);
    if (reply != 0) {
        what += ", server reply " + std::to_string(reply);
    }
    what += ")";
    if (error_text[0] != '\0') {
        what += ": ";
        what += error_text.data();
    }
    throw MailError(what, transient);
}

}  // namespace video2mp3::adapters
