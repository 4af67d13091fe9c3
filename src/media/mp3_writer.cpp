#include "media/mp3_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "video2mp3/media/media_error.h"

namespace video2mp3::media {

namespace {

[[noreturn]] void ThrowWriteFailed(const std::string& what, int code) {
    throw MediaError(MediaErrorKind::kWriteFailed, what + ": " + AvErrorText(code));
}

}  // namespace

Mp3Writer::Mp3Writer(const std::filesystem::path& destination) : destination_(destination) {
    if (!destination.has_filename()) {
        throw MediaError(MediaErrorKind::kWriteFailed,
                         "the output " + destination.string() + " names a folder, not a file");
    }
    // Renaming over a device, a folder or a symbolic link would replace it, not write to it.
    std::error_code status_error;
    const auto status = std::filesystem::symlink_status(destination, status_error);
    if (!status_error && std::filesystem::exists(status) &&
        !std::filesystem::is_regular_file(status)) {
        throw MediaError(MediaErrorKind::kWriteFailed,
                         "will not replace " + destination.string() + ": it is not a regular file");
    }

    const std::filesystem::path folder =
        destination.has_parent_path() ? destination.parent_path() : std::filesystem::path(".");

    // A unique name in the destination's own folder, so the final rename is atomic.
    std::string name = ".";
    name += destination.filename().string();
    name += ".part-XXXXXX";
    std::string pattern = (folder / name).string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) {
        throw MediaError(
            MediaErrorKind::kWriteFailed,
            "cannot create a file in " + folder.string() + ": " + std::strerror(errno));
    }
    // mkstemp makes the file private; an MP3 is as readable as any file the user creates.
    ::fchmod(fd, 0644);
    ::close(fd);
    temporary_ = pattern;
}

Mp3Writer::~Mp3Writer() {
    context_.reset();
    if (!committed_) {
        std::error_code ignored;
        std::filesystem::remove(temporary_, ignored);
    }
}

AVRational Mp3Writer::Open(const AVCodecParameters& parameters, AVRational time_base,
                           const AVDictionary* tags) {
    AVFormatContext* raw = nullptr;
    int code = avformat_alloc_output_context2(&raw, nullptr, "mp3", temporary_.c_str());
    if (code < 0) {
        ThrowWriteFailed("cannot set up the MP3 muxer", code);
    }
    context_.reset(raw);

    AVStream* stream = avformat_new_stream(raw, nullptr);
    if (stream == nullptr) {
        throw std::bad_alloc();
    }
    code = avcodec_parameters_copy(stream->codecpar, &parameters);
    if (code < 0) {
        ThrowWriteFailed("cannot describe the MP3 stream", code);
    }
    stream->codecpar->codec_tag = 0;
    stream->time_base = time_base;
    av_dict_copy(&raw->metadata, tags, 0);

    code = avio_open(&raw->pb, temporary_.c_str(), AVIO_FLAG_WRITE);
    if (code < 0) {
        ThrowWriteFailed("cannot open " + temporary_.string(), code);
    }

    AVDictionary* options = nullptr;
    av_dict_set(&options, "id3v2_version", "3", 0);
    av_dict_set(&options, "write_xing", "1", 0);
    code = avformat_write_header(raw, &options);
    av_dict_free(&options);
    if (code < 0) {
        ThrowWriteFailed("cannot write the MP3 header", code);
    }
    return stream->time_base;
}

void Mp3Writer::Write(AVPacket& packet) {
    packet.stream_index = 0;
    const int code = av_write_frame(context_.get(), &packet);
    if (code < 0) {
        ThrowWriteFailed("cannot write MP3 audio", code);
    }
}

std::uint64_t Mp3Writer::Commit() {
    int code = av_write_trailer(context_.get());
    if (code < 0) {
        ThrowWriteFailed("cannot finish the MP3", code);
    }
    code = avio_closep(&context_->pb);
    if (code < 0) {
        ThrowWriteFailed("cannot close the MP3", code);
    }
    context_.reset();

    std::error_code error;
    std::filesystem::rename(temporary_, destination_, error);
    if (error) {
        throw MediaError(
            MediaErrorKind::kWriteFailed,
            "cannot move the MP3 into place at " + destination_.string() + ": " + error.message());
    }
    committed_ = true;
    return std::filesystem::file_size(destination_);
}

}  // namespace video2mp3::media
