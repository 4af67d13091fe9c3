#include "adapters/mongo/gridfs_blob_store.h"

#include <gtest/gtest.h>
#include <mongoc/mongoc.h>
#include <sodium.h>

#include <array>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "adapters/mongo/gridfs_blob_writer.h"
#include "adapters/mongo/mongo_bson.h"
#include "adapters/mongo/mongo_client_pool.h"
#include "adapters/mongo/mongo_handles.h"
#include "support/media_tools.h"
#include "support/test_servers.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {
namespace {

constexpr std::size_t kChunk = GridFsBlobWriter::kChunkSize;
constexpr const char* kInterop = VIDEO2MP3_SOURCE_DIR "/tests/support/gridfs_interop.py";

static_assert(kChunk == 261120, "the GridFS specification's default chunk size");

std::vector<std::byte> Pattern(std::size_t size, unsigned seed = 7) {
    std::vector<std::byte> bytes(size);
    std::uint32_t state = seed;
    for (std::byte& byte : bytes) {
        state = state * 1664525u + 1013904223u;
        byte = static_cast<std::byte>(state >> 24);
    }
    return bytes;
}

std::vector<std::byte> Bytes(const std::string& text) {
    std::vector<std::byte> bytes(text.size());
    std::memcpy(bytes.data(), text.data(), text.size());
    return bytes;
}

std::string Sha256Hex(const std::vector<std::byte>& bytes) {
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                       bytes.size());
    std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
    sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
    return hex.data();
}

std::vector<std::byte> ReadAll(media::ByteSource& source) {
    std::vector<std::byte> bytes;
    std::array<std::byte, 64 * 1024> chunk{};
    while (const std::size_t got = source.Read(chunk)) {
        bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<long>(got));
    }
    return bytes;
}

/// Reads exactly `count` bytes at `offset` (fewer only at the end).
std::vector<std::byte> ReadAt(media::ByteSource& source, std::uint64_t offset, std::size_t count) {
    source.Seek(offset);
    std::vector<std::byte> bytes(count);
    std::size_t filled = 0;
    while (filled < count) {
        const std::size_t got = source.Read(std::span(bytes).subspan(filled));
        if (got == 0) {
            break;
        }
        filled += got;
    }
    bytes.resize(filled);
    return bytes;
}

std::vector<std::byte> Slice(const std::vector<std::byte>& bytes, std::size_t offset,
                             std::size_t count) {
    offset = std::min(offset, bytes.size());
    count = std::min(count, bytes.size() - offset);
    return {bytes.begin() + static_cast<long>(offset),
            bytes.begin() + static_cast<long>(offset + count)};
}

/// Writes `bytes` in uneven pieces (so the writer's chunk buffer fills and spills) and
/// commits.
BlobInfo Put(BlobStore& store, const std::string& bucket, const std::string& id,
             const std::vector<std::byte>& bytes, const std::string& filename = "clip.mp4") {
    auto writer = store.Create(bucket, id, filename, "video/mp4");
    std::size_t offset = 0;
    std::size_t piece = 1;
    while (offset < bytes.size()) {
        const std::size_t count = std::min(piece, bytes.size() - offset);
        writer->Write(std::span(bytes).subspan(offset, count));
        offset += count;
        piece = piece * 3 + 1;
    }
    EXPECT_EQ(writer->Size(), bytes.size());
    return writer->Commit();
}

/// `uri` with one more option.
std::string WithOption(const std::string& uri, const std::string& option) {
    return uri + (uri.find('?') == std::string::npos ? "?" : "&") + option;
}

std::string UniqueDatabase() {
    return "v2m_test_" + RandomId();
}

BsonPtr Json(const std::string& json) {
    bson_error_t error;
    bson_t* document = bson_new_from_json(reinterpret_cast<const std::uint8_t*>(json.data()),
                                          static_cast<ssize_t>(json.size()), &error);
    EXPECT_NE(document, nullptr) << json << ": " << error.message;
    return BsonPtr(document != nullptr ? document : bson_new());
}

std::string OidJson(const std::string& id) {
    return R"({"$oid": ")" + id + R"("})";
}

std::string DateJson(std::chrono::system_clock::time_point when) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
    return R"({"$date": {"$numberLong": ")" + std::to_string(ms) + R"("}})";
}

/// Direct access to the collections, to look at the layout and to damage it.
class RawCollections {
 public:
    explicit RawCollections(std::shared_ptr<MongoClientPool> pool) : pool_(std::move(pool)) {}

    std::vector<BsonPtr> Find(const std::string& collection, const std::string& filter,
                              const std::string& options = "{}") const {
        const PooledMongoClient client = pool_->Pop();
        const MongoCollectionPtr handle = client.Collection(collection);
        const BsonPtr filter_bson = Json(filter);
        const BsonPtr options_bson = Json(options);
        const MongoCursorPtr cursor(mongoc_collection_find_with_opts(
            handle.get(), filter_bson.get(), options_bson.get(), nullptr));
        std::vector<BsonPtr> documents;
        const bson_t* document = nullptr;
        while (mongoc_cursor_next(cursor.get(), &document)) {
            documents.emplace_back(bson_copy(document));
        }
        bson_error_t error;
        EXPECT_FALSE(mongoc_cursor_error(cursor.get(), &error)) << error.message;
        return documents;
    }

