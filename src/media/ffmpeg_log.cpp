#include "media/ffmpeg_log.h"

extern "C" {
#include <libavutil/log.h>
}

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>

namespace video2mp3::media {

namespace {

struct ThreadCapture {
    bool active = false;
    std::string last_error;
};

thread_local ThreadCapture tls_capture;

std::shared_ptr<spdlog::logger> FfmpegLogger() {
    static const std::shared_ptr<spdlog::logger> logger = [] {
        auto existing = spdlog::get("ffmpeg");
        return existing ? existing : spdlog::stderr_color_mt("ffmpeg");
    }();
    return logger;
}

std::string Trim(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '.')) {
        text.pop_back();
    }
    return text;
}

void LogHook(void* avcl, int level, const char* format, va_list args) {
    if (level > av_log_get_level()) {
        return;
    }

    char line[1024];
    int print_prefix = 1;
    av_log_format_line2(avcl, level, format, args, line, sizeof(line), &print_prefix);

    if (level <= AV_LOG_ERROR && tls_capture.active) {
        std::string text = Trim(line);
        // Drop FFmpeg's "[demuxer @ 0x...] " context prefix: an address means nothing to users.
        if (!text.empty() && text.front() == '[') {
            const auto end = text.find("] ");
            if (end != std::string::npos) {
                text.erase(0, end + 2);
            }
        }
        if (!text.empty()) {
            tls_capture.last_error = text;
        }
    }
    FfmpegLogger()->debug("{}", Trim(line));
}

}  // namespace

void InstallFfmpegLogHook() {
    static std::once_flag once;
    std::call_once(once, [] {
        FfmpegLogger();
        av_log_set_level(AV_LOG_WARNING);
        av_log_set_callback(&LogHook);
    });
}

FfmpegLogCapture::FfmpegLogCapture() {
    tls_capture.active = true;
    tls_capture.last_error.clear();
}

FfmpegLogCapture::~FfmpegLogCapture() {
    tls_capture.active = false;
    tls_capture.last_error.clear();
}

std::string FfmpegLogCapture::LastError() const {
    return tls_capture.last_error;
}

}  // namespace video2mp3::media
