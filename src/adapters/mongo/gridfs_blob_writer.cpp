#include "adapters/mongo/gridfs_blob_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

#include "adapters/mongo/mongo_bson.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

GridFsBlobWriter::GridFsBlobWriter(GridFsBucket bucket, const bson_oid_t& id, std::string filename,
                                   std::string content_type)
    : bucket_(std::move(bucket)),
      id_(id),
      id_hex_(ObjectIdHex(id)),
      filename_(std::move(filename)),
      content_type_(std::move(content_type)) {
    bucket_.InsertUploadMarker(id_, MongoNowMs());
    last_touch_ = std::chrono::steady_clock::now();
    spdlog::debug("gridfs: upload {}/{} started", bucket_.Name(), id_hex_);
}

GridFsBlobWriter::~GridFsBlobWriter() {
    if (state_ != State::kCommitted) {
        Discard();
    }
}

void GridFsBlobWriter::Write(std::span<const std::byte> bytes) {
    RequireOpen();

    try {
        hash_.Update(bytes);
        size_ += bytes.size();

        while (!bytes.empty()) {
            if (buffer_.empty() && bytes.size() >= kChunkSize) {
                InsertChunk(bytes.first(kChunkSize));  // a whole chunk needs no copy
                bytes = bytes.subspan(kChunkSize);
                continue;
            }
            if (buffer_.capacity() < kChunkSize) {
                buffer_.reserve(kChunkSize);
            }
            const std::size_t take =
                std::min<std::size_t>(bytes.size(), kChunkSize - buffer_.size());
            buffer_.insert(buffer_.end(), bytes.begin(), bytes.begin() + static_cast<long>(take));
            bytes = bytes.subspan(take);
            if (buffer_.size() == kChunkSize) {
                InsertChunk(buffer_);
                buffer_.clear();
            }
        }
        TouchIfDue();  // also while a slow upload fills a chunk
    } catch (...) {
        state_ = State::kFailed;
        throw;
    }
}

BlobInfo GridFsBlobWriter::Commit() {
    RequireOpen();

    GridFsFile file;
    try {
        // Refreshing the record right before the last writes keeps a sweep from taking the
        // chunks meanwhile (a sweep only takes records older than its grace period), and
        // stops here if one already has.
        Touch();
        if (!buffer_.empty()) {
            InsertChunk(buffer_);
            buffer_.clear();
            buffer_.shrink_to_fit();
        }

        file.id = id_;
        file.length = size_;
        file.chunk_size = kChunkSize;
        file.upload_date_ms = MongoNowMs();
        file.filename = filename_;
        file.sha256 = hash_.HexDigest();
        file.content_type = content_type_;

        // From here a failure may or may not have written the files document.
        state_ = State::kCommitting;
        bucket_.InsertFile(file);
        state_ = State::kCommitted;
    } catch (...) {
        if (state_ != State::kCommitting) {
            state_ = State::kFailed;
        }
        throw;
    }

    try {
        bucket_.DeleteUploadMarker(id_);
    } catch (const StorageError& error) {
        // The file is complete; a record left behind is removed by the sweep.
        spdlog::warn("gridfs: {}/{} committed, but its upload record stays: {}", bucket_.Name(),
                     id_hex_, error.what());
    }

    spdlog::debug("gridfs: upload {}/{} committed: {} bytes in {} chunks", bucket_.Name(), id_hex_,
                  size_, next_n_);
    return BlobInfo{id_hex_, size_, file.sha256, filename_, content_type_};
}

void GridFsBlobWriter::RequireOpen() const {
    switch (state_) {
        case State::kOpen:
            return;
        case State::kCommitted:
            throw std::logic_error("blob writer: already committed");
        case State::kFailed:
        case State::kCommitting:
            throw StorageError(
                "GridFS: " + bucket_.Name() + "/" + id_hex_ + ": an earlier write failed", false);
    }
}

void GridFsBlobWriter::InsertChunk(std::span<const std::byte> data) {
    if (next_n_ > std::numeric_limits<std::int32_t>::max()) {
        throw StorageError("GridFS: " + bucket_.Name() + "/" + id_hex_ + ": too many chunks",
                           false);
    }
    bucket_.InsertChunk(id_, static_cast<std::int32_t>(next_n_), data);
    ++next_n_;
    TouchIfDue();
}

void GridFsBlobWriter::TouchIfDue() {
    if (std::chrono::steady_clock::now() - last_touch_ >= kTouchInterval) {
        Touch();
    }
}

void GridFsBlobWriter::Touch() {
    if (!bucket_.TouchUploadMarker(id_, MongoNowMs())) {
        throw StorageError("GridFS: " + bucket_.Name() + "/" + id_hex_ +
                               ": the upload was removed as abandoned (no write within the "
                               "sweep's grace period)",
                           false);
    }
    last_touch_ = std::chrono::steady_clock::now();
}

void GridFsBlobWriter::Discard() noexcept {
    try {
        // A commit that failed midway may still have written the files document: then the
        // file is complete and only the record has to go.
        if (state_ == State::kCommitting && bucket_.FindFile(id_)) {
            bucket_.DeleteUploadMarker(id_);
            return;
        }
        // Chunks first: while the record exists, the sweep can still finish the job.
        const std::int64_t removed = bucket_.DeleteChunks(id_);
        bucket_.DeleteUploadMarker(id_);
        spdlog::debug("gridfs: upload {}/{} abandoned, {} chunks removed", bucket_.Name(), id_hex_,
                      removed);
    } catch (const std::exception& error) {
        try {
            spdlog::warn("gridfs: upload {}/{} abandoned; its chunks are left to the sweep: {}",
                         bucket_.Name(), id_hex_, error.what());
        } catch (...) {
        }
    } catch (...) {
    }
}

}  // namespace video2mp3::adapters
