#include "video2mp3/media/memory_byte_source.h"

#include <algorithm>
#include <cstring>

namespace video2mp3::media {

MemoryByteSource::MemoryByteSource(std::vector<std::byte> bytes, std::string name)
    : bytes_(std::move(bytes)), name_(std::move(name)) {}

std::size_t MemoryByteSource::Read(std::span<std::byte> buffer) {
    if (position_ >= bytes_.size()) {
        return 0;
    }
    const std::size_t count = std::min<std::size_t>(buffer.size(), bytes_.size() - position_);
    std::memcpy(buffer.data(), bytes_.data() + position_, count);
    position_ += count;
    return count;
}

}  // namespace video2mp3::media
