#include "adapters/mongo/gridfs_byte_source.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "adapters/mongo/mongo_bson.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

constexpr std::uint64_t kFirstRunChunks = 2;

}  // namespace

GridFsByteSource::GridFsByteSource(GridFsBucket bucket, GridFsFile file)
    : bucket_(std::move(bucket)), file_(std::move(file)) {
    name_ = "gridfs:" + bucket_.Name() + "/" + ObjectIdHex(file_.id);
    chunk_count_ = (file_.length + file_.chunk_size - 1) / file_.chunk_size;
    max_run_ = std::clamp<std::uint64_t>(kMaxRunBytes / file_.chunk_size, 1, kMaxRunChunks);
}

std::size_t GridFsByteSource::Read(std::span<std::byte> buffer) {
    std::size_t copied = 0;
    while (copied < buffer.size() && position_ < file_.length) {
        const std::uint64_t n = position_ / file_.chunk_size;
        if (!InWindow(n)) {
            try {
                Load(n);
            } catch (const media::ByteSourceError&) {
                if (copied > 0) {
                    return copied;  // the next read fails again, with nothing lost
                }
                throw;
            }
        }

        const std::vector<std::byte>& chunk = window_[n - window_first_];
        const std::uint64_t offset = position_ - n * file_.chunk_size;
        const std::size_t count = static_cast<std::size_t>(
            std::min<std::uint64_t>(buffer.size() - copied, chunk.size() - offset));
        std::memcpy(buffer.data() + copied, chunk.data() + offset, count);
        copied += count;
        position_ += count;
    }
    return copied;
}

std::uint64_t GridFsByteSource::ExpectedChunkSize(std::uint64_t n) const {
    if (n + 1 < chunk_count_) {
        return file_.chunk_size;
    }
    return file_.length - n * file_.chunk_size;
}

void GridFsByteSource::Load(std::uint64_t n) {
    // Reading on from the end of the last run doubles the run; anything else starts short.
    const bool sequential = !window_.empty() && n == window_first_ + window_.size();
    run_ = sequential ? std::min(run_ * 2, max_run_) : std::min(kFirstRunChunks, max_run_);
    const std::uint64_t count = std::min(run_, chunk_count_ - n);

    // A run that ends the file asks for one more chunk, which must not exist.
    const std::uint64_t asked = n + count == chunk_count_ ? count + 1 : count;
    window_.clear();  // before the fetch: at most one run in memory
    window_.shrink_to_fit();
    window_first_ = n;
    std::vector<GridFsChunk> chunks;
    try {
        chunks = bucket_.FindChunks(file_.id, static_cast<std::int64_t>(n),
                                    static_cast<std::int64_t>(asked));
    } catch (const StorageError& error) {
        throw media::ByteSourceError(name_ + ": " + error.what());
    }

    // Keep the chunks that check out up to the first that does not: reading before a bad
    // chunk works, reading it fails with the reason.
    std::string problem;
    for (std::uint64_t i = 0; i < count && problem.empty(); ++i) {
        const std::uint64_t expected_n = n + i;
        const std::string where =
            name_ + ": chunk " + std::to_string(expected_n) + " of " + std::to_string(chunk_count_);
        const std::uint64_t expected_size = ExpectedChunkSize(expected_n);
        if (i >= chunks.size() || chunks[i].n > static_cast<std::int64_t>(expected_n)) {
            problem = where + " is missing";
        } else if (chunks[i].n != static_cast<std::int64_t>(expected_n)) {
            problem = where + " is duplicated or out of order";
        } else if (chunks[i].data.size() != expected_size) {
            problem = where + " has " + std::to_string(chunks[i].data.size()) +
                      " bytes instead of " + std::to_string(expected_size);
        } else {
            window_.push_back(std::move(chunks[i].data));
        }
    }
    if (problem.empty() && chunks.size() > count) {
        problem = name_ + ": more chunks than its length of " + std::to_string(file_.length) +
                  " bytes needs";
        window_.pop_back();  // the end of the file is in doubt
    }
    if (window_.empty()) {
        throw media::ByteSourceError(problem);
    }
}

}  // namespace video2mp3::adapters
