#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <utility>

namespace video2mp3::adapters::posix {

/// Owns a file descriptor; closes it when destroyed. Move-only.
class UniqueFd {
 public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() { Reset(); }

    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            Reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int Get() const { return fd_; }
    int Release() { return std::exchange(fd_, -1); }
    void Reset();

 private:
    int fd_ = -1;
};

// These report failure as an errno value (0 on success), so that each adapter raises its own
// error type (StorageError, MailError) with its own wording.

/// Opens `path` with O_CLOEXEC added, retrying on EINTR. On failure the descriptor is
/// negative and errno is set.
UniqueFd OpenFile(const std::filesystem::path& path, int flags, mode_t mode = 0);

/// Writes all of `data`, retrying short writes and EINTR.
int WriteAll(int fd, const void* data, std::size_t size);

/// fsyncs a folder, so that a rename into it survives a power cut.
int SyncDir(const std::filesystem::path& dir);

}  // namespace video2mp3::adapters::posix
