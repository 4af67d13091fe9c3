#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "video2mp3/media/byte_source.h"

namespace video2mp3 {

/// Names of the two buckets the service uses.
inline constexpr const char* kVideoBucket = "videos";
inline constexpr const char* kMp3Bucket = "mp3s";

/// What the store knows about one stored file.
struct BlobInfo {
    std::string id;
    std::uint64_t size = 0;
    std::string sha256;    ///< lower-case hex of the content
    std::string filename;  ///< metadata only, never used to name anything
    std::string content_type;
};

/// Streams one new blob into the store. Nothing is visible to readers until Commit();
/// destroying a writer without committing removes what it wrote.
class BlobWriter {
 public:
    virtual ~BlobWriter() = default;

    /// Appends bytes. Throws StorageError.
    virtual void Write(std::span<const std::byte> bytes) = 0;

    /// Makes the blob visible under its id and returns its description. Throws StorageError.
    virtual BlobInfo Commit() = 0;

    /// Bytes written so far.
    virtual std::uint64_t Size() const = 0;
};

/// Port: where video and MP3 bytes live (a data folder, GridFS). Thread-safe.
class BlobStore {
 public:
    virtual ~BlobStore() = default;

    /// Starts a new blob in `bucket`. With an empty `id` the store generates a random one;
    /// with a given id, a committed blob of that id is replaced (so a retried conversion
    /// writes the same MP3 id again). Throws StorageError.
    virtual std::unique_ptr<BlobWriter> Create(const std::string& bucket, const std::string& id,
                                               const std::string& filename,
                                               const std::string& content_type) = 0;

    /// Opens a committed blob for random-access reading, or nullptr when there is none.
    /// Throws StorageError.
    virtual std::unique_ptr<media::ByteSource> Open(const std::string& bucket,
                                                    const std::string& id) = 0;

    /// Describes a committed blob, or nothing when there is none.
    virtual std::optional<BlobInfo> Stat(const std::string& bucket, const std::string& id) = 0;

    /// Removes a blob; true when it existed.
    virtual bool Remove(const std::string& bucket, const std::string& id) = 0;

    /// Removes data left by writers that never committed (a crash mid-upload) and are older
    /// than `grace`. Returns how many were removed.
    virtual int SweepIncomplete(std::chrono::seconds grace) = 0;

    /// True when the store can be used right now (for /readyz).
    virtual bool Ready() = 0;
};

}  // namespace video2mp3
