#include "media/stream_choice.h"

#include <gtest/gtest.h>

namespace video2mp3::media {
namespace {

StreamReport Audio(int channels, bool is_default = false, bool decodable = true) {
    StreamReport stream;
    stream.type = "audio";
    stream.codec = decodable ? "aac" : "mystery";
    stream.channels = channels;
    stream.sample_rate = 48000;
    stream.is_default = is_default;
    stream.has_decoder = decodable;
    return stream;
}

StreamReport Video(bool attached_picture = false) {
    StreamReport stream;
    stream.type = "video";
    stream.codec = attached_picture ? "png" : "h264";
    stream.attached_picture = attached_picture;
    stream.has_decoder = true;
    return stream;
}

TEST(StreamChoice, VideoOnlyHasNoAudioStream) {
    const StreamChoice choice = ChooseAudioStream({Video(), Video(true)});
    EXPECT_FALSE(choice.index);
    EXPECT_EQ(choice.failure, MediaErrorKind::kNoAudio);
    EXPECT_EQ(choice.reason, "no audio stream");
}

TEST(StreamChoice, SkipsVideoAndCoverArtToFindTheAudio) {
    const StreamChoice choice = ChooseAudioStream({Video(), Video(true), Audio(2)});
    ASSERT_TRUE(choice.index);
    EXPECT_EQ(*choice.index, 2);
}

TEST(StreamChoice, DefaultTrackWinsOverMoreChannels) {
    const StreamChoice choice = ChooseAudioStream({Audio(6), Audio(2, true)});
    ASSERT_TRUE(choice.index);
    EXPECT_EQ(*choice.index, 1);
}

TEST(StreamChoice, MoreChannelsWinAmongEquals) {
    const StreamChoice choice = ChooseAudioStream({Audio(1), Audio(6), Audio(2)});
    ASSERT_TRUE(choice.index);
    EXPECT_EQ(*choice.index, 1);
}

TEST(StreamChoice, EarlierTrackWinsATie) {
    const StreamChoice choice = ChooseAudioStream({Video(), Audio(6, true), Audio(6, true)});
    ASSERT_TRUE(choice.index);
    EXPECT_EQ(*choice.index, 1);
}

TEST(StreamChoice, SkipsTracksWithoutADecoder) {
    const StreamChoice choice = ChooseAudioStream({Audio(8, true, false), Audio(2)});
    ASSERT_TRUE(choice.index);
    EXPECT_EQ(*choice.index, 1);
}

TEST(StreamChoice, OnlyUndecodableAudioNamesTheCodec) {
    const StreamChoice choice = ChooseAudioStream({Video(), Audio(2, true, false)});
    EXPECT_FALSE(choice.index);
    EXPECT_EQ(choice.failure, MediaErrorKind::kUndecodable);
    EXPECT_NE(choice.reason.find("mystery"), std::string::npos);
}

TEST(StreamChoice, SkipsAudioThatDeclaresNoChannels) {
    StreamReport broken = Audio(0, true);
    const StreamChoice choice = ChooseAudioStream({broken, Audio(1)});
    ASSERT_TRUE(choice.index);
    EXPECT_EQ(*choice.index, 1);
}

}  // namespace
}  // namespace video2mp3::media