    std::size_t Count(const std::string& collection, const std::string& filter = "{}") const {
        return Find(collection, filter).size();
    }

    void Insert(const std::string& collection, const bson_t& document) const {
        const PooledMongoClient client = pool_->Pop();
        const MongoCollectionPtr handle = client.Collection(collection);
        bson_error_t error;
        ASSERT_TRUE(mongoc_collection_insert_one(handle.get(), &document, nullptr, nullptr, &error))
            << error.message;
    }

    void Update(const std::string& collection, const std::string& filter,
                const bson_t& update) const {
        const PooledMongoClient client = pool_->Pop();
        const MongoCollectionPtr handle = client.Collection(collection);
        const BsonPtr filter_bson = Json(filter);
        BsonReply reply;
        bson_error_t error;
        ASSERT_TRUE(mongoc_collection_update_one(handle.get(), filter_bson.get(), &update, nullptr,
                                                 reply.Get(), &error))
            << error.message;
        ASSERT_EQ(BsonFields(*reply.Get()).Int64("matchedCount"), 1) << filter;
    }

    void Delete(const std::string& collection, const std::string& filter) const {
        const PooledMongoClient client = pool_->Pop();
        const MongoCollectionPtr handle = client.Collection(collection);
        const BsonPtr filter_bson = Json(filter);
        bson_error_t error;
        ASSERT_TRUE(mongoc_collection_delete_many(handle.get(), filter_bson.get(), nullptr, nullptr,
                                                  &error))
            << error.message;
    }

    void InsertChunk(const std::string& bucket, const std::string& files_id, int n,
                     const std::vector<std::byte>& data) const {
        const std::optional<bson_oid_t> oid = ParseObjectId(files_id);
        ASSERT_TRUE(oid.has_value());
        bson_oid_t chunk_id;
        bson_oid_init(&chunk_id, nullptr);
        const BsonPtr chunk(BCON_NEW(
            "_id", BCON_OID(&chunk_id), "files_id", BCON_OID(&*oid), "n", BCON_INT32(n), "data",
            BCON_BIN(BSON_SUBTYPE_BINARY, reinterpret_cast<const std::uint8_t*>(data.data()),
                     static_cast<std::uint32_t>(data.size()))));
        Insert(bucket + ".chunks", *chunk);
    }

    /// Inserts what a writer that crashed after `chunks` full chunks leaves behind: the
    /// chunks and the upload record, last touched at `touched`. Returns the file id.
    std::string LeaveCrashedUpload(const std::string& bucket, int chunks,
                                   std::chrono::system_clock::time_point touched) const {
        const std::string id = RandomId();
        for (int n = 0; n < chunks; ++n) {
            InsertChunk(bucket, id, n, Pattern(kChunk, static_cast<unsigned>(n)));
        }
        Insert(bucket + ".uploads",
               *Json(R"({"_id": )" + OidJson(id) + R"(, "started": )" + DateJson(touched) +
                     R"(, "touched": )" + DateJson(touched) + "}"));
        return id;
    }

 private:
    std::shared_ptr<MongoClientPool> pool_;
};

bson_type_t TypeOf(const bson_t& document, const char* path) {
    bson_iter_t root;
    bson_iter_t iter;
    if (!bson_iter_init(&root, &document) || !bson_iter_find_descendant(&root, path, &iter)) {
        return BSON_TYPE_EOD;
    }
    return bson_iter_type(&iter);
}

/// Index keys of a collection, as canonical JSON, with their unique flag.
std::map<std::string, bool> IndexKeys(MongoClientPool& pool, const std::string& collection) {
    const PooledMongoClient client = pool.Pop();
    const MongoCollectionPtr handle = client.Collection(collection);
    const MongoCursorPtr cursor(mongoc_collection_find_indexes_with_opts(handle.get(), nullptr));
    std::map<std::string, bool> keys;
    const bson_t* index = nullptr;
    while (mongoc_cursor_next(cursor.get(), &index)) {
        bson_iter_t iter;
        if (bson_iter_init_find(&iter, index, "key") && BSON_ITER_HOLDS_DOCUMENT(&iter)) {
            std::uint32_t length = 0;
            const std::uint8_t* data = nullptr;
            bson_iter_document(&iter, &length, &data);
            bson_t key;
            bson_init_static(&key, data, length);
            char* json = bson_as_relaxed_extended_json(&key, nullptr);
            keys[json] = BsonFields(*index).Bool("unique").value_or(false);
            bson_free(json);
        }
    }
    return keys;
}

/// Runs tests/support/gridfs_interop.py with Debian's Python (which has pymongo).
testing::CommandResult Interop(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv = {"/usr/bin/python3", kInterop};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return testing::Run(argv);
}

