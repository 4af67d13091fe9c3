#include "adapters/mail/maildir_mailer.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "adapters/fs/posix_file.h"
#include "adapters/mail/message_format.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

namespace fs = std::filesystem;

constexpr mode_t kMessageMode = 0600;

[[noreturn]] void ThrowIo(const fs::path& path, const std::string& action, int code) {
    throw MailError("maildir " + path.string() + ": " + action + ": " + std::strerror(code), true);
}

using posix::OpenFile;
using ScopedFd = posix::UniqueFd;

void WriteAll(int fd, const std::string& text, const fs::path& path) {
    if (const int code = posix::WriteAll(fd, text.data(), text.size()); code != 0) {
        ThrowIo(path, "write failed", code);
    }
}

// Maildir forbids '/' and ':' in the host part and spells them as octal escapes.
std::string HostPart() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') {
        return "localhost";
    }
    std::string host;
    for (const char* c = name.data(); *c != '\0'; ++c) {
        if (*c == '/') {
            host += "\\057";
        } else if (*c == ':') {
            host += "\\072";
        } else {
            host += *c;
        }
    }
    return host;
}

std::string UniqueName(std::chrono::system_clock::time_point now) {
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    return std::to_string(seconds) + "." + std::to_string(::getpid()) + "_" + RandomId() + "." +
           HostPart();
}

void SyncDir(const fs::path& dir) {
    if (const int code = posix::SyncDir(dir); code != 0) {
        ThrowIo(dir, "fsync of the folder failed", code);
    }
}

void WriteMessage(const fs::path& path, const std::string& message) {
    ScopedFd fd = OpenFile(path, O_WRONLY | O_CREAT | O_EXCL, kMessageMode);
    if (fd.Get() < 0) {
        ThrowIo(path, "cannot create", errno);
    }

    WriteAll(fd.Get(), message, path);
    if (::fsync(fd.Get()) != 0) {
        ThrowIo(path, "fsync failed", errno);
    }

    // On Linux the descriptor is released even when close reports EINTR.
    if (::close(fd.Release()) != 0 && errno != EINTR) {
        ThrowIo(path, "close failed", errno);
    }
}

}  // namespace

MaildirMailer::MaildirMailer(std::filesystem::path maildir) : maildir_(std::move(maildir)) {
    for (const char* sub : {"tmp", "new", "cur"}) {
        std::error_code error;
        fs::create_directories(maildir_ / sub, error);
        if (error) {
            ThrowIo(maildir_ / sub, "cannot create folder", error.value());
        }
    }
}

void MaildirMailer::Send(const Mail& mail) {
    const auto now = std::chrono::system_clock::now();
    const std::string message = FormatMessage(mail, now);
    const std::string name = UniqueName(now);
    const fs::path tmp_path = maildir_ / "tmp" / name;
    const fs::path new_path = maildir_ / "new" / name;

    try {
        WriteMessage(tmp_path, message);
        if (::rename(tmp_path.c_str(), new_path.c_str()) != 0) {
            ThrowIo(new_path, "cannot move message into new/", errno);
        }
    } catch (...) {
        ::unlink(tmp_path.c_str());
        throw;
    }

    SyncDir(maildir_ / "new");
}

}  // namespace video2mp3::adapters
