#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "video2mp3/ports/blob_store.h"

namespace video2mp3::adapters {

class GridFsBucket;
class MongoClientPool;

/// BlobStore over MongoDB GridFS, laid out as the GridFS specification says so that any
/// driver can read what it writes and the other way round. Each bucket ("videos", "mp3s")
/// is the collections `<bucket>.files` and `<bucket>.chunks`; chunks are 255 KiB; the files
/// document ({_id, length, chunkSize, uploadDate, filename, metadata: {sha256,
/// contentType}}) is written last, so readers never see half a file. The indexes the
/// specification requires are created before the first write to a bucket.
///
/// Ids are ObjectIds written as 24 lower-case hex characters (what RandomId() makes). A
/// malformed id names nothing: Open and Stat find nothing, Remove returns false, Create
/// throws a non-transient StorageError. Bucket names must pass IsWellFormedId, else
/// std::invalid_argument.
///
/// Uploads in progress are recorded in `<bucket>.uploads` (see GridFsBlobWriter);
/// SweepIncomplete removes the chunks of those a crash interrupted, and never touches
/// chunks without such a record (orphans of other programs are theirs, as the
/// specification says).
///
/// Thread-safe. Each operation takes a client from the pool for its duration; a server
/// that is down gives a transient StorageError within the pool's server selection timeout,
/// and the same store works again once the server is back. Writers and sources share the
/// pool, so they may outlive the store. One writer per id at a time.
class GridFsBlobStore final : public BlobStore {
 public:
    explicit GridFsBlobStore(std::shared_ptr<MongoClientPool> pool);

    /// With a given id, first removes the blob of that id (files document, then chunks),
    /// so the old blob is gone from this call on.
    std::unique_ptr<BlobWriter> Create(const std::string& bucket, const std::string& id,
                                       const std::string& filename,
                                       const std::string& content_type) override;

    /// A GridFsByteSource, or nullptr when there is no files document.
    std::unique_ptr<media::ByteSource> Open(const std::string& bucket,
                                            const std::string& id) override;

    /// For files other programs wrote, sha256 is empty unless their metadata has one.
    std::optional<BlobInfo> Stat(const std::string& bucket, const std::string& id) override;

    /// Deletes the files document, then the chunks, then any upload record; true when the
    /// files document existed.
    bool Remove(const std::string& bucket, const std::string& id) override;

    /// In every bucket of the database with an uploads collection: removes the chunks and
    /// the record of each upload not touched for `grace` and without a files document.
    /// A live writer touches its record at least every 10 s while bytes arrive, so `grace`
    /// must exceed the longest pause between writes.
    int SweepIncomplete(std::chrono::seconds grace) override;

    /// True when the server answers a ping.
    bool Ready() override;

 private:
    GridFsBucket Bucket(const std::string& name) const;
    void EnsureIndexes(const GridFsBucket& bucket);

    std::shared_ptr<MongoClientPool> pool_;
    std::mutex indexed_mutex_;
    std::set<std::string> indexed_buckets_;
};

}  // namespace video2mp3::adapters