std::string Trim(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

// Each test runs against every server of MongoUrisUnderTest(): index 0 is the shared
// CongoDB, index 1 a real MongoDB when VIDEO2MP3_TEST_MONGODB_URI is set. Indexes rather
// than the URIs themselves, so the test names are known when ctest discovers them.
class GridFsBlobStoreTest : public ::testing::TestWithParam<std::size_t> {
 protected:
    void SetUp() override {
        const std::vector<std::string> uris = testing::MongoUrisUnderTest();
        if (GetParam() >= uris.size()) {
            GTEST_SKIP() << "no such server (set VIDEO2MP3_TEST_MONGODB_URI for a real MongoDB)";
        }
        uri_ = testing::WithDatabase(uris[GetParam()], UniqueDatabase());
        pool_ = std::make_shared<MongoClientPool>(uri_);
        store_ = std::make_unique<GridFsBlobStore>(pool_);
        raw_ = std::make_unique<RawCollections>(pool_);
    }

    void TearDown() override {
        if (!pool_) {
            return;
        }
        const PooledMongoClient client = pool_->Pop();
        const MongoDatabasePtr database = client.Database();
        bson_error_t error;
        if (!mongoc_database_drop(database.get(), &error)) {
            ADD_FAILURE() << "cannot drop the test database: " << error.message;
        }
    }

    std::string uri_;
    std::shared_ptr<MongoClientPool> pool_;
    std::unique_ptr<GridFsBlobStore> store_;
    std::unique_ptr<RawCollections> raw_;
};

std::string ServerName(const ::testing::TestParamInfo<std::size_t>& info) {
    return info.param == 0 ? "CongoDB" : "MongoDB";
}

INSTANTIATE_TEST_SUITE_P(Servers, GridFsBlobStoreTest, ::testing::Values(0u, 1u), ServerName);

TEST_P(GridFsBlobStoreTest, RoundTripsSizesAroundAChunkWithTheirSha256) {
    for (const std::size_t size :
         {std::size_t{0}, std::size_t{1}, kChunk - 1, kChunk, kChunk + 1, std::size_t{3'000'007}}) {
        SCOPED_TRACE(size);
        const std::vector<std::byte> bytes = Pattern(size, static_cast<unsigned>(size));

        const BlobInfo info = Put(*store_, kVideoBucket, "", bytes);

        EXPECT_TRUE(ParseObjectId(info.id)) << info.id;
        EXPECT_EQ(info.size, size);
        EXPECT_EQ(info.sha256, Sha256Hex(bytes));
        EXPECT_EQ(info.filename, "clip.mp4");
        EXPECT_EQ(info.content_type, "video/mp4");
        EXPECT_EQ(raw_->Count("videos.chunks", R"({"files_id": )" + OidJson(info.id) + "}"),
                  (size + kChunk - 1) / kChunk);

        const auto source = store_->Open(kVideoBucket, info.id);
        ASSERT_NE(source, nullptr);
        EXPECT_EQ(source->Size(), size);
        EXPECT_EQ(ReadAll(*source), bytes);

        const std::optional<BlobInfo> stat = store_->Stat(kVideoBucket, info.id);
        ASSERT_TRUE(stat.has_value());
        EXPECT_EQ(stat->id, info.id);
        EXPECT_EQ(stat->size, size);
        EXPECT_EQ(stat->sha256, Sha256Hex(bytes));
        EXPECT_EQ(stat->filename, "clip.mp4");
        EXPECT_EQ(stat->content_type, "video/mp4");
    }
}

TEST_P(GridFsBlobStoreTest, LayoutIsTheGridFsSpecifications) {
    const std::vector<std::byte> bytes = Pattern(2 * kChunk + 1000);
    const auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);

    const BlobInfo info = Put(*store_, kMp3Bucket, "", bytes, "song.mp3");

    const auto after = std::chrono::system_clock::now() + std::chrono::seconds(1);
    const std::vector<BsonPtr> chunks = raw_->Find(
        "mp3s.chunks", R"({"files_id": )" + OidJson(info.id) + "}", R"({"sort": {"n": 1}})");
    ASSERT_EQ(chunks.size(), 3u);
    const std::size_t lengths[] = {kChunk, kChunk, 1000};
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        SCOPED_TRACE(i);
        const bson_t& chunk = *chunks[i];
        EXPECT_EQ(TypeOf(chunk, "_id"), BSON_TYPE_OID);
        EXPECT_EQ(TypeOf(chunk, "files_id"), BSON_TYPE_OID);
        EXPECT_EQ(ObjectIdHex(*BsonFields(chunk).ObjectId("files_id")), info.id);
        EXPECT_EQ(TypeOf(chunk, "n"), BSON_TYPE_INT32);
        EXPECT_EQ(BsonFields(chunk).Int64("n"), static_cast<std::int64_t>(i));
        bson_iter_t iter;
        ASSERT_TRUE(bson_iter_init_find(&iter, &chunk, "data"));
        ASSERT_TRUE(BSON_ITER_HOLDS_BINARY(&iter));
        bson_subtype_t subtype;
        std::uint32_t length = 0;
        const std::uint8_t* data = nullptr;
        bson_iter_binary(&iter, &subtype, &length, &data);
        EXPECT_EQ(subtype, BSON_SUBTYPE_BINARY);
        EXPECT_EQ(length, lengths[i]);
        EXPECT_EQ(std::memcmp(data, bytes.data() + i * kChunk, length), 0);
    }

    const std::vector<BsonPtr> files = raw_->Find("mp3s.files", "{}");
    ASSERT_EQ(files.size(), 1u);
    const bson_t& file = *files[0];
    const BsonFields fields(file);
    EXPECT_EQ(TypeOf(file, "_id"), BSON_TYPE_OID);
    EXPECT_EQ(ObjectIdHex(*fields.ObjectId("_id")), info.id);
    if (GetParam() == 0) {
        // CongoDB keeps numbers as JavaScript numbers: an Int64 that fits comes back Int32.
        EXPECT_TRUE(TypeOf(file, "length") == BSON_TYPE_INT64 ||
                    TypeOf(file, "length") == BSON_TYPE_INT32);
    } else {
        EXPECT_EQ(TypeOf(file, "length"), BSON_TYPE_INT64);
    }
    EXPECT_EQ(fields.Int64("length"), static_cast<std::int64_t>(bytes.size()));
    EXPECT_EQ(TypeOf(file, "chunkSize"), BSON_TYPE_INT32);
    EXPECT_EQ(fields.Int64("chunkSize"), 261120);
    EXPECT_EQ(TypeOf(file, "uploadDate"), BSON_TYPE_DATE_TIME);
    const auto ms = [](auto time) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch())
            .count();
    };
    EXPECT_GE(*fields.DateMs("uploadDate"), ms(before));
    EXPECT_LE(*fields.DateMs("uploadDate"), ms(after));
    EXPECT_EQ(TypeOf(file, "filename"), BSON_TYPE_UTF8);
    EXPECT_EQ(fields.Utf8("filename"), "song.mp3");
    EXPECT_EQ(TypeOf(file, "metadata"), BSON_TYPE_DOCUMENT);
    EXPECT_EQ(TypeOf(file, "metadata.sha256"), BSON_TYPE_UTF8);
    EXPECT_EQ(fields.Utf8("metadata.sha256"), Sha256Hex(bytes));
    EXPECT_EQ(fields.Utf8("metadata.contentType"), "video/mp4");
    EXPECT_FALSE(fields.Has("md5")) << "the specification dropped MD5";
    EXPECT_EQ(raw_->Count("mp3s.uploads"), 0u) << "the upload record goes with the commit";

    const std::map<std::string, bool> chunk_indexes = IndexKeys(*pool_, "mp3s.chunks");
    ASSERT_TRUE(chunk_indexes.contains(R"({ "files_id" : 1, "n" : 1 })"));
    EXPECT_TRUE(chunk_indexes.at(R"({ "files_id" : 1, "n" : 1 })")) << "unique";
    EXPECT_TRUE(
        IndexKeys(*pool_, "mp3s.files").contains(R"({ "filename" : 1, "uploadDate" : 1 })"));
}

