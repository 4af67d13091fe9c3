#include "adapters/mongo/gridfs_bucket.h"

#include <cstring>
#include <limits>
#include <utility>

#include "adapters/mongo/mongo_bson.h"
#include "adapters/mongo/mongo_client_pool.h"
#include "adapters/mongo/mongo_error.h"
#include "adapters/mongo/mongo_handles.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

std::int64_t ReplyCount(const BsonReply& reply, const char* key) {
    return BsonFields(*reply.Get()).Int64(key).value_or(0);
}

void InsertOne(const PooledMongoClient& client, const std::string& collection,
               const bson_t& document) {
    const MongoCollectionPtr handle = client.Collection(collection);
    BsonReply reply;
    bson_error_t error;

    if (!mongoc_collection_insert_one(handle.get(), &document, nullptr, reply.Get(), &error)) {
        ThrowMongoError("insert into " + collection, error, reply.Get());
    }
}

/// Returns matchedCount.
std::int64_t UpdateOne(const PooledMongoClient& client, const std::string& collection,
                       const bson_t& filter, const bson_t& update) {
    const MongoCollectionPtr handle = client.Collection(collection);
    BsonReply reply;
    bson_error_t error;

    if (!mongoc_collection_update_one(handle.get(), &filter, &update, nullptr, reply.Get(),
                                      &error)) {
        ThrowMongoError("update in " + collection, error, reply.Get());
    }
    return ReplyCount(reply, "matchedCount");
}

/// Returns deletedCount.
std::int64_t Delete(const PooledMongoClient& client, const std::string& collection,
                    const bson_t& filter, bool many) {
    const MongoCollectionPtr handle = client.Collection(collection);
    BsonReply reply;
    bson_error_t error;

    const bool ok =
        many ? mongoc_collection_delete_many(handle.get(), &filter, nullptr, reply.Get(), &error)
             : mongoc_collection_delete_one(handle.get(), &filter, nullptr, reply.Get(), &error);
    if (!ok) {
        ThrowMongoError("delete from " + collection, error, reply.Get());
    }
    return ReplyCount(reply, "deletedCount");
}

/// Calls `visit` with each document the find returns, then reports a cursor error.
template <typename Visit>
void Find(const PooledMongoClient& client, const std::string& collection, const bson_t& filter,
          const bson_t* options, Visit&& visit) {
    const MongoCollectionPtr handle = client.Collection(collection);
    const MongoCursorPtr cursor(
        mongoc_collection_find_with_opts(handle.get(), &filter, options, nullptr));

    const bson_t* document = nullptr;
    while (mongoc_cursor_next(cursor.get(), &document)) {
        visit(*document);
    }

    bson_error_t error;
    const bson_t* reply = nullptr;
    if (mongoc_cursor_error_document(cursor.get(), &error, &reply)) {
        ThrowMongoError("find in " + collection, error, reply);
    }
}

void RunCommand(const PooledMongoClient& client, const std::string& database, const bson_t& command,
                const std::string& action) {
    BsonReply reply;
    bson_error_t error;
    if (!mongoc_client_write_command_with_opts(client.Get(), database.c_str(), &command, nullptr,
                                               reply.Get(), &error)) {
        ThrowMongoError(action, error, reply.Get());
    }
}

[[noreturn]] void ThrowCorrupt(const std::string& what) {
    throw StorageError("GridFS: " + what, false);
}

GridFsFile ParseFile(const bson_t& document, const bson_oid_t& id, const std::string& collection) {
    const BsonFields fields(document);
    const std::string where = collection + " " + ObjectIdHex(id);

    const std::optional<std::int64_t> length = fields.Int64("length");
    const std::optional<std::int64_t> chunk_size = fields.Int64("chunkSize");
    if (!length || *length < 0) {
        ThrowCorrupt(where + ": the files document has no valid length");
    }
    if (!chunk_size || *chunk_size <= 0 || *chunk_size > std::numeric_limits<std::int32_t>::max()) {
        ThrowCorrupt(where + ": the files document has no valid chunkSize");
    }

    GridFsFile file;
    file.id = id;
    file.length = static_cast<std::uint64_t>(*length);
    file.chunk_size = static_cast<std::uint32_t>(*chunk_size);
    file.upload_date_ms = fields.DateMs("uploadDate").value_or(0);
    file.filename = fields.Utf8("filename").value_or("");
    file.sha256 = fields.Utf8("metadata.sha256").value_or("");
    file.content_type =
        fields.Utf8("metadata.contentType").value_or(fields.Utf8("contentType").value_or(""));
    return file;
}

