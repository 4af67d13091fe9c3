#pragma once

#include <string>

namespace video2mp3::media {

/// Sends FFmpeg's log lines to spdlog (debug level, logger "ffmpeg") instead of stderr, and
/// remembers, per thread, the last error line FFmpeg printed while a capture is active.
/// Installing the hook once per process is enough; it is idempotent and thread-safe.
void InstallFfmpegLogHook();

/// While alive, collects FFmpeg's error lines on the current thread, so a failure can be
/// reported in the library's own words ("Invalid data found", "Header missing", ...).
class FfmpegLogCapture {
 public:
    FfmpegLogCapture();
    ~FfmpegLogCapture();

    FfmpegLogCapture(const FfmpegLogCapture&) = delete;
    FfmpegLogCapture& operator=(const FfmpegLogCapture&) = delete;

    /// The last error line, trimmed, or empty.
    std::string LastError() const;
};

}  // namespace video2mp3::media
