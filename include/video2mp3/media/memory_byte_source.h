#pragma once

#include <vector>

#include "video2mp3/media/byte_source.h"

namespace video2mp3::media {

/// A ByteSource over bytes held in memory. Useful for small inputs and for tests.
class MemoryByteSource final : public ByteSource {
 public:
    MemoryByteSource(std::vector<std::byte> bytes, std::string name);

    std::size_t Read(std::span<std::byte> buffer) override;
    void Seek(std::uint64_t offset) override { position_ = offset; }
    std::uint64_t Position() const override { return position_; }
    std::optional<std::uint64_t> Size() const override { return bytes_.size(); }
    std::string Name() const override { return name_; }

 private:
    std::vector<std::byte> bytes_;
    std::string name_;
    std::uint64_t position_ = 0;
};

}  // namespace video2mp3::media