GridFsChunk ParseChunk(const bson_t& document, const std::string& collection,
                       const bson_oid_t& files_id) {
    const std::string where = collection + " of " + ObjectIdHex(files_id);
    const std::optional<std::int64_t> n = BsonFields(document).Int64("n");
    if (!n) {
        ThrowCorrupt(where + ": a chunk has no integer n");
    }

    bson_iter_t iter;
    if (!bson_iter_init_find(&iter, &document, "data") || !BSON_ITER_HOLDS_BINARY(&iter)) {
        ThrowCorrupt(where + ": chunk " + std::to_string(*n) + " has no binary data");
    }
    bson_subtype_t subtype;
    std::uint32_t size = 0;
    const std::uint8_t* bytes = nullptr;
    bson_iter_binary(&iter, &subtype, &size, &bytes);

    GridFsChunk chunk;
    chunk.n = *n;
    chunk.data.resize(size);
    if (size > 0) {
        std::memcpy(chunk.data.data(), bytes, size);
    }
    return chunk;
}

std::int32_t ToInt32(std::int64_t value, const char* what) {
    if (value < 0 || value > std::numeric_limits<std::int32_t>::max()) {
        throw StorageError(std::string("GridFS: ") + what + " out of range", false);
    }
    return static_cast<std::int32_t>(value);
}

}  // namespace

GridFsBucket::GridFsBucket(std::shared_ptr<MongoClientPool> pool, std::string name)
    : pool_(std::move(pool)), name_(std::move(name)) {}

void GridFsBucket::CreateIndexes() const {
    const PooledMongoClient client = pool_->Pop();

    const BsonPtr chunks_index(
        BCON_NEW("createIndexes", BCON_UTF8(ChunksCollection().c_str()), "indexes", "[", "{", "key",
                 "{", "files_id", BCON_INT32(1), "n", BCON_INT32(1), "}", "name",
                 BCON_UTF8("files_id_1_n_1"), "unique", BCON_BOOL(true), "}", "]"));
    RunCommand(client, pool_->DatabaseName(), *chunks_index,
               "create the index of " + ChunksCollection());

    const BsonPtr files_index(BCON_NEW("createIndexes", BCON_UTF8(FilesCollection().c_str()),
                                       "indexes", "[", "{", "key", "{", "filename", BCON_INT32(1),
                                       "uploadDate", BCON_INT32(1), "}", "name",
                                       BCON_UTF8("filename_1_uploadDate_1"), "}", "]"));
    RunCommand(client, pool_->DatabaseName(), *files_index,
               "create the index of " + FilesCollection());
}

std::optional<GridFsFile> GridFsBucket::FindFile(const bson_oid_t& id) const {
    const PooledMongoClient client = pool_->Pop();
    const BsonPtr filter(BCON_NEW("_id", BCON_OID(&id)));
    const BsonPtr options(BCON_NEW("limit", BCON_INT64(1)));

    std::optional<GridFsFile> file;
    Find(client, FilesCollection(), *filter, options.get(),
         [&](const bson_t& document) { file = ParseFile(document, id, FilesCollection()); });
    return file;
}

void GridFsBucket::InsertFile(const GridFsFile& file) const {
    if (file.length > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw StorageError("GridFS: file length out of range", false);
    }
    const std::string filename = ToValidUtf8(file.filename);
    const std::string content_type = ToValidUtf8(file.content_type);
    const BsonPtr document(BCON_NEW(
        "_id", BCON_OID(&file.id), "length", BCON_INT64(static_cast<std::int64_t>(file.length)),
        "chunkSize", BCON_INT32(ToInt32(file.chunk_size, "chunkSize")), "uploadDate",
        BCON_DATE_TIME(file.upload_date_ms), "filename", BCON_UTF8(filename.c_str()), "metadata",
        "{", "sha256", BCON_UTF8(file.sha256.c_str()), "contentType",
        BCON_UTF8(content_type.c_str()), "}"));

    const PooledMongoClient client = pool_->Pop();
    InsertOne(client, FilesCollection(), *document);
}

bool GridFsBucket::DeleteFile(const bson_oid_t& id) const {
    const PooledMongoClient client = pool_->Pop();
    const BsonPtr filter(BCON_NEW("_id", BCON_OID(&id)));
    return Delete(client, FilesCollection(), *filter, false) > 0;
}

void GridFsBucket::InsertChunk(const bson_oid_t& files_id, std::int32_t n,
                               std::span<const std::byte> data) const {
    bson_oid_t chunk_id;
    bson_oid_init(&chunk_id, nullptr);
    const BsonPtr document(BCON_NEW(
        "_id", BCON_OID(&chunk_id), "files_id", BCON_OID(&files_id), "n", BCON_INT32(n), "data",
        BCON_BIN(BSON_SUBTYPE_BINARY, reinterpret_cast<const std::uint8_t*>(data.data()),
                 static_cast<std::uint32_t>(data.size()))));

    const PooledMongoClient client = pool_->Pop();
    InsertOne(client, ChunksCollection(), *document);
}

