#pragma once

#include <mongoc/mongoc.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "adapters/mongo/gridfs_bucket.h"
#include "adapters/sha256.h"
#include "video2mp3/ports/blob_store.h"

namespace video2mp3::adapters {

/// Streams one file into a GridFS bucket as the specification says: full chunks are
/// inserted as they fill (so memory stays at one chunk, whatever the size), and Commit
/// inserts the last partial chunk and then the files document, which makes the file
/// visible.
///
/// The upload is recorded in `<bucket>.uploads` from the constructor until the files
/// document is written, its `touched` date refreshed at most every kTouchInterval while
/// bytes arrive, so GridFsBlobStore::SweepIncomplete can remove what a crash left behind.
/// When a sweep has taken the upload (it paused longer than the sweep's grace period),
/// Write and Commit throw a non-transient StorageError.
///
/// Destroying an uncommitted writer deletes its chunks and record (best effort, never
/// throws; whatever it cannot delete is left to the sweep). Used by one thread at a time.
class GridFsBlobWriter final : public BlobWriter {
 public:
    /// 255 KiB, the specification's default.
    static constexpr std::uint32_t kChunkSize = 255 * 1024;
    static constexpr std::chrono::seconds kTouchInterval{10};

    /// Records the upload in progress; throws StorageError.
    GridFsBlobWriter(GridFsBucket bucket, const bson_oid_t& id, std::string filename,
                     std::string content_type);
    ~GridFsBlobWriter() override;
    GridFsBlobWriter(const GridFsBlobWriter&) = delete;
    GridFsBlobWriter& operator=(const GridFsBlobWriter&) = delete;

    void Write(std::span<const std::byte> bytes) override;
    BlobInfo Commit() override;
    std::uint64_t Size() const override { return size_; }

 private:
    enum class State { kOpen, kFailed, kCommitting, kCommitted };

    void RequireOpen() const;
    void InsertChunk(std::span<const std::byte> data);
    void TouchIfDue();
    void Touch();
    void Discard() noexcept;

    GridFsBucket bucket_;
    bson_oid_t id_;
    std::string id_hex_;
    std::string filename_;
    std::string content_type_;
    std::vector<std::byte> buffer_;
    Sha256 hash_;
    std::uint64_t size_ = 0;
    std::int64_t next_n_ = 0;
    std::chrono::steady_clock::time_point last_touch_;
    State state_ = State::kOpen;
};

}  // namespace video2mp3::adapters
