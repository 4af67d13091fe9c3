#include "video2mp3/media/file_byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace video2mp3::media {

namespace {

std::string ErrnoText() {
    return std::strerror(errno);
}

}  // namespace

FileByteSource::FileByteSource(const std::filesystem::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) {
        throw ByteSourceError(path.string() + ": cannot open: " + ErrnoText());
    }

    struct stat info {};
    if (::fstat(fd_, &info) != 0) {
        const std::string reason = ErrnoText();
        ::close(fd_);
        throw ByteSourceError(path.string() + ": cannot stat: " + reason);
    }
    if (!S_ISREG(info.st_mode)) {
        ::close(fd_);
        // Pipes and devices can neither seek nor tell their size.
        throw ByteSourceError(path.string() + (S_ISDIR(info.st_mode)
                                                   ? ": is a directory"
                                                   : ": not a regular file (pipes and devices "
                                                     "cannot be converted)"));
    }
    size_ = static_cast<std::uint64_t>(info.st_size);
}

FileByteSource::~FileByteSource() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

std::size_t FileByteSource::Read(std::span<std::byte> buffer) {
    while (true) {
        const ssize_t got =
            ::pread(fd_, buffer.data(), buffer.size(), static_cast<off_t>(position_));
        if (got >= 0) {
            position_ += static_cast<std::uint64_t>(got);
            return static_cast<std::size_t>(got);
        }
        if (errno != EINTR) {
            throw ByteSourceError(path_.string() + ": read failed: " + ErrnoText());
        }
    }
}

}  // namespace video2mp3::media
