#pragma once

#include <filesystem>

#include "video2mp3/media/byte_source.h"

namespace video2mp3::media {

/// A ByteSource over a regular file, read with pread(2).
class FileByteSource final : public ByteSource {
 public:
    /// Opens the file for reading; throws ByteSourceError naming the path and the reason.
    explicit FileByteSource(const std::filesystem::path& path);
    ~FileByteSource() override;

    FileByteSource(const FileByteSource&) = delete;
    FileByteSource& operator=(const FileByteSource&) = delete;

    std::size_t Read(std::span<std::byte> buffer) override;
    void Seek(std::uint64_t offset) override { position_ = offset; }
    std::uint64_t Position() const override { return position_; }
    std::optional<std::uint64_t> Size() const override { return size_; }
    std::string Name() const override { return path_.string(); }

 private:
    std::filesystem::path path_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::uint64_t position_ = 0;
};

}  // namespace video2mp3::media
