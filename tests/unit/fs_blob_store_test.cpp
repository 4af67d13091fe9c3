#include "adapters/fs/fs_blob_store.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "support/media_tools.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMiB = std::size_t{1} << 20;

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

/// Writes `bytes` in uneven pieces (so the writer's buffer fills and spills) and commits.
BlobInfo Put(BlobStore& store, const std::string& bucket, const std::string& id,
             const std::vector<std::byte>& bytes) {
    auto writer = store.Create(bucket, id, "clip.mp4", "video/mp4");
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

std::vector<fs::path> FilesIn(const fs::path& dir) {
    std::vector<fs::path> files;
    if (fs::exists(dir)) {
        for (const auto& entry : fs::directory_iterator(dir)) {
            files.push_back(entry.path());
        }
    }
    return files;
}

class FsBlobStoreTest : public ::testing::Test {
 protected:
    testing::TempDir dir_;
    FsBlobStore store_{dir_ / "data"};
};

TEST_F(FsBlobStoreTest, RoundTripsSizesAroundTheBufferWithTheirSha256) {
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, kMiB - 1, kMiB, kMiB + 1}) {
        SCOPED_TRACE(size);
        const std::vector<std::byte> bytes = Pattern(size, static_cast<unsigned>(size));

        const BlobInfo info = Put(store_, kVideoBucket, "", bytes);

        EXPECT_TRUE(IsWellFormedId(info.id));
        EXPECT_EQ(info.size, size);
        EXPECT_EQ(info.sha256, Sha256Hex(bytes));
        EXPECT_EQ(info.filename, "clip.mp4");
        EXPECT_EQ(info.content_type, "video/mp4");

        const auto source = store_.Open(kVideoBucket, info.id);
        ASSERT_NE(source, nullptr);
        EXPECT_EQ(source->Size(), size);
        EXPECT_EQ(ReadAll(*source), bytes);

        const std::optional<BlobInfo> stat = store_.Stat(kVideoBucket, info.id);
        ASSERT_TRUE(stat.has_value());
        EXPECT_EQ(stat->id, info.id);
        EXPECT_EQ(stat->size, size);
        EXPECT_EQ(stat->sha256, Sha256Hex(bytes));
        EXPECT_EQ(stat->filename, "clip.mp4");
        EXPECT_EQ(stat->content_type, "video/mp4");
    }
}

TEST_F(FsBlobStoreTest, OneLargeWriteBypassesTheBuffer) {
    const std::vector<std::byte> bytes = Pattern(3 * kMiB + 5);
    auto writer = store_.Create(kMp3Bucket, "big", "", "audio/mpeg");
    writer->Write(std::span(bytes).first(10));
    writer->Write(std::span(bytes).subspan(10));

    const BlobInfo info = writer->Commit();

    EXPECT_EQ(info.sha256, Sha256Hex(bytes));
    const auto source = store_.Open(kMp3Bucket, "big");
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(ReadAll(*source), bytes);
}

TEST_F(FsBlobStoreTest, SourceSeeksAndReadsAnywhere) {
    const std::vector<std::byte> bytes = Pattern(kMiB + 1);
    const BlobInfo info = Put(store_, kVideoBucket, "", bytes);
    const auto source = store_.Open(kVideoBucket, info.id);
    ASSERT_NE(source, nullptr);

    std::array<std::byte, 8> chunk{};
    source->Seek(kMiB - 3);
    ASSERT_EQ(source->Read(chunk), 4u);
    EXPECT_TRUE(std::equal(chunk.begin(), chunk.begin() + 4, bytes.end() - 4));
    EXPECT_EQ(source->Position(), kMiB + 1);
    EXPECT_EQ(source->Read(chunk), 0u);

    source->Seek(100);
    ASSERT_EQ(source->Read(chunk), chunk.size());
    EXPECT_TRUE(std::equal(chunk.begin(), chunk.end(), bytes.begin() + 100));

    source->Seek(5 * kMiB);
    EXPECT_EQ(source->Read(chunk), 0u);
}

TEST_F(FsBlobStoreTest, UncommittedWriterLeavesNothing) {
    {
        auto writer = store_.Create(kVideoBucket, "abandoned", "a.mp4", "video/mp4");
        writer->Write(Pattern(kMiB + 10));
        EXPECT_EQ(FilesIn(store_.Root() / kVideoBucket / ".incoming").size(), 1u);
        EXPECT_EQ(store_.Open(kVideoBucket, "abandoned"), nullptr);
        EXPECT_FALSE(store_.Stat(kVideoBucket, "abandoned").has_value());
    }

    EXPECT_TRUE(FilesIn(store_.Root() / kVideoBucket / ".incoming").empty());
    EXPECT_EQ(store_.Open(kVideoBucket, "abandoned"), nullptr);
    EXPECT_FALSE(store_.Stat(kVideoBucket, "abandoned").has_value());
    EXPECT_FALSE(fs::exists(store_.Root() / kVideoBucket / "abandoned.json"));
}

