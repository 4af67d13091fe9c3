#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

namespace video2mp3::media {

/// Thrown by a ByteSource when the bytes cannot be read (disk, network or store trouble).
/// It says nothing about the media itself, so a caller may retry the whole conversion.
class ByteSourceError : public std::runtime_error {
 public:
    using std::runtime_error::runtime_error;
};

/// Random-access input for the converter: a local file, a blob in the embedded store or a
/// GridFS file. The converter reads through this interface only, so an MP4 whose index sits
/// at the end is read by seeking, never by copying the whole input first.
///
/// A source is used by one thread at a time. Implementations throw ByteSourceError on I/O
/// failure; reaching the end is not an error.
class ByteSource {
 public:
    virtual ~ByteSource() = default;

    /// Copies up to buffer.size() bytes from the current position and advances past them.
    /// Returns the number of bytes copied; 0 means the end of the source.
    virtual std::size_t Read(std::span<std::byte> buffer) = 0;

    /// Moves the read position to an absolute offset. Seeking past the end is allowed;
    /// the next Read then returns 0.
    virtual void Seek(std::uint64_t offset) = 0;

    /// The current read position.
    virtual std::uint64_t Position() const = 0;

    /// Total size in bytes, when the source knows it.
    virtual std::optional<std::uint64_t> Size() const = 0;

    /// A short human-readable name used in messages (a path or a file id).
    virtual std::string Name() const = 0;
};

}  // namespace video2mp3::media
