#include "adapters/mongo/gridfs_blob_store.h"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <utility>

#include "adapters/mongo/gridfs_blob_writer.h"
#include "adapters/mongo/gridfs_bucket.h"
#include "adapters/mongo/gridfs_byte_source.h"
#include "adapters/mongo/mongo_bson.h"
#include "adapters/mongo/mongo_client_pool.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

void RequireBucketName(const std::string& bucket) {
    if (!IsWellFormedId(bucket)) {
        throw std::invalid_argument("GridFS: bucket name must be 1 to 64 of [0-9a-zA-Z_-]");
    }
}

BlobInfo ToBlobInfo(const GridFsFile& file) {
    return BlobInfo{ObjectIdHex(file.id), file.length, file.sha256, file.filename,
                    file.content_type};
}

}  // namespace

GridFsBlobStore::GridFsBlobStore(std::shared_ptr<MongoClientPool> pool) : pool_(std::move(pool)) {
    if (!pool_) {
        throw std::invalid_argument("GridFS: no MongoDB client pool");
    }
}

std::unique_ptr<BlobWriter> GridFsBlobStore::Create(const std::string& bucket,
                                                    const std::string& id,
                                                    const std::string& filename,
                                                    const std::string& content_type) {
    RequireBucketName(bucket);
    const std::string blob_id = id.empty() ? RandomId() : id;
    const std::optional<bson_oid_t> oid = ParseObjectId(blob_id);
    if (!oid) {
        throw StorageError("GridFS: blob id must be 24 lower-case hex characters (an ObjectId)",
                           false);
    }

    const GridFsBucket files = Bucket(bucket);
    EnsureIndexes(files);
    if (!id.empty()) {
        Remove(bucket, id);
    }
    return std::make_unique<GridFsBlobWriter>(files, *oid, filename, content_type);
}

std::unique_ptr<media::ByteSource> GridFsBlobStore::Open(const std::string& bucket,
                                                         const std::string& id) {
    RequireBucketName(bucket);
    const std::optional<bson_oid_t> oid = ParseObjectId(id);
    if (!oid) {
        return nullptr;
    }

    const GridFsBucket files = Bucket(bucket);
    std::optional<GridFsFile> file = files.FindFile(*oid);
    if (!file) {
        return nullptr;
    }
    return std::make_unique<GridFsByteSource>(files, std::move(*file));
}

std::optional<BlobInfo> GridFsBlobStore::Stat(const std::string& bucket, const std::string& id) {
    RequireBucketName(bucket);
    const std::optional<bson_oid_t> oid = ParseObjectId(id);
    if (!oid) {
        return std::nullopt;
    }

    const std::optional<GridFsFile> file = Bucket(bucket).FindFile(*oid);
    if (!file) {
        return std::nullopt;
    }
    return ToBlobInfo(*file);
}

bool GridFsBlobStore::Remove(const std::string& bucket, const std::string& id) {
    RequireBucketName(bucket);
    const std::optional<bson_oid_t> oid = ParseObjectId(id);
    if (!oid) {
        return false;
    }

    // Files document first: from then on no reader finds the file, and a crash before the
    // chunks are gone leaves orphans, never a file with missing chunks.
    const GridFsBucket files = Bucket(bucket);
    const bool existed = files.DeleteFile(*oid);
    files.DeleteChunks(*oid);
    files.DeleteUploadMarker(*oid);
    if (existed) {
        spdlog::debug("gridfs: removed {}/{}", bucket, id);
    }
    return existed;
}

int GridFsBlobStore::SweepIncomplete(std::chrono::seconds grace) {
    if (grace.count() < 0) {
        throw std::invalid_argument("GridFS: sweep grace period is negative");
    }
    const std::int64_t cutoff_ms =
        MongoNowMs() - std::chrono::duration_cast<std::chrono::milliseconds>(grace).count();

    int removed = 0;
    for (const std::string& name : GridFsBucket::BucketsWithUploads(*pool_)) {
        const GridFsBucket bucket = Bucket(name);
        for (const bson_oid_t& id : bucket.FindStaleUploadMarkers(cutoff_ms)) {
            // Claiming first stops the writer, should it be alive after all, from
            // committing while its chunks go.
            if (!bucket.ClaimStaleUploadMarker(id, cutoff_ms)) {
                continue;
            }
            if (bucket.FindFile(id)) {
                bucket.DeleteUploadMarker(id);  // committed; only the record was left
                continue;
            }
            const std::int64_t chunks = bucket.DeleteChunks(id);
            bucket.DeleteUploadMarker(id);
            ++removed;
            spdlog::info("gridfs: swept the abandoned upload {}/{} ({} chunks)", name,
                         ObjectIdHex(id), chunks);
        }
    }
    return removed;
}

bool GridFsBlobStore::Ready() {
    return pool_->Ready();
}

GridFsBucket GridFsBlobStore::Bucket(const std::string& name) const {
    return GridFsBucket(pool_, name);
}

void GridFsBlobStore::EnsureIndexes(const GridFsBucket& bucket) {
    {
        const std::lock_guard lock(indexed_mutex_);
        if (indexed_buckets_.contains(bucket.Name())) {
            return;
        }
    }
    // Outside the lock: a slow server must not hold up writers to buckets already done.
    // Two threads may both create the indexes; createIndexes is idempotent.
    bucket.CreateIndexes();
    const std::lock_guard lock(indexed_mutex_);
    indexed_buckets_.insert(bucket.Name());
}

}  // namespace video2mp3::adapters