TEST_P(GridFsBlobStoreTest, FilesDocumentIsWrittenLastAndChunksAsTheyFill) {
    const std::vector<std::byte> bytes = Pattern(2 * kChunk + 10);
    auto writer = store_->Create(kVideoBucket, "", "movie.mkv", "video/x-matroska");

    writer->Write(std::span(bytes).first(kChunk - 1));
    EXPECT_EQ(raw_->Count("videos.chunks"), 0u) << "no chunk before one is full";
    writer->Write(std::span(bytes).subspan(kChunk - 1, kChunk + 1));
    EXPECT_EQ(raw_->Count("videos.chunks"), 2u) << "full chunks go out as they fill";
    writer->Write(std::span(bytes).subspan(2 * kChunk));
    EXPECT_EQ(raw_->Count("videos.chunks"), 2u);
    EXPECT_EQ(raw_->Count("videos.files"), 0u);
    EXPECT_EQ(raw_->Count("videos.uploads"), 1u) << "the upload in progress is recorded";

    const BlobInfo info = writer->Commit();

    EXPECT_EQ(raw_->Count("videos.chunks"), 3u);
    EXPECT_EQ(raw_->Count("videos.files"), 1u);
    EXPECT_EQ(raw_->Count("videos.uploads"), 0u);
    const auto source = store_->Open(kVideoBucket, info.id);
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(ReadAll(*source), bytes);
}

TEST_P(GridFsBlobStoreTest, NothingIsVisibleBeforeCommit) {
    auto writer = store_->Create(kVideoBucket, RandomId(), "a.mp4", "video/mp4");
    writer->Write(Pattern(kChunk + 5));
    const std::vector<BsonPtr> markers = raw_->Find("videos.uploads", "{}");
    ASSERT_EQ(markers.size(), 1u);
    const std::string id = ObjectIdHex(*BsonFields(*markers[0]).ObjectId("_id"));

    EXPECT_EQ(store_->Open(kVideoBucket, id), nullptr);
    EXPECT_FALSE(store_->Stat(kVideoBucket, id).has_value());

    writer->Commit();

    EXPECT_NE(store_->Open(kVideoBucket, id), nullptr);
}

