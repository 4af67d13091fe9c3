#pragma once

#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "media/av_handles.h"
#include "video2mp3/media/byte_source.h"

namespace video2mp3::media {

/// Lets libavformat read a ByteSource: an AVIOContext whose read and seek callbacks call
/// the source. Exceptions never cross into C; the first read failure is kept so the
/// converter can report it instead of FFmpeg's generic I/O error.
class AvioBridge {
 public:
    AvioBridge(ByteSource& source, std::stop_token stop);
    ~AvioBridge();

    AvioBridge(const AvioBridge&) = delete;
    AvioBridge& operator=(const AvioBridge&) = delete;

    AVIOContext* Context() const { return context_; }

    /// Throws MediaError kCancelled when a stop was requested, kReadFailed (with the
    /// source's message) when the source failed; returns otherwise.
    void ThrowIfFailed() const;

    /// Bytes handed to FFmpeg so far (for progress by bytes).
    std::uint64_t Position() const { return source_.Position(); }

 private:
    static int ReadPacket(void* opaque, std::uint8_t* buffer, int size);
    static std::int64_t SeekTo(void* opaque, std::int64_t offset, int whence);

    ByteSource& source_;
    std::stop_token stop_;
    AVIOContext* context_ = nullptr;
    std::optional<std::string> read_failure_;
};

}  // namespace video2mp3::media
