#include "adapters/fs/posix_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace video2mp3::adapters::posix {

void UniqueFd::Reset() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

UniqueFd OpenFile(const std::filesystem::path& path, int flags, mode_t mode) {
    while (true) {
        const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EINTR) {
            return UniqueFd(fd);
        }
    }
}

int WriteAll(int fd, const void* data, std::size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t written = ::write(fd, bytes, size);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        bytes += written;
        size -= static_cast<std::size_t>(written);
    }
    return 0;
}

int SyncDir(const std::filesystem::path& dir) {
    const UniqueFd fd = OpenFile(dir, O_RDONLY | O_DIRECTORY);
    if (fd.Get() < 0) {
        return errno;
    }
    return ::fsync(fd.Get()) == 0 ? 0 : errno;
}

}  // namespace video2mp3::adapters::posix
