#include "media/avio_bridge.h"

#include <span>

#include "video2mp3/media/media_error.h"

namespace video2mp3::media {

namespace {

// Large enough that a GridFS-backed source sees few calls, small enough to stay cheap.
constexpr int kBufferBytes = 64 * 1024;

}  // namespace

AvioBridge::AvioBridge(ByteSource& source, std::stop_token stop)
    : source_(source), stop_(std::move(stop)) {
    auto* buffer = static_cast<unsigned char*>(av_malloc(kBufferBytes));
    if (buffer == nullptr) {
        throw std::bad_alloc();
    }
    context_ = avio_alloc_context(buffer, kBufferBytes, 0, this, &AvioBridge::ReadPacket, nullptr,
                                  &AvioBridge::SeekTo);
    if (context_ == nullptr) {
        av_free(buffer);
        throw std::bad_alloc();
    }
}

AvioBridge::~AvioBridge() {
    if (context_ != nullptr) {
        av_freep(&context_->buffer);
        avio_context_free(&context_);
    }
}

void AvioBridge::ThrowIfFailed() const {
    if (stop_.stop_requested()) {
        throw MediaError(MediaErrorKind::kCancelled, "cancelled");
    }
    if (read_failure_) {
        throw MediaError(MediaErrorKind::kReadFailed, *read_failure_);
    }
}

int AvioBridge::ReadPacket(void* opaque, std::uint8_t* buffer, int size) {
    auto* self = static_cast<AvioBridge*>(opaque);
    if (self->stop_.stop_requested()) {
        return AVERROR_EXIT;
    }
    try {
        const std::size_t got = self->source_.Read(
            std::span<std::byte>(reinterpret_cast<std::byte*>(buffer), static_cast<size_t>(size)));
        if (got == 0) {
            return AVERROR_EOF;
        }
        return static_cast<int>(got);
    } catch (const std::exception& error) {
        if (!self->read_failure_) {
            self->read_failure_ = error.what();
        }
        return AVERROR(EIO);
    }
}

std::int64_t AvioBridge::SeekTo(void* opaque, std::int64_t offset, int whence) {
    auto* self = static_cast<AvioBridge*>(opaque);
    try {
        const auto size = self->source_.Size();
        switch (whence & ~AVSEEK_FORCE) {
            case AVSEEK_SIZE:
                return size ? static_cast<std::int64_t>(*size) : AVERROR(ENOSYS);
            case SEEK_SET:
                break;
            case SEEK_CUR:
                offset += static_cast<std::int64_t>(self->source_.Position());
                break;
            case SEEK_END:
                if (!size) {
                    return AVERROR(ENOSYS);
                }
                offset += static_cast<std::int64_t>(*size);
                break;
            default:
                return AVERROR(EINVAL);
        }
        if (offset < 0) {
            return AVERROR(EINVAL);
        }
        self->source_.Seek(static_cast<std::uint64_t>(offset));
        return offset;
    } catch (const std::exception& error) {
        if (!self->read_failure_) {
            self->read_failure_ = error.what();
        }
        return AVERROR(EIO);
    }
}

}  // namespace video2mp3::media
