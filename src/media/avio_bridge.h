#pragma once

#include <memory>
#include <optional>
#include <string>

#include "media/av_handles.h"
#include "video2mp3/media/byte_source.h"

namespace video2mp3::media {

/// Lets libavformat read a ByteSource: an AVIOContext whose read and seek callbacks call
/// the source. Exceptions never cross into C; the first read failure is kept so the
/// converter can report it instead of FFmpeg's generic I/O error.
class AvioBridge {
 public:
    explicit AvioBridge(ByteSource& source);
    ~AvioBridge();

    AvioBridge(const AvioBridge&) = delete;
    AvioBridge& operator=(const AvioBridge&) = delete;

    AVIOContext* Context() const { return context_; }

    /// The message of the first ByteSourceError the source threw, if any.
    const std::optional<std::string>& ReadFailure() const { return read_failure_; }

    /// Bytes handed to FFmpeg so far (for progress by bytes).
    std::uint64_t Position() const { return source_.Position(); }

 private:
    static int ReadPacket(void* opaque, std::uint8_t* buffer, int size);
    static std::int64_t SeekTo(void* opaque, std::int64_t offset, int whence);

    ByteSource& source_;
    AVIOContext* context_ = nullptr;
    std::optional<std::string> read_failure_;
};

}  // namespace video2mp3::media
