#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "video2mp3/media/byte_source.h"
#include "video2mp3/media/media_error.h"

namespace video2mp3::media {

/// How the MP3 is encoded. Exactly one of the two modes applies: a set bitrate_kbps means
/// constant bitrate, otherwise LAME's variable bitrate at vbr_quality.
struct ConvertOptions {
    int vbr_quality = 2;              ///< LAME -V scale, 0 (best) to 9
    std::optional<int> bitrate_kbps;  ///< 64 to 320 for CBR
    bool allow_stream_copy = true;    ///< copy MP3 audio that already is MPEG-1 Layer III
};

/// Checks the options; throws std::invalid_argument with a message naming the bad value.
void ValidateOptions(const ConvertOptions& options);

/// One stream of the input, as the probe saw it.
struct StreamReport {
    int index = 0;
    std::string type;   ///< "audio", "video", "subtitle", "data", "attachment"
    std::string codec;  ///< FFmpeg's short codec name, "unknown" when it has none
    int sample_rate = 0;
    int channels = 0;
    std::string channel_layout;
    bool is_default = false;
    bool attached_picture = false;
    bool has_decoder = false;
    std::string language;
};

/// What a conversion did. Filled as far as it got, so a failed conversion still describes
/// its input.
struct ConvertReport {
    std::string input_name;
    std::string container;  ///< demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    std::optional<std::uint64_t> input_bytes;
    std::optional<double> input_duration_s;  ///< as the container declares it
    std::vector<StreamReport> streams;
    std::optional<int> chosen_stream;  ///< index into streams of the audio used

    std::string mode;  ///< "transcode" or "copy"
    int output_sample_rate = 0;
    int output_channels = 0;
    double output_duration_s = 0;
    std::uint64_t output_bytes = 0;
    double output_bitrate_kbps = 0;  ///< average over the whole file
    std::string output_path;

    std::uint64_t decode_errors = 0;
    std::vector<std::string> warnings;
};

/// Progress in percent, 0 to 100: by time when the input's duration is known, by bytes read
/// otherwise. Called from the converting thread, at most about once per percent.
using ProgressCallback = std::function<void(double percent)>;

/// Converts the best audio stream of `input` to an MP3 at `output`, filling `report` as it
/// goes (a failed conversion still describes its input there).
///
/// The MP3 is written next to `output` under a temporary name and renamed into place only
/// when complete, so `output` either holds a whole, valid MP3 or is left untouched. Memory
/// use is bounded by the codecs' own state, not by the input's size or length.
///
/// A stop requested through `stop` ends the conversion within one read of the input, with
/// MediaErrorKind::kCancelled and no output.
///
/// Throws MediaError (see MediaErrorKind); a thrown error leaves no output file.
/// Safe to call from several threads at once with different inputs and outputs.
void Convert(ByteSource& input, const std::filesystem::path& output, const ConvertOptions& options,
             ConvertReport& report, const ProgressCallback& progress = {},
             std::stop_token stop = {});

}  // namespace video2mp3::media
