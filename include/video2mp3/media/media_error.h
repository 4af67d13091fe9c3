#pragma once

#include <stdexcept>
#include <string>

namespace video2mp3::media {

/// Why an input did not become an MP3. Every kind except kReadFailed, kWriteFailed and
/// kCancelled is a property of the input itself: converting it again gives the same answer.
enum class MediaErrorKind {
    kEmptyFile,    ///< zero bytes
    kNotMedia,     ///< no demuxer recognises the bytes
    kNoAudio,      ///< a media file without a usable audio stream
    kTruncated,    ///< the audio stops before the container says it should, or never starts
    kUndecodable,  ///< the decoder rejected every packet; the message carries its own words
    kReadFailed,   ///< the byte source failed (storage trouble, worth a retry)
    kWriteFailed,  ///< the output could not be written (disk full, permissions)
    kCancelled,    ///< the caller asked the conversion to stop
};

/// The one error the converter throws. what() is a single line a person can read, without
/// the input's name; callers prefix it with the name they know the input by.
class MediaError : public std::runtime_error {
 public:
    MediaError(MediaErrorKind kind, const std::string& reason)
        : std::runtime_error(reason), kind_(kind) {}

    MediaErrorKind Kind() const { return kind_; }

    /// True when retrying the same input cannot help.
    bool Permanent() const {
        return kind_ != MediaErrorKind::kReadFailed && kind_ != MediaErrorKind::kWriteFailed &&
               kind_ != MediaErrorKind::kCancelled;
    }

 private:
    MediaErrorKind kind_;
};

}  // namespace video2mp3::media
