#pragma once

#include <filesystem>
#include <string>

#include "media/av_handles.h"

namespace video2mp3::media {

/// Writes one MP3 stream (ID3v2.3 tags, a Xing/LAME header, then the audio frames) to a
/// temporary file beside the destination, and renames it into place on Commit(). Until
/// then the destination is untouched; a writer destroyed without Commit() removes its
/// temporary file.
class Mp3Writer {
 public:
    explicit Mp3Writer(const std::filesystem::path& destination);
    ~Mp3Writer();

    Mp3Writer(const Mp3Writer&) = delete;
    Mp3Writer& operator=(const Mp3Writer&) = delete;

    /// Adds the audio stream; `parameters` describe MP3 audio (from the encoder or a copied
    /// stream). Returns the stream's time base once the header is written.
    AVRational Open(const AVCodecParameters& parameters, AVRational time_base,
                    const AVDictionary* tags);

    /// Writes one MP3 packet whose timestamps are in the time base Open() returned.
    void Write(AVPacket& packet);

    /// Finishes the file (the muxer rewrites the Xing header now), renames it into place and
    /// returns its size in bytes.
    std::uint64_t Commit();

 private:
    std::filesystem::path destination_;
    std::filesystem::path temporary_;
    OutputFormatPtr context_;
    bool committed_ = false;
};

}  // namespace video2mp3::media
