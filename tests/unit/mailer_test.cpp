#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <vector>

#include "adapters/mail/maildir_mailer.h"
#include "adapters/mail/message_format.h"
#include "adapters/mail/smtp_mailer.h"
#include "support/media_tools.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"

extern char** environ;

namespace video2mp3::adapters {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kPython = "/usr/bin/python3";
constexpr auto kSinkStartTimeout = 5s;

Mail SampleMail(const std::string& to = "listener@example.test") {
    return Mail{"job-" + RandomId() + "@video2mp3", "video2mp3 <noreply@video2mp3.test>", to,
                "Your MP3 is ready", "Hello,\n.your file is ready.\nBye\n"};
}

std::chrono::system_clock::time_point March5th2024() {
    using namespace std::chrono;
    return sys_days{year{2024} / March / 5} + 13h + 4min + 5s;
}

std::string ReadText(const fs::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

/// The value of one header, unfolded lines joined with "\n".
std::string HeaderLines(const std::string& message, const std::string& name) {
    const std::size_t start = message.find("\r\n" + name + ": ");
    if (start == std::string::npos) {
        return "";
    }
    std::string lines;
    std::size_t line_start = start + 2;
    do {
        const std::size_t line_end = message.find("\r\n", line_start);
        lines += message.substr(line_start, line_end - line_start) + "\n";
        line_start = line_end + 2;
    } while (message[line_start] == ' ' || message[line_start] == '\t');
    return lines;
}

std::string DecodeBase64(const std::string& text) {
    std::string bytes(text.size(), '\0');
    std::size_t length = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(),
                          text.c_str(), text.size(), nullptr, &length, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        ADD_FAILURE() << "bad base64: " << text;
    }
    bytes.resize(length);
    return bytes;
}

// ---------------------------------------------------------------------------------------
// FormatMessage

TEST(FormatMessage, WritesTheHeadersAndBodyWithCrlf) {
    const Mail mail{"job-1@video2mp3", "video2mp3 <noreply@video2mp3.test>",
                    "listener@example.test", "Your MP3 is ready",
                    "Hello,\n.a line starting with a dot\r\nBye"};

    const std::string message = FormatMessage(mail, March5th2024());

    EXPECT_EQ(message,
              "Date: Tue, 05 Mar 2024 13:04:05 +0000\r\n"
              "From: video2mp3 <noreply@video2mp3.test>\r\n"
              "To: listener@example.test\r\n"
              "Subject: Your MP3 is ready\r\n"
              "Message-ID: <job-1@video2mp3>\r\n"
              "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=UTF-8\r\n"
              "Content-Transfer-Encoding: 8bit\r\n"
              "\r\n"
              "Hello,\r\n"
              ".a line starting with a dot\r\n"
              "Bye\r\n");
}

TEST(FormatMessage, EveryLineEndsInCrlf) {
    Mail mail = SampleMail();
    mail.body = "a\nb\r\nc\rd\n\n.e";

    const std::string message = FormatMessage(mail, March5th2024());

    for (std::size_t i = 0; i < message.size(); ++i) {
        if (message[i] == '\n') {
            ASSERT_TRUE(i > 0 && message[i - 1] == '\r') << "bare LF at " << i;
        }
        if (message[i] == '\r') {
            ASSERT_TRUE(i + 1 < message.size() && message[i + 1] == '\n') << "bare CR at " << i;
        }
    }
    EXPECT_TRUE(message.ends_with("\r\n\r\na\r\nb\r\nc\r\nd\r\n\r\n.e\r\n"));
}

TEST(FormatMessage, DateIsUtcWithTheRightWeekday) {
    using namespace std::chrono;
    const auto new_year = sys_days{year{2000} / January / 1} + 999ms;
    const auto leap_day = sys_days{year{2028} / February / 29} + 23h + 59min + 59s;

    EXPECT_NE(FormatMessage(SampleMail(), new_year).find("Date: Sat, 01 Jan 2000 00:00:00 +0000"),
              std::string::npos);
    EXPECT_NE(FormatMessage(SampleMail(), leap_day).find("Date: Tue, 29 Feb 2028 23:59:59 +0000"),
              std::string::npos);
}

TEST(FormatMessage, NonAsciiSubjectIsEncodedAndDecodesBack) {
    const std::vector<std::string> subjects = {
        "Grüße",
        "Ihr MP3 ist fertig: Grüße aus Köln — 日本語のタイトルも大丈夫です。これは長い件名です",
        std::string(200, 'a'),  // too long for one line: encoded so it can be folded
        "looks =?like?= an encoded word",
    };
    for (const std::string& subject : subjects) {
        SCOPED_TRACE(subject);
        Mail mail = SampleMail();
        mail.subject = subject;

        const std::string lines = HeaderLines(FormatMessage(mail, March5th2024()), "Subject");

        ASSERT_TRUE(lines.starts_with("Subject: =?UTF-8?B?")) << lines;
        std::string decoded;
        std::istringstream stream(lines.substr(std::string("Subject:").size()));
        std::string word;
        const std::regex encoded_word(R"(=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=)");
        while (stream >> word) {
            std::smatch match;
            ASSERT_TRUE(std::regex_match(word, match, encoded_word)) << word;
            EXPECT_LE(word.size(), 75u);
            const std::string piece = DecodeBase64(match[1]);
            ASSERT_FALSE(piece.empty());
            EXPECT_NE(static_cast<unsigned char>(piece[0]) & 0xC0, 0x80) << "split a character";
            decoded += piece;
        }
        EXPECT_EQ(decoded, subject);
        std::istringstream line_stream(lines);
        for (std::string line; std::getline(line_stream, line);) {
            EXPECT_LE(line.size(), 76u) << line;
        }
    }
}

TEST(FormatMessage, NonAsciiSenderNameIsEncodedAndTheAddressKept) {
    Mail mail = SampleMail();
    mail.from = "\"Évil Çorp\" <noreply@video2mp3.test>";
    const std::string line = HeaderLines(FormatMessage(mail, March5th2024()), "From");
    std::smatch match;
    ASSERT_TRUE(std::regex_search(
        line, match,
        std::regex(R"(^From: =\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?= <noreply@video2mp3\.test>)")))
        << line;
    EXPECT_EQ(DecodeBase64(match[1]), "Évil Çorp");

    mail.from = "video2mp3 <noreply@video2mp3.test>";
    EXPECT_EQ(HeaderLines(FormatMessage(mail, March5th2024()), "From"),
              "From: video2mp3 <noreply@video2mp3.test>\n");
}

TEST(FormatMessage, RefusesHeaderInjection) {
    for (const std::string& evil :
         {std::string("x\r\nBcc: victim@example.test"), std::string("x\nBcc: victim@example.test"),
          std::string("x\rBcc: victim@example.test"), std::string("x\0Bcc", 5)}) {
        for (std::string Mail::*field :
             {&Mail::from, &Mail::to, &Mail::subject, &Mail::message_id}) {
            Mail mail = SampleMail();
            mail.*field = evil;
            EXPECT_THROW(FormatMessage(mail, March5th2024()), std::invalid_argument);
        }
    }
    Mail no_recipient = SampleMail();
    no_recipient.to.clear();
    EXPECT_THROW(FormatMessage(no_recipient, March5th2024()), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------
// MaildirMailer

TEST(MaildirMailer, DeliversIntoNewAndLeavesTmpEmpty) {
    testing::TempDir dir;
    MaildirMailer mailer(dir / "Maildir");
    const Mail first = SampleMail();
    const Mail second = SampleMail();

    mailer.Send(first);
    mailer.Send(second);

    EXPECT_TRUE(fs::is_directory(dir / "Maildir" / "cur"));
    EXPECT_TRUE(fs::is_empty(dir / "Maildir" / "tmp"));
    std::vector<fs::path> delivered;
    for (const auto& entry : fs::directory_iterator(dir / "Maildir" / "new")) {
        delivered.push_back(entry.path());
    }
    ASSERT_EQ(delivered.size(), 2u);
    std::string both;
    for (const fs::path& path : delivered) {
        EXPECT_EQ(path.filename().string().find(':'), std::string::npos);
        both += ReadText(path);
    }
    EXPECT_NE(both.find("\r\nMessage-ID: <" + first.message_id + ">\r\n"), std::string::npos);
    EXPECT_NE(both.find("\r\nMessage-ID: <" + second.message_id + ">\r\n"), std::string::npos);
    EXPECT_NE(both.find("\r\nTo: listener@example.test\r\n"), std::string::npos);
}

TEST(MaildirMailer, IoFailureIsTransient) {
    testing::TempDir dir;
    MaildirMailer mailer(dir / "Maildir");
    fs::remove_all(dir / "Maildir");

    try {
        mailer.Send(SampleMail());
        FAIL() << "delivered into a missing Maildir";
    } catch (const MailError& error) {
        EXPECT_TRUE(error.Transient());
        EXPECT_NE(std::string(error.what()).find("No such file or directory"), std::string::npos)
            << error.what();
    }
}

// ---------------------------------------------------------------------------------------
// SmtpMailer against tests/support/smtp_sink.py

/// A free TCP port on the loopback interface, released before returning.
int ClosedPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    ::close(fd);
    return ntohs(address.sin_port);
}

/// Runs smtp_sink.py as a child. Its stdin is a pipe we hold, so it exits if we die.
class SmtpSink {
 public:
    explicit SmtpSink(const fs::path& dir) : dir_(dir) {
        int stdin_pipe[2];
        int stdout_pipe[2];
        if (::pipe2(stdin_pipe, O_CLOEXEC) != 0 || ::pipe2(stdout_pipe, O_CLOEXEC) != 0) {
            error_ = "pipe failed";
            return;
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, stdin_pipe[0], 0);
        posix_spawn_file_actions_adddup2(&actions, stdout_pipe[1], 1);

        const std::string script =
            std::string(VIDEO2MP3_SOURCE_DIR) + "/tests/support/smtp_sink.py";
        std::vector<std::string> argv = {
            kPython, script, "--port", "0", "--dir", dir_.string(), "--exit-on-stdin-eof"};
        std::vector<char*> args;
        for (std::string& arg : argv) {
            args.push_back(arg.data());
        }
        args.push_back(nullptr);
        const int spawned = posix_spawn(&pid_, kPython, &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(stdin_pipe[0]);
        ::close(stdout_pipe[1]);
        stdin_ = stdin_pipe[1];
        stdout_ = stdout_pipe[0];
        if (spawned != 0) {
            pid_ = -1;
            error_ = std::string("cannot start ") + kPython + ": " + std::strerror(spawned);
            return;
        }

        port_ = ReadPort();
    }

    ~SmtpSink() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        ::close(stdin_);
        ::close(stdout_);
    }

    SmtpSink(const SmtpSink&) = delete;
    SmtpSink& operator=(const SmtpSink&) = delete;

    int Port() const { return port_; }
    const std::string& Error() const { return error_; }

    /// The saved message holding `message_id`, or "".
    std::string FindMessage(const std::string& message_id) const {
        for (const auto& entry : fs::directory_iterator(dir_)) {
            const std::string text = ReadText(entry.path());
            if (entry.path().extension() == ".eml" &&
                text.find("<" + message_id + ">") != std::string::npos) {
                return text;
            }
        }
        return "";
    }

    std::size_t MessageCount() const {
        std::size_t count = 0;
        for (const auto& entry : fs::directory_iterator(dir_)) {
            count += entry.path().extension() == ".eml" ? 1 : 0;
        }
        return count;
    }

 private:
    int ReadPort() {
        std::string line;
        const auto deadline = std::chrono::steady_clock::now() + kSinkStartTimeout;
        while (line.find('\n') == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd fd{stdout_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) <= 0) {
                error_ = "smtp_sink.py did not say it was listening: " + line;
                return 0;
            }
            char chunk[256];
            const ssize_t got = ::read(stdout_, chunk, sizeof(chunk));
            if (got <= 0) {
                error_ = "smtp_sink.py exited early: " + line;
                return 0;
            }
            line.append(chunk, static_cast<std::size_t>(got));
        }
        int port = 0;
        if (std::sscanf(line.c_str(), "listening %d", &port) != 1) {
            error_ = "unexpected first line from smtp_sink.py: " + line;
        }
        return port;
    }

    fs::path dir_;
    pid_t pid_ = -1;
    int stdin_ = -1;
    int stdout_ = -1;
    int port_ = 0;
    std::string error_;
};

bool PythonHasAiosmtpd() {
    static const bool available = testing::Run({kPython, "-c", "import aiosmtpd"}).exit_code == 0;
    return available;
}

class SmtpMailerTest : public ::testing::Test {
 protected:
    static void SetUpTestSuite() {
        if (!PythonHasAiosmtpd()) {
            return;
        }
        dir_ = std::make_unique<testing::TempDir>();
        sink_ = std::make_unique<SmtpSink>(dir_->Path() / "eml");
    }