TEST_P(GridFsBlobStoreTest, ReadsAnywhereAcrossChunkBoundariesAndBackwards) {
    const std::vector<std::byte> bytes = Pattern(3'000'007);
    const BlobInfo info = Put(*store_, kVideoBucket, "", bytes);
    const auto source = store_->Open(kVideoBucket, info.id);
    ASSERT_NE(source, nullptr);

    // An MP4 with its index at the end: the end first, then back to the start, then jumps.
    const std::pair<std::uint64_t, std::size_t> reads[] = {
        {bytes.size() - 100, 100},     // the last bytes
        {bytes.size() - 5, 50},        // across the end: only 5
        {0, 10},                       // back to the start
        {kChunk - 1, 2},               // across the first boundary
        {5 * kChunk - 3, kChunk + 6},  // across two boundaries
        {kChunk, 1},                   // back, exactly at a chunk's start
        {2 * kChunk - 1, 1},           // exactly at a chunk's end
        {11 * kChunk, 4096},           // the last chunk
        {3 * kChunk + 17, 1'500'000},  // many chunks in one read
        {100, 700'000},                // backwards again, a long run
    };
    for (const auto& [offset, count] : reads) {
        SCOPED_TRACE(std::to_string(offset) + "+" + std::to_string(count));
        EXPECT_EQ(ReadAt(*source, offset, count), Slice(bytes, offset, count));
        EXPECT_EQ(source->Position(), std::min<std::uint64_t>(offset + count, bytes.size()));
    }

    std::array<std::byte, 8> tail{};
    source->Seek(bytes.size() + 1000);
    EXPECT_EQ(source->Read(tail), 0u) << "past the end";
    source->Seek(0);
    EXPECT_EQ(ReadAll(*source), bytes) << "a whole sequential read after the jumps";
}

TEST_P(GridFsBlobStoreTest, ChunkOfTheWrongLengthFailsTheReadWithAReason) {
    const std::vector<std::byte> bytes = Pattern(4 * kChunk + 10);
    const BlobInfo info = Put(*store_, kVideoBucket, "", bytes);
    // Replaced rather than updated: CongoDB's updates do not keep binary data binary.
    raw_->Delete("videos.chunks", R"({"files_id": )" + OidJson(info.id) + R"(, "n": 2})");
    raw_->InsertChunk(kVideoBucket, info.id, 2, Pattern(1000));

    const auto source = store_->Open(kVideoBucket, info.id);
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(ReadAt(*source, 10, 100), Slice(bytes, 10, 100)) << "chunks before it still read";
    try {
        ReadAt(*source, 2 * kChunk + 5, 10);
        FAIL() << "read a chunk of the wrong length";
    } catch (const media::ByteSourceError& error) {
        const std::string what = error.what();
        EXPECT_NE(what.find("chunk 2 of 5"), std::string::npos) << what;
        EXPECT_NE(what.find("1000 bytes instead of 261120"), std::string::npos) << what;
        EXPECT_NE(what.find(info.id), std::string::npos) << what;
    }
    source->Seek(0);
    EXPECT_THROW(ReadAll(*source), media::ByteSourceError) << "a whole read fails too";
}

TEST_P(GridFsBlobStoreTest, MissingOrMisnumberedChunkFailsTheReadWithAReason) {
    const std::vector<std::byte> bytes = Pattern(3 * kChunk + 10);
    const BlobInfo missing = Put(*store_, kVideoBucket, "", bytes);
    const BlobInfo misnumbered = Put(*store_, kVideoBucket, "", bytes);
    raw_->Delete("videos.chunks", R"({"files_id": )" + OidJson(missing.id) + R"(, "n": 1})");
    const BsonPtr renumber(BCON_NEW("$set", "{", "n", BCON_INT32(7), "}"));
    raw_->Update("videos.chunks", R"({"files_id": )" + OidJson(misnumbered.id) + R"(, "n": 3})",
                 *renumber);

    for (const auto& [id, bad_n] : {std::pair{missing.id, 1}, std::pair{misnumbered.id, 3}}) {
        SCOPED_TRACE(id);
        const auto source = store_->Open(kVideoBucket, id);
        ASSERT_NE(source, nullptr);
        try {
            ReadAll(*source);
            FAIL() << "read a file with a missing chunk";
        } catch (const media::ByteSourceError& error) {
            const std::string what = error.what();
            EXPECT_NE(what.find("chunk " + std::to_string(bad_n) + " of 4 is missing"),
                      std::string::npos)
                << what;
        }
        EXPECT_EQ(source->Position(), static_cast<std::uint64_t>(bad_n) * kChunk)
            << "every byte before the bad chunk was delivered, none after";
    }
}

TEST_P(GridFsBlobStoreTest, ExtraChunkAfterTheEndFailsTheLastRead) {
    const std::vector<std::byte> bytes = Pattern(kChunk + 10);
    const BlobInfo info = Put(*store_, kVideoBucket, "", bytes);
    raw_->InsertChunk(kVideoBucket, info.id, 2, Pattern(4));

    const auto source = store_->Open(kVideoBucket, info.id);
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(ReadAt(*source, 0, 100), Slice(bytes, 0, 100));
    try {
        ReadAt(*source, kChunk, 10);
        FAIL() << "read a file with more chunks than its length";
    } catch (const media::ByteSourceError& error) {
        EXPECT_NE(std::string(error.what()).find("more chunks"), std::string::npos) << error.what();
    }
}

TEST_P(GridFsBlobStoreTest, RemovalDuringADownloadEndsItCleanly) {
    const std::vector<std::byte> bytes = Pattern(3'000'007);
    const BlobInfo info = Put(*store_, kVideoBucket, "", bytes);
    const auto source = store_->Open(kVideoBucket, info.id);
    ASSERT_NE(source, nullptr);
    std::vector<std::byte> got = ReadAt(*source, 0, 1000);

    ASSERT_TRUE(store_->Remove(kVideoBucket, info.id));

    try {
        std::array<std::byte, 64 * 1024> chunk{};
        while (const std::size_t count = source->Read(chunk)) {
            got.insert(got.end(), chunk.begin(), chunk.begin() + static_cast<long>(count));
        }
        FAIL() << "read the whole file after its removal";
    } catch (const media::ByteSourceError& error) {
        EXPECT_NE(std::string(error.what()).find("missing"), std::string::npos) << error.what();
    }
    EXPECT_LT(got.size(), bytes.size());
    EXPECT_EQ(got, Slice(bytes, 0, got.size())) << "no wrong bytes before the error";
}

TEST_P(GridFsBlobStoreTest, UncommittedWriterLeavesNoChunks) {
    {
        auto writer = store_->Create(kVideoBucket, "", "a.mp4", "video/mp4");
        writer->Write(Pattern(2 * kChunk + 10));
        EXPECT_EQ(raw_->Count("videos.chunks"), 2u);
    }

    EXPECT_EQ(raw_->Count("videos.chunks"), 0u);
    EXPECT_EQ(raw_->Count("videos.files"), 0u);
    EXPECT_EQ(raw_->Count("videos.uploads"), 0u);
}

TEST_P(GridFsBlobStoreTest, CrashedUploadIsSweptAfterTheGracePeriodNotBefore) {
    const auto now = std::chrono::system_clock::now();
    const std::string young =
        raw_->LeaveCrashedUpload(kVideoBucket, 2, now - std::chrono::minutes(30));
    const std::string old = raw_->LeaveCrashedUpload(kMp3Bucket, 3, now - std::chrono::hours(2));
    const BlobInfo committed = Put(*store_, kVideoBucket, "", Pattern(kChunk + 1));
    auto live = store_->Create(kVideoBucket, "", "live.mp4", "video/mp4");
    live->Write(Pattern(kChunk));

    EXPECT_EQ(store_->SweepIncomplete(std::chrono::hours(1)), 1);

    EXPECT_EQ(raw_->Count("mp3s.chunks", R"({"files_id": )" + OidJson(old) + "}"), 0u);
    EXPECT_EQ(raw_->Count("mp3s.uploads"), 0u);
    EXPECT_EQ(raw_->Count("videos.chunks", R"({"files_id": )" + OidJson(young) + "}"), 2u)
        << "not yet past the grace period";
    EXPECT_NE(store_->Open(kVideoBucket, committed.id), nullptr);
    const BlobInfo live_info = live->Commit();
    const auto live_source = store_->Open(kVideoBucket, live_info.id);
    ASSERT_NE(live_source, nullptr);
    EXPECT_EQ(ReadAll(*live_source), Pattern(kChunk));
    EXPECT_EQ(store_->SweepIncomplete(std::chrono::hours(1)), 0) << "nothing left to sweep";

    const BsonPtr age(BCON_NEW("$set", "{", "touched", BCON_DATE_TIME(0), "}"));
    raw_->Update("videos.uploads", R"({"_id": )" + OidJson(young) + "}", *age);
    EXPECT_EQ(store_->SweepIncomplete(std::chrono::hours(1)), 1);
    EXPECT_EQ(raw_->Count("videos.chunks", R"({"files_id": )" + OidJson(young) + "}"), 0u);
    EXPECT_EQ(raw_->Count("videos.uploads"), 0u);
}

TEST_P(GridFsBlobStoreTest, WriterWhoseUploadWasSweptCannotCommit) {
    auto writer = store_->Create(kVideoBucket, "", "slow.mp4", "video/mp4");
    writer->Write(Pattern(kChunk + 1));
    const BsonPtr age(BCON_NEW("$set", "{", "touched", BCON_DATE_TIME(0), "}"));
    raw_->Update("videos.uploads", "{}", *age);
    ASSERT_EQ(store_->SweepIncomplete(std::chrono::hours(1)), 1);

    try {
        writer->Commit();
        FAIL() << "committed an upload the sweep had removed";
    } catch (const StorageError& error) {
        EXPECT_FALSE(error.Transient()) << error.what();
        EXPECT_NE(std::string(error.what()).find("abandoned"), std::string::npos) << error.what();
    }
    EXPECT_EQ(raw_->Count("videos.files"), 0u);
    EXPECT_EQ(raw_->Count("videos.chunks"), 0u);
    writer.reset();
    EXPECT_EQ(raw_->Count("videos.chunks"), 0u);
    EXPECT_EQ(raw_->Count("videos.uploads"), 0u);
}

TEST_P(GridFsBlobStoreTest, OrphanChunksWithoutARecordAreLeftAlone) {
    // What another driver's interrupted upload leaves: chunks only. Not ours to delete.
    const std::string orphan = raw_->LeaveCrashedUpload(kVideoBucket, 2, {});
    raw_->Delete("videos.uploads", "{}");

    EXPECT_EQ(store_->SweepIncomplete(std::chrono::seconds(0)), 0);

    EXPECT_EQ(raw_->Count("videos.chunks", R"({"files_id": )" + OidJson(orphan) + "}"), 2u);
}

TEST_P(GridFsBlobStoreTest, CreateWithAGivenIdReplacesTheBlob) {
    const std::string id = RandomId();
    Put(*store_, kMp3Bucket, id, Pattern(3 * kChunk + 5, 1), "old.mp3");

    const BlobInfo info = Put(*store_, kMp3Bucket, id, Bytes("the new mp3"), "new.mp3");

    EXPECT_EQ(info.id, id);
    EXPECT_EQ(raw_->Count("mp3s.files"), 1u);
    EXPECT_EQ(raw_->Count("mp3s.chunks"), 1u) << "the old chunks are gone";
    const auto source = store_->Open(kMp3Bucket, id);
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(source->Size(), 11u);
    EXPECT_EQ(ReadAll(*source), Bytes("the new mp3"));
    const std::optional<BlobInfo> stat = store_->Stat(kMp3Bucket, id);
    ASSERT_TRUE(stat.has_value());
    EXPECT_EQ(stat->sha256, Sha256Hex(Bytes("the new mp3")));
    EXPECT_EQ(stat->filename, "new.mp3");
}

TEST_P(GridFsBlobStoreTest, RemoveDeletesTheFilesDocumentAndTheChunks) {
    const BlobInfo kept = Put(*store_, kVideoBucket, "", Pattern(kChunk + 1, 1));
    const BlobInfo info = Put(*store_, kVideoBucket, "", Pattern(2 * kChunk + 1, 2));

    EXPECT_TRUE(store_->Remove(kVideoBucket, info.id));

    EXPECT_EQ(store_->Open(kVideoBucket, info.id), nullptr);
    EXPECT_FALSE(store_->Stat(kVideoBucket, info.id).has_value());
    EXPECT_EQ(raw_->Count("videos.chunks", R"({"files_id": )" + OidJson(info.id) + "}"), 0u);
    EXPECT_EQ(raw_->Count("videos.chunks"), 2u) << "the other blob's chunks stay";
    EXPECT_FALSE(store_->Remove(kVideoBucket, info.id));
    EXPECT_NE(store_->Open(kVideoBucket, kept.id), nullptr);
}

TEST_P(GridFsBlobStoreTest, MalformedAndUnknownIdsNameNothing) {
    Put(*store_, kVideoBucket, "", Bytes("x"));
    const std::vector<std::string> malformed = {"nosuchid", "ABCDEF0123456789ABCDEF01",
                                                std::string(32, 'a'), "", "../../etc/passwd"};
    for (const std::string& id : malformed) {
        SCOPED_TRACE(id);
        EXPECT_EQ(store_->Open(kVideoBucket, id), nullptr);
        EXPECT_FALSE(store_->Stat(kVideoBucket, id).has_value());
        EXPECT_FALSE(store_->Remove(kVideoBucket, id));
        if (!id.empty()) {
            try {
                store_->Create(kVideoBucket, id, "f", "t");
                FAIL() << "created a blob with a malformed id";
            } catch (const StorageError& error) {
                EXPECT_FALSE(error.Transient());
            }
        }
    }

    const std::string unknown = RandomId();
    EXPECT_EQ(store_->Open(kVideoBucket, unknown), nullptr);
    EXPECT_FALSE(store_->Stat(kVideoBucket, unknown).has_value());
    EXPECT_FALSE(store_->Remove(kVideoBucket, unknown));
    EXPECT_THROW(store_->Open("../x", unknown), std::invalid_argument);
    EXPECT_THROW(store_->Create("a.b", "", "f", "t"), std::invalid_argument);
}

TEST_P(GridFsBlobStoreTest, FilenameThatIsNotUtf8IsKeptAsMetadata) {
    const BlobInfo info = Put(*store_, kVideoBucket, "", Bytes("v"), "caf\xe9 ../x.mp4");

    const std::optional<BlobInfo> stat = store_->Stat(kVideoBucket, info.id);

    ASSERT_TRUE(stat.has_value());
    EXPECT_EQ(stat->filename, "caf\xef\xbf\xbd ../x.mp4") << "invalid bytes become U+FFFD";
}

TEST_P(GridFsBlobStoreTest, ThreadsShareOneStore) {
    std::vector<std::thread> threads;
    std::array<bool, 4> ok{};
    for (unsigned t = 0; t < ok.size(); ++t) {
        threads.emplace_back([this, t, &ok] {
            bool all = true;
            for (unsigned round = 0; round < 3; ++round) {
                const std::vector<std::byte> bytes = Pattern(kChunk + t * 1000 + round, t + round);
                const BlobInfo info = Put(*store_, kMp3Bucket, "", bytes);
                const auto source = store_->Open(kMp3Bucket, info.id);
                all = all && source != nullptr && ReadAll(*source) == bytes;
            }
            ok[t] = all;
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }

    for (const bool thread_ok : ok) {
        EXPECT_TRUE(thread_ok);
    }
    EXPECT_EQ(raw_->Count("mp3s.files"), 12u);
}

TEST_P(GridFsBlobStoreTest, TwoStoresShareOneDatabase) {
    // As the gateway and a converter would: separate pools, each creating the indexes.
    GridFsBlobStore other(std::make_shared<MongoClientPool>(uri_));
    const BlobInfo mine = Put(*store_, kVideoBucket, "", Pattern(kChunk + 3, 1));

    const BlobInfo theirs = Put(other, kVideoBucket, "", Pattern(kChunk + 4, 2));

    const auto source = store_->Open(kVideoBucket, theirs.id);
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(ReadAll(*source), Pattern(kChunk + 4, 2));
    EXPECT_TRUE(other.Remove(kVideoBucket, mine.id));
    EXPECT_FALSE(store_->Stat(kVideoBucket, mine.id).has_value());
}

TEST_P(GridFsBlobStoreTest, PymongoReadsWhatWeWrite) {
    const std::vector<std::byte> bytes = Pattern(3'000'007, 99);
    const BlobInfo info = Put(*store_, kMp3Bucket, "", bytes, "song.mp3");
    testing::TempDir dir;

    const testing::CommandResult result =
        Interop({"get", uri_, kMp3Bucket, info.id, (dir / "out").string()});

    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(Trim(result.out), info.sha256);
    EXPECT_EQ(testing::ReadBytes(dir / "out"), bytes);
}

TEST_P(GridFsBlobStoreTest, WeReadWhatPymongoWrites) {
    const std::vector<std::byte> bytes = Pattern(2 * kChunk + 12345, 42);
    testing::TempDir dir;
    {
        std::ofstream file(dir / "clip.webm", std::ios::binary);
        file.write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
    }

    const testing::CommandResult result =
        Interop({"put", uri_, kVideoBucket, (dir / "clip.webm").string()});

    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::string id = Trim(result.out);
    const std::optional<BlobInfo> stat = store_->Stat(kVideoBucket, id);
    ASSERT_TRUE(stat.has_value()) << id;
    EXPECT_EQ(stat->size, bytes.size());
    EXPECT_EQ(stat->filename, "clip.webm");
    const auto source = store_->Open(kVideoBucket, id);
    ASSERT_NE(source, nullptr);
    const std::vector<std::byte> read = ReadAll(*source);
    EXPECT_EQ(read, bytes);
    EXPECT_EQ(Sha256Hex(read), Sha256Hex(bytes));
    EXPECT_EQ(ReadAt(*source, kChunk - 2, 4), Slice(bytes, kChunk - 2, 4));
    EXPECT_EQ(store_->SweepIncomplete(std::chrono::seconds(0)), 0) << "pymongo's file is not ours";
    EXPECT_TRUE(store_->Remove(kVideoBucket, id));
    EXPECT_EQ(raw_->Count("videos.chunks"), 0u);
}

TEST_P(GridFsBlobStoreTest, ReadyWhileTheServerAnswers) {
    EXPECT_TRUE(store_->Ready());
}

TEST(MongoClientPoolTest, BadUriIsRefusedWithTheReason) {
    try {
        MongoClientPool pool("postgresql://127.0.0.1/x");
        FAIL() << "accepted a URI that is not MongoDB's";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("MongoDB URI"), std::string::npos) << error.what();
    }
    EXPECT_THROW(MongoClientPool("mongodb://127.0.0.1:notaport/x"), std::invalid_argument);
    EXPECT_THROW(MongoClientPool(""), std::invalid_argument);
}

TEST(MongoClientPoolTest, DatabaseComesFromThePathOrIsTheDefault) {
    EXPECT_EQ(MongoClientPool("mongodb://127.0.0.1:1/media?appname=x").DatabaseName(), "media");
    EXPECT_EQ(MongoClientPool("mongodb://127.0.0.1:1").DatabaseName(), "video2mp3");
    EXPECT_EQ(MongoClientPool("mongodb://127.0.0.1:1/").DatabaseName(), "video2mp3");
}

// A server of its own, stopped and started again.
class GridFsServerDownTest : public ::testing::Test {
 protected:
    testing::TestServer server_{"congodb"};
};

TEST_F(GridFsServerDownTest, StoppedServerGivesTransientErrorsAndTheStoreRecovers) {
    const std::string uri = testing::WithDatabase(server_.Url(), UniqueDatabase());
    auto pool = std::make_shared<MongoClientPool>(uri);
    GridFsBlobStore store(pool);
    // The same database with a short server selection timeout of its own, to keep the test
    // short; the first store shows the default.
    GridFsBlobStore quick(
        std::make_shared<MongoClientPool>(WithOption(uri, "serverSelectionTimeoutMS=1000")));
    const std::vector<std::byte> bytes = Pattern(3 * kChunk);
    const BlobInfo info = Put(store, kVideoBucket, "", bytes);
    const auto source = quick.Open(kVideoBucket, info.id);
    ASSERT_NE(source, nullptr);

    server_.Stop();

    // A hang guard, not a speed test: the default timeout is 5 s.
    const auto start = std::chrono::steady_clock::now();
    try {
        store.Stat(kVideoBucket, info.id);
        FAIL() << "Stat answered with the server down";
    } catch (const StorageError& error) {
        EXPECT_TRUE(error.Transient()) << error.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
    try {
        quick.Create(kVideoBucket, "", "a.mp4", "video/mp4");
        FAIL() << "Create worked with the server down";
    } catch (const StorageError& error) {
        EXPECT_TRUE(error.Transient()) << error.what();
    }
    EXPECT_THROW(ReadAt(*source, 0, 10), media::ByteSourceError);
    EXPECT_FALSE(quick.Ready());

    server_.Start();  // an empty server: CongoDB keeps its data in memory

    EXPECT_TRUE(store.Ready());
    const BlobInfo again = Put(store, kVideoBucket, "", bytes);
    const auto reopened = store.Open(kVideoBucket, again.id);
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(ReadAll(*reopened), bytes);
}

}  // namespace
}  // namespace video2mp3::adapters
