#pragma once

#include <mongoc/mongoc.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace video2mp3::adapters {

class MongoClientPool;

/// A GridFS files document, as the GridFS specification lays it out.
struct GridFsFile {
    bson_oid_t id{};
    std::uint64_t length = 0;
    std::uint32_t chunk_size = 0;
    std::int64_t upload_date_ms = 0;
    std::string filename;
    std::string sha256;        ///< metadata.sha256; empty for files other programs wrote
    std::string content_type;  ///< metadata.contentType (or the deprecated top-level field)
};

/// One chunk document's `n` and `data`.
struct GridFsChunk {
    std::int64_t n = 0;
    std::vector<std::byte> data;
};

/// The collections of one GridFS bucket in the pool's database: `<name>.files`,
/// `<name>.chunks`, and `<name>.uploads`, where this service records the uploads in
/// progress ({_id: files_id, started: date, touched: date}) so that the chunks of one that
/// never finished can be found and removed.
///
/// Each method is one or a few round trips on a client popped from the pool, so a bucket is
/// thread-safe and cheap to copy. libmongoc errors become StorageError (see
/// ThrowMongoError); a document of the wrong shape is a non-transient StorageError.
class GridFsBucket {
 public:
    GridFsBucket(std::shared_ptr<MongoClientPool> pool, std::string name);

    const std::string& Name() const { return name_; }

    /// The indexes the specification requires: unique {files_id: 1, n: 1} on chunks and
    /// {filename: 1, uploadDate: 1} on files. Idempotent.
    void CreateIndexes() const;

    std::optional<GridFsFile> FindFile(const bson_oid_t& id) const;

    /// Inserts {_id, length: int64, chunkSize: int32, uploadDate, filename,
    /// metadata: {sha256, contentType}}.
    void InsertFile(const GridFsFile& file) const;

    /// Deletes the files document; true when there was one.
    bool DeleteFile(const bson_oid_t& id) const;

    /// Inserts {_id: new ObjectId, files_id, n: int32, data: binary subtype 0}.
    void InsertChunk(const bson_oid_t& files_id, std::int32_t n,
                     std::span<const std::byte> data) const;

    /// The chunks with first <= n < first + count, ordered by n, in one reply. Finds only
    /// what is there: the caller checks that nothing is missing.
    std::vector<GridFsChunk> FindChunks(const bson_oid_t& files_id, std::int64_t first,
                                        std::int64_t count) const;

    /// Deletes every chunk of a file; returns how many there were.
    std::int64_t DeleteChunks(const bson_oid_t& files_id) const;

    void InsertUploadMarker(const bson_oid_t& files_id, std::int64_t now_ms) const;

    /// Sets `touched`; false when the marker is gone or a sweep has claimed it.
    bool TouchUploadMarker(const bson_oid_t& files_id, std::int64_t now_ms) const;

    /// Ids of the markers not touched since `cutoff_ms`.
    std::vector<bson_oid_t> FindStaleUploadMarkers(std::int64_t cutoff_ms) const;

    /// Marks a marker as being swept, when it is still untouched since `cutoff_ms`; from
    /// then on the writer's TouchUploadMarker fails, so it cannot commit what the sweep is
    /// removing. False when the marker is gone or was touched meanwhile.
    bool ClaimStaleUploadMarker(const bson_oid_t& files_id, std::int64_t cutoff_ms) const;

    void DeleteUploadMarker(const bson_oid_t& files_id) const;

    /// Names of the buckets in the database that have an uploads collection.
    static std::vector<std::string> BucketsWithUploads(MongoClientPool& pool);

 private:
    std::string FilesCollection() const { return name_ + ".files"; }
    std::string ChunksCollection() const { return name_ + ".chunks"; }
    std::string UploadsCollection() const { return name_ + ".uploads"; }

    std::shared_ptr<MongoClientPool> pool_;
    std::string name_;
};

}  // namespace video2mp3::adapters
