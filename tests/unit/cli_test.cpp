// `video2mp3 convert` as a user runs it: exit status, the one-line error, --json.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/media_tools.h"

namespace video2mp3 {
namespace {

testing::CommandResult Video2mp3(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {VIDEO2MP3_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::Run(argv);
}

TEST(ConvertCommand, ConvertsAndPrintsAJsonReport) {
    testing::TempDir dir;
    testing::Ffmpeg({"-f", "lavfi", "-i", "sine=duration=3", "-f", "lavfi", "-i",
                     "testsrc=size=160x120:duration=3", "-c:v", "libx264", "-c:a", "aac"},
                    dir / "clip.mp4");

    const auto result = Video2mp3(
        {"convert", (dir / "clip.mp4").string(), "-o", (dir / "clip.mp3").string(), "--json"});

    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json["input"]["container"], "mov,mp4,m4a,3gp,3g2,mj2");
    EXPECT_EQ(json["input"]["streams"].size(), 2u);
    EXPECT_EQ(json["chosen_stream"]["codec"], "aac");
    EXPECT_EQ(json["chosen_stream"]["index"], 1);
    EXPECT_EQ(json["output"]["mode"], "transcode");
    EXPECT_NEAR(json["output"]["duration_s"].get<double>(), 3.0, 0.1);
    EXPECT_GT(json["output"]["bitrate_kbps"].get<double>(), 0);
    EXPECT_TRUE(json["warnings"].empty());
    EXPECT_TRUE(json["error"].is_null());
    EXPECT_EQ(std::filesystem::file_size(dir / "clip.mp3"),
              json["output"]["bytes"].get<std::uint64_t>());
}

TEST(ConvertCommand, BadInputExits65WithOneLineNamingTheFile) {
    testing::TempDir dir;
    std::ofstream(dir / "holiday.mp4") << "this is not a video";

    const auto result = Video2mp3(
        {"convert", (dir / "holiday.mp4").string(), "-o", (dir / "holiday.mp3").string()});

    EXPECT_EQ(result.exit_code, 65);
    EXPECT_EQ(result.err, "video2mp3: " + (dir / "holiday.mp4").string() + ": not a media file\n");
    EXPECT_FALSE(std::filesystem::exists(dir / "holiday.mp3"));
}

TEST(ConvertCommand, FailureInJsonNamesTheKind) {
    testing::TempDir dir;
    std::ofstream(dir / "empty.mkv").flush();

    const auto result = Video2mp3(
        {"convert", (dir / "empty.mkv").string(), "-o", (dir / "empty.mp3").string(), "--json"});

    EXPECT_EQ(result.exit_code, 65);
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json["error"]["kind"], "empty_file");
    EXPECT_EQ(json["error"]["message"], "empty file");
    EXPECT_FALSE(json.contains("output"));
}

TEST(ConvertCommand, ExistingOutputSurvivesAFailedConversion) {
    testing::TempDir dir;
    std::ofstream(dir / "broken.mp4") << "garbage";
    std::ofstream(dir / "keep.mp3") << "an older MP3";

    const auto result =
        Video2mp3({"convert", (dir / "broken.mp4").string(), "-o", (dir / "keep.mp3").string()});

    EXPECT_EQ(result.exit_code, 65);
    std::ifstream kept(dir / "keep.mp3");
    std::string content;
    std::getline(kept, content);
    EXPECT_EQ(content, "an older MP3");
}

TEST(ConvertCommand, OptionsAreChecked) {
    testing::TempDir dir;
    std::ofstream(dir / "a.wav") << "x";

    EXPECT_EQ(Video2mp3({"convert", (dir / "a.wav").string(), "--quality", "12"}).exit_code, 64);
    EXPECT_EQ(Video2mp3({"convert", (dir / "a.wav").string(), "--bitrate", "500k"}).exit_code, 64);
    EXPECT_EQ(Video2mp3({"convert", (dir / "a.wav").string(), "--bitrate", "fast"}).exit_code, 64);
    EXPECT_EQ(Video2mp3({"convert", (dir / "a.wav").string(), "-q", "2", "-b", "128k"}).exit_code,
              64);
}

TEST(ConvertCommand, MissingInputPipeAndFolderExit66) {
    testing::TempDir dir;
    ASSERT_EQ(::mkfifo((dir / "pipe").c_str(), 0600), 0);

    for (const auto& input : {dir / "absent.mp4", dir / "pipe", dir.Path()}) {
        const auto result = Video2mp3({"convert", input.string(), "-o", (dir / "x.mp3").string()});
        EXPECT_EQ(result.exit_code, 66) << input << ": " << result.err;
        EXPECT_NE(result.err.find(input.string()), std::string::npos) << result.err;
    }
}

TEST(ConvertCommand, JsonSurvivesNamesThatAreNotUtf8) {
    testing::TempDir dir;
    const std::string name = "caf\xe9.flac";  // Latin-1, as old archives have
    testing::Ffmpeg({"-f", "lavfi", "-i", "sine=duration=1", "-c:a", "flac"}, dir / name);

    const auto result =
        Video2mp3({"convert", (dir / name).string(), "-o", (dir / "out.mp3").string(), "--json"});

    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_NE(json["input"]["name"].get<std::string>().find("caf"), std::string::npos);
}

TEST(ConvertCommand, TerminationLeavesNoPartialFile) {
    testing::TempDir dir;
    testing::Ffmpeg({"-f", "lavfi", "-i", "anoisesrc=duration=900:sample_rate=48000", "-ac", "2",
                     "-c:a", "pcm_s16le"},
                    dir / "long.wav");

    // Started in the background, terminated after a second, well before it can finish.
    const std::string script = "'" VIDEO2MP3_BINARY "' convert '" + (dir / "long.wav").string() +
                               "' -o '" + (dir / "long.mp3").string() +
                               "' & pid=$!; sleep 1; kill -TERM $pid; wait $pid; echo $?";
    const auto result = testing::Run({"sh", "-c", script});

    EXPECT_EQ(result.out, "143\n") << result.err;
    for (const auto& entry : std::filesystem::directory_iterator(dir.Path())) {
        EXPECT_EQ(entry.path().filename(), "long.wav") << "left behind: " << entry.path();
    }
}

TEST(ConvertCommand, DefaultOutputIsTheInputNameWithMp3) {
    testing::TempDir dir;
    testing::Ffmpeg({"-f", "lavfi", "-i", "sine=duration=1", "-c:a", "flac"}, dir / "Take 1.flac");

    const auto result = testing::Run(
        {"sh", "-c",
         "cd '" + dir.Path().string() + "' && '" VIDEO2MP3_BINARY "' convert 'Take 1.flac'"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(std::filesystem::exists(dir / "Take 1.mp3"));
}

}  // namespace
}  // namespace video2mp3