    static void TearDownTestSuite() {
        sink_.reset();
        dir_.reset();
    }

    void SetUp() override {
        if (!PythonHasAiosmtpd()) {
            GTEST_SKIP() << kPython
                         << " cannot import aiosmtpd: run scripts/install-deps (it installs "
                            "python3-aiosmtpd)";
        }
        ASSERT_NE(sink_->Port(), 0) << sink_->Error();
    }

    static SmtpConfig PlainConfig() {
        SmtpConfig config;
        config.url = "smtp://127.0.0.1:" + std::to_string(sink_->Port());
        config.require_tls = false;
        config.timeout = 5s;
        return config;
    }

    static MailError SendExpectingError(SmtpMailer& mailer, const Mail& mail) {
        try {
            mailer.Send(mail);
        } catch (const MailError& error) {
            return error;
        }
        ADD_FAILURE() << "the mail to " << mail.to << " was accepted";
        return MailError("no error", false);
    }

    static inline std::unique_ptr<testing::TempDir> dir_;
    static inline std::unique_ptr<SmtpSink> sink_;
};

TEST_F(SmtpMailerTest, DeliversTheMessage) {
    SmtpMailer mailer(PlainConfig());
    Mail mail = SampleMail("someone@example.test");
    mail.subject = "Ihr MP3 ist fertig — Grüße";

    mailer.Send(mail);

    const std::string saved = sink_->FindMessage(mail.message_id);
    ASSERT_FALSE(saved.empty()) << "no .eml holds " << mail.message_id;
    EXPECT_NE(saved.find("\r\nTo: someone@example.test\r\n"), std::string::npos) << saved;
    EXPECT_NE(saved.find("\r\nMessage-ID: <" + mail.message_id + ">\r\n"), std::string::npos);
    EXPECT_NE(saved.find("\r\nSubject: =?UTF-8?B?"), std::string::npos) << saved;
    EXPECT_NE(saved.find("\r\n\r\nHello,\r\n.your file is ready.\r\nBye\r\n"), std::string::npos)
        << "the body, a leading dot intact after SMTP transparency: " << saved;
}

TEST_F(SmtpMailerTest, LogsInWhenGivenCredentials) {
    SmtpConfig config = PlainConfig();
    config.username = "video2mp3";
    config.password = "s3cret";
    SmtpMailer mailer(config);
    const Mail mail = SampleMail();

    mailer.Send(mail);

    EXPECT_FALSE(sink_->FindMessage(mail.message_id).empty());
}

TEST_F(SmtpMailerTest, TemporaryRefusalIsTransient) {
    SmtpMailer mailer(PlainConfig());
    const std::size_t before = sink_->MessageCount();

    const MailError error = SendExpectingError(mailer, SampleMail("tempfail-1@example.test"));

    EXPECT_TRUE(error.Transient()) << error.what();
    EXPECT_NE(std::string(error.what()).find("451"), std::string::npos) << error.what();
    EXPECT_EQ(sink_->MessageCount(), before);
}

TEST_F(SmtpMailerTest, PermanentRefusalIsNotTransient) {
    SmtpMailer mailer(PlainConfig());
    const std::size_t before = sink_->MessageCount();

    const MailError error = SendExpectingError(mailer, SampleMail("reject-1@example.test"));

    EXPECT_FALSE(error.Transient()) << error.what();
    EXPECT_NE(std::string(error.what()).find("550"), std::string::npos) << error.what();
    EXPECT_EQ(sink_->MessageCount(), before);
}

TEST_F(SmtpMailerTest, RequiredTlsFailsClosedWithoutStarttls) {
    SmtpConfig config = PlainConfig();
    config.require_tls = true;
    SmtpMailer mailer(config);
    const Mail mail = SampleMail();

    const MailError error = SendExpectingError(mailer, mail);

    EXPECT_NE(std::string(error.what()).find("SSL"), std::string::npos) << error.what();
    EXPECT_TRUE(sink_->FindMessage(mail.message_id).empty()) << "sent in clear text";
}

TEST(SmtpMailer, ClosedPortIsTransient) {
    SmtpConfig config;
    config.url = "smtp://127.0.0.1:" + std::to_string(ClosedPort());
    config.require_tls = false;
    config.timeout = 5s;
    SmtpMailer mailer(config);

    try {
        mailer.Send(SampleMail());
        FAIL() << "sent to a closed port";
    } catch (const MailError& error) {
        EXPECT_TRUE(error.Transient()) << error.what();
        EXPECT_NE(std::string(error.what()).find("curl code 7"), std::string::npos) << error.what();
    }
}

TEST(SmtpMailer, RefusesUrlsThatAreNotSmtp) {
    EXPECT_THROW(SmtpMailer(SmtpConfig{"http://127.0.0.1:25", "", "", false, 5s}),
                 std::invalid_argument);
    EXPECT_THROW(SmtpMailer(SmtpConfig{"127.0.0.1:25", "", "", false, 5s}), std::invalid_argument);
    EXPECT_THROW(SmtpMailer(SmtpConfig{"smtp://127.0.0.1:25", "", "", false, 0s}),
                 std::invalid_argument);
    EXPECT_NO_THROW(SmtpMailer(SmtpConfig{"SMTPS://mail.example.test:465", "", "", true, 5s}));
}

}  // namespace
}  // namespace video2mp3::adapters