TEST_F(FsBlobStoreTest, MissingBlobsAndBucketsAreNothing) {
    EXPECT_EQ(store_.Open(kVideoBucket, "nosuchid"), nullptr);
    EXPECT_FALSE(store_.Stat(kVideoBucket, "nosuchid").has_value());
    EXPECT_FALSE(store_.Remove(kVideoBucket, "nosuchid"));

    Put(store_, kVideoBucket, "other", Bytes("x"));
    EXPECT_EQ(store_.Open(kVideoBucket, "nosuchid"), nullptr);
    EXPECT_FALSE(store_.Stat(kVideoBucket, "nosuchid").has_value());
}

TEST_F(FsBlobStoreTest, CreateWithAGivenIdReplacesTheBlobOnCommit) {
    Put(store_, kMp3Bucket, "job-1", Bytes("old mp3"));

    auto writer = store_.Create(kMp3Bucket, "job-1", "new.mp3", "audio/mpeg");
    writer->Write(Bytes("the new mp3"));
    const auto before_commit = store_.Open(kMp3Bucket, "job-1");
    ASSERT_NE(before_commit, nullptr);
    EXPECT_EQ(ReadAll(*before_commit), Bytes("old mp3"));

    const BlobInfo info = writer->Commit();

    EXPECT_EQ(info.id, "job-1");
    const auto after_commit = store_.Open(kMp3Bucket, "job-1");
    ASSERT_NE(after_commit, nullptr);
    EXPECT_EQ(ReadAll(*after_commit), Bytes("the new mp3"));
    EXPECT_EQ(ReadAll(*before_commit), std::vector<std::byte>()) << "old reader at its end";
    const std::optional<BlobInfo> stat = store_.Stat(kMp3Bucket, "job-1");
    ASSERT_TRUE(stat.has_value());
    EXPECT_EQ(stat->sha256, Sha256Hex(Bytes("the new mp3")));
    EXPECT_EQ(stat->filename, "new.mp3");
}

TEST_F(FsBlobStoreTest, BadBucketsAndIdsAreRefused) {
    const std::vector<std::string> bad = {"..",
                                          "../x",
                                          "a/b",
                                          "a.b",
                                          ".incoming",
                                          "a b",
                                          std::string(65, 'a'),
                                          std::string("a\0b", 3)};
    for (const std::string& name : bad) {
        SCOPED_TRACE(name);
        EXPECT_THROW(store_.Create(name, "", "f", "t"), std::invalid_argument);
        EXPECT_THROW(store_.Create(kVideoBucket, name, "f", "t"), std::invalid_argument);
        EXPECT_THROW(store_.Open(name, "id"), std::invalid_argument);
        EXPECT_THROW(store_.Open(kVideoBucket, name), std::invalid_argument);
        EXPECT_THROW(store_.Stat(kVideoBucket, name), std::invalid_argument);
        EXPECT_THROW(store_.Remove(kVideoBucket, name), std::invalid_argument);
    }
    EXPECT_THROW(store_.Create("", "", "f", "t"), std::invalid_argument);
    EXPECT_THROW(store_.Open(kVideoBucket, ""), std::invalid_argument);
    EXPECT_FALSE(fs::exists(dir_ / "x"));
}

TEST_F(FsBlobStoreTest, FilenameIsMetadataOnly) {
    auto writer = store_.Create(kVideoBucket, "", "../../etc/passwd\xff\n", "video/mp4");
    writer->Write(Bytes("v"));

    const BlobInfo odd = writer->Commit();

    EXPECT_TRUE(IsWellFormedId(odd.id));
    EXPECT_EQ(FilesIn(store_.Root()).size(), 1u) << "only the bucket folder";
    EXPECT_TRUE(fs::exists(store_.Root() / kVideoBucket / odd.id));
    const std::optional<BlobInfo> stat = store_.Stat(kVideoBucket, odd.id);
    ASSERT_TRUE(stat.has_value());
    EXPECT_EQ(stat->filename.substr(0, 16), "../../etc/passwd");
}

TEST_F(FsBlobStoreTest, RemoveDeletesContentAndMetadata) {
    const BlobInfo info = Put(store_, kVideoBucket, "", Bytes("bytes"));

    EXPECT_TRUE(store_.Remove(kVideoBucket, info.id));

    EXPECT_EQ(store_.Open(kVideoBucket, info.id), nullptr);
    EXPECT_FALSE(store_.Stat(kVideoBucket, info.id).has_value());
    EXPECT_FALSE(fs::exists(store_.Root() / kVideoBucket / info.id));
    EXPECT_FALSE(fs::exists(store_.Root() / kVideoBucket / (info.id + ".json")));
    EXPECT_FALSE(store_.Remove(kVideoBucket, info.id));
}

