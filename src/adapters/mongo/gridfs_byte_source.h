#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "adapters/mongo/gridfs_bucket.h"
#include "video2mp3/media/byte_source.h"

namespace video2mp3::adapters {

/// Random-access reading of one GridFS file, for the converter (which seeks, e.g. to an MP4
/// index at the end) and for HTTP Range downloads.
///
/// A read at an offset works out its chunk (offset / chunkSize) and fetches a run of
/// chunks with one find on `n`, sorted by n, keeping that run as its window. After a seek
/// the run is short; each sequential fetch doubles it, up to 16 chunks or 4 MiB, which
/// bounds both memory and reply size. Every chunk is checked as the specification asks: n
/// runs in order with none missing, and each chunk has chunkSize bytes (the last one the
/// remainder). Anything else, or a store failure, is a media::ByteSourceError naming the
/// file and the reason.
///
/// The size is the files document's length, read when the file was opened. Used by one
/// thread at a time; holds no connection between reads.
class GridFsByteSource final : public media::ByteSource {
 public:
    static constexpr std::uint64_t kMaxRunChunks = 16;
    static constexpr std::uint64_t kMaxRunBytes = std::uint64_t{4} << 20;

    GridFsByteSource(GridFsBucket bucket, GridFsFile file);

    std::size_t Read(std::span<std::byte> buffer) override;
    void Seek(std::uint64_t offset) override { position_ = offset; }
    std::uint64_t Position() const override { return position_; }
    std::optional<std::uint64_t> Size() const override { return file_.length; }
    std::string Name() const override { return name_; }

 private:
    bool InWindow(std::uint64_t n) const {
        return n >= window_first_ && n - window_first_ < window_.size();
    }
    std::uint64_t ExpectedChunkSize(std::uint64_t n) const;
    void Load(std::uint64_t n);

    GridFsBucket bucket_;
    GridFsFile file_;
    std::string name_;
    std::uint64_t chunk_count_ = 0;
    std::uint64_t max_run_ = 1;
    std::uint64_t position_ = 0;

    std::uint64_t window_first_ = 0;
    std::vector<std::vector<std::byte>> window_;
    std::uint64_t run_ = 0;  // chunks in the last fetch
};

}  // namespace video2mp3::adapters
