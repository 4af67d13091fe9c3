#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "support/media_tools.h"
#include "video2mp3/media/file_byte_source.h"
#include "video2mp3/media/memory_byte_source.h"

namespace video2mp3::media {
namespace {

std::vector<std::byte> Bytes(const std::string& text) {
    std::vector<std::byte> bytes(text.size());
    std::memcpy(bytes.data(), text.data(), text.size());
    return bytes;
}

std::string ReadString(ByteSource& source, std::size_t count) {
    std::string text(count, '\0');
    const std::size_t got =
        source.Read(std::span<std::byte>(reinterpret_cast<std::byte*>(text.data()), count));
    text.resize(got);
    return text;
}

void ExpectReadsAndSeeks(ByteSource& source) {
    ASSERT_EQ(source.Size(), 10u);
    EXPECT_EQ(ReadString(source, 4), "0123");
    EXPECT_EQ(source.Position(), 4u);
    source.Seek(8);
    EXPECT_EQ(ReadString(source, 4), "89");
    EXPECT_EQ(ReadString(source, 4), "");
    source.Seek(2);
    EXPECT_EQ(ReadString(source, 3), "234");
    source.Seek(100);
    EXPECT_EQ(ReadString(source, 1), "");
}

TEST(MemoryByteSource, ReadsSeeksAndEnds) {
    MemoryByteSource source(Bytes("0123456789"), "memory");
    ExpectReadsAndSeeks(source);
    EXPECT_EQ(source.Name(), "memory");
}

TEST(FileByteSource, ReadsSeeksAndEnds) {
    testing::TempDir dir;
    std::ofstream(dir / "digits") << "0123456789";
    FileByteSource source(dir / "digits");
    ExpectReadsAndSeeks(source);
    EXPECT_EQ(source.Name(), (dir / "digits").string());
}

TEST(FileByteSource, MissingFileNamesPathAndReason) {
    testing::TempDir dir;
    try {
        FileByteSource source(dir / "absent.mp4");
        FAIL() << "opened a missing file";
    } catch (const ByteSourceError& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("absent.mp4"), std::string::npos) << message;
        EXPECT_NE(message.find("No such file"), std::string::npos) << message;
    }
}

TEST(FileByteSource, DirectoryIsRefused) {
    testing::TempDir dir;
    EXPECT_THROW(FileByteSource source(dir.Path()), ByteSourceError);
}

}  // namespace
}  // namespace video2mp3::media