TEST_F(FsBlobStoreTest, SweepRemovesOnlyOldIncompleteFiles) {
    const BlobInfo committed = Put(store_, kVideoBucket, "", Bytes("kept"));
    fs::last_write_time(store_.Root() / kVideoBucket / committed.id,
                        fs::file_time_type::clock::now() - std::chrono::hours(48));
    auto stale = store_.Create(kVideoBucket, "stale", "", "");
    auto fresh = store_.Create(kMp3Bucket, "fresh", "", "");
    fresh->Write(Bytes("still uploading"));
    const std::vector<fs::path> stale_files = FilesIn(store_.Root() / kVideoBucket / ".incoming");
    ASSERT_EQ(stale_files.size(), 1u);
    fs::last_write_time(stale_files[0], fs::file_time_type::clock::now() - std::chrono::hours(2));

    EXPECT_EQ(store_.SweepIncomplete(std::chrono::hours(1)), 1);

    EXPECT_FALSE(fs::exists(stale_files[0]));
    EXPECT_EQ(FilesIn(store_.Root() / kMp3Bucket / ".incoming").size(), 1u);
    EXPECT_NE(store_.Open(kVideoBucket, committed.id), nullptr);
    EXPECT_TRUE(fresh->Commit().size > 0);
    EXPECT_NE(store_.Open(kMp3Bucket, "fresh"), nullptr);
    EXPECT_THROW(stale->Commit(), StorageError) << "its file was swept";
    EXPECT_FALSE(fs::exists(store_.Root() / kVideoBucket / "stale.json"));
    EXPECT_FALSE(store_.Stat(kVideoBucket, "stale").has_value());
    EXPECT_EQ(store_.SweepIncomplete(std::chrono::hours(1)), 0);
}

TEST_F(FsBlobStoreTest, SweepRemovesMetadataLeftWithoutContent) {
    const BlobInfo info = Put(store_, kVideoBucket, "", Bytes("x"));
    const fs::path content = store_.Root() / kVideoBucket / info.id;
    const fs::path metadata = store_.Root() / kVideoBucket / (info.id + ".json");
    fs::remove(content);  // as if the process died between the two renames of Commit
    fs::last_write_time(metadata, fs::file_time_type::clock::now() - std::chrono::hours(2));
    EXPECT_FALSE(store_.Stat(kVideoBucket, info.id).has_value());

    EXPECT_EQ(store_.SweepIncomplete(std::chrono::hours(1)), 1);

    EXPECT_FALSE(fs::exists(metadata));
}

TEST_F(FsBlobStoreTest, ConcurrentReplacementsKeepContentAndMetadataTogether) {
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 8; ++t) {
        threads.emplace_back([this, t] {
            for (unsigned round = 0; round < 5; ++round) {
                Put(store_, kMp3Bucket, "same", Pattern(1000 + t * 10 + round, t * 100 + round));
                const std::optional<BlobInfo> stat = store_.Stat(kMp3Bucket, "same");
                const auto source = store_.Open(kMp3Bucket, "same");
                ASSERT_TRUE(stat.has_value());
                ASSERT_NE(source, nullptr);
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }

    const std::optional<BlobInfo> stat = store_.Stat(kMp3Bucket, "same");
    const auto source = store_.Open(kMp3Bucket, "same");
    ASSERT_TRUE(stat.has_value());
    ASSERT_NE(source, nullptr);
    EXPECT_EQ(stat->sha256, Sha256Hex(ReadAll(*source)));
    EXPECT_TRUE(FilesIn(store_.Root() / kMp3Bucket / ".incoming").empty());
}

TEST_F(FsBlobStoreTest, ReadyWhileTheRootIsAWritableFolder) {
    EXPECT_TRUE(store_.Ready());

    fs::remove_all(store_.Root());
    EXPECT_FALSE(store_.Ready());

    std::ofstream(store_.Root()) << "not a folder";
    EXPECT_FALSE(store_.Ready());
}

TEST_F(FsBlobStoreTest, IoFailuresCarryTheSystemsReason) {
    std::ofstream(store_.Root() / kVideoBucket) << "a file where the bucket folder belongs";

    try {
        store_.Create(kVideoBucket, "", "", "");
        FAIL() << "created a blob under a file";
    } catch (const StorageError& error) {
        EXPECT_NE(std::string(error.what()).find("Not a directory"), std::string::npos)
            << error.what();
        EXPECT_FALSE(error.Transient());
    }

    std::ofstream(dir_ / "file") << "x";
    EXPECT_THROW(FsBlobStore(dir_ / "file" / "root"), StorageError) << "parent is a file";
}

}  // namespace
}  // namespace video2mp3::adapters
