#pragma once

// Helpers for converter tests: make inputs with the ffmpeg program (lavfi sources), run the
// video2mp3 binary, and inspect an MP3 the way a player would.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace video2mp3::testing {

/// A fresh folder under the system's temporary folder, removed with everything in it.
class TempDir {
 public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& Path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
    std::filesystem::path path_;
};

struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
    long peak_rss_kib = 0;  ///< the child's peak resident set size
};

/// Runs argv[0] with the arguments (no shell), capturing stdout and stderr.
CommandResult Run(const std::vector<std::string>& argv);

/// Runs `ffmpeg -y -v error ARGS... OUTPUT`; fails the current test when ffmpeg fails.
void Ffmpeg(const std::vector<std::string>& args, const std::filesystem::path& output);

/// What a player sees in an MP3.
struct Mp3Facts {
    bool mpeg1_layer3 = false;  ///< every frame header found says MPEG-1 Layer III
    bool has_xing = false;      ///< the first frame is a Xing/Info frame
    bool id3v23 = false;        ///< starts with an ID3v2.3 tag
    int sample_rate = 0;
    int channels = 0;
    double header_duration_s = 0;             ///< ffprobe's duration, read from the headers only
    double decoded_duration_s = 0;            ///< decoding every frame
    std::vector<double> channel_rms;          ///< loudness of each channel, 0..1
    std::map<std::string, std::string> tags;  ///< ffprobe's format tags, lower-case keys
};

/// Inspects an MP3 file; fails the current test if it is not one.
Mp3Facts InspectMp3(const std::filesystem::path& path);

/// Reads a whole file into memory.
std::vector<std::byte> ReadBytes(const std::filesystem::path& path);
/// The same, as a string ("" when the file cannot be read).
std::string ReadText(const std::filesystem::path& path);

/// Writes bytes to a file, replacing it.
void WriteBytes(const std::filesystem::path& path, const std::vector<std::byte>& bytes);
void WriteBytes(const std::filesystem::path& path, const std::string& bytes);

/// The shared real-world media folder (../shared/media beside the checkout, or
/// $VIDEO2MP3_MEDIA_DIR), if present.
std::optional<std::filesystem::path> SharedMediaDir();

/// True when built with AddressSanitizer (memory figures are meaningless there).
constexpr bool kUnderSanitizer =
#if defined(__SANITIZE_ADDRESS__)
    true;
#else
    false;
#endif

}  // namespace video2mp3::testing