std::vector<GridFsChunk> GridFsBucket::FindChunks(const bson_oid_t& files_id, std::int64_t first,
                                                  std::int64_t count) const {
    const std::int32_t low = ToInt32(first, "chunk number");
    const std::int32_t high = ToInt32(first + count, "chunk number");
    const BsonPtr filter(BCON_NEW("files_id", BCON_OID(&files_id), "n", "{", "$gte",
                                  BCON_INT32(low), "$lt", BCON_INT32(high), "}"));
    const BsonPtr options(BCON_NEW("sort", "{", "n", BCON_INT32(1), "}", "projection", "{", "_id",
                                   BCON_INT32(0), "n", BCON_INT32(1), "data", BCON_INT32(1), "}",
                                   "limit", BCON_INT64(count), "batchSize",
                                   BCON_INT32(high - low)));

    std::vector<GridFsChunk> chunks;
    chunks.reserve(static_cast<std::size_t>(count));
    const PooledMongoClient client = pool_->Pop();
    Find(client, ChunksCollection(), *filter, options.get(), [&](const bson_t& document) {
        chunks.push_back(ParseChunk(document, ChunksCollection(), files_id));
    });
    return chunks;
}

std::int64_t GridFsBucket::DeleteChunks(const bson_oid_t& files_id) const {
    const PooledMongoClient client = pool_->Pop();
    const BsonPtr filter(BCON_NEW("files_id", BCON_OID(&files_id)));
    return Delete(client, ChunksCollection(), *filter, true);
}

void GridFsBucket::InsertUploadMarker(const bson_oid_t& files_id, std::int64_t now_ms) const {
    const BsonPtr document(BCON_NEW("_id", BCON_OID(&files_id), "started", BCON_DATE_TIME(now_ms),
                                    "touched", BCON_DATE_TIME(now_ms)));
    const PooledMongoClient client = pool_->Pop();
    InsertOne(client, UploadsCollection(), *document);
}

bool GridFsBucket::TouchUploadMarker(const bson_oid_t& files_id, std::int64_t now_ms) const {
    const BsonPtr filter(
        BCON_NEW("_id", BCON_OID(&files_id), "sweeping", "{", "$ne", BCON_BOOL(true), "}"));
    const BsonPtr update(BCON_NEW("$set", "{", "touched", BCON_DATE_TIME(now_ms), "}"));
    const PooledMongoClient client = pool_->Pop();
    return UpdateOne(client, UploadsCollection(), *filter, *update) > 0;
}

std::vector<bson_oid_t> GridFsBucket::FindStaleUploadMarkers(std::int64_t cutoff_ms) const {
    const BsonPtr filter(BCON_NEW("touched", "{", "$lt", BCON_DATE_TIME(cutoff_ms), "}"));
    const BsonPtr options(BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}"));

    std::vector<bson_oid_t> ids;
    const PooledMongoClient client = pool_->Pop();
    Find(client, UploadsCollection(), *filter, options.get(), [&](const bson_t& document) {
        // Markers are ours, so a non-ObjectId _id is someone else's document: leave it.
        if (const std::optional<bson_oid_t> id = BsonFields(document).ObjectId("_id")) {
            ids.push_back(*id);
        }
    });
    return ids;
}

bool GridFsBucket::ClaimStaleUploadMarker(const bson_oid_t& files_id,
                                          std::int64_t cutoff_ms) const {
    const BsonPtr filter(BCON_NEW("_id", BCON_OID(&files_id), "touched", "{", "$lt",
                                  BCON_DATE_TIME(cutoff_ms), "}"));
    const BsonPtr update(BCON_NEW("$set", "{", "sweeping", BCON_BOOL(true), "}"));
    const PooledMongoClient client = pool_->Pop();
    return UpdateOne(client, UploadsCollection(), *filter, *update) > 0;
}

void GridFsBucket::DeleteUploadMarker(const bson_oid_t& files_id) const {
    const PooledMongoClient client = pool_->Pop();
    const BsonPtr filter(BCON_NEW("_id", BCON_OID(&files_id)));
    Delete(client, UploadsCollection(), *filter, false);
}

std::vector<std::string> GridFsBucket::BucketsWithUploads(MongoClientPool& pool) {
    const PooledMongoClient client = pool.Pop();
    const MongoDatabasePtr database = client.Database();
    bson_error_t error;

    const std::unique_ptr<char*, decltype(&bson_strfreev)> names(
        mongoc_database_get_collection_names_with_opts(database.get(), nullptr, &error),
        &bson_strfreev);
    if (!names) {
        ThrowMongoError("list the collections of " + pool.DatabaseName(), error);
    }

    constexpr std::string_view kSuffix = ".uploads";
    std::vector<std::string> buckets;
    for (char** name = names.get(); *name != nullptr; ++name) {
        const std::string_view collection = *name;
        if (collection.size() > kSuffix.size() && collection.ends_with(kSuffix)) {
            buckets.emplace_back(collection.substr(0, collection.size() - kSuffix.size()));
        }
    }
    return buckets;
}

}  // namespace video2mp3::adapters
