#pragma once

#include <optional>
#include <string>
#include <vector>

#include "video2mp3/media/converter.h"

namespace video2mp3::media {

/// The audio stream to convert, or why there is none.
struct StreamChoice {
    std::optional<int> index;  ///< position in the streams list
    MediaErrorKind failure = MediaErrorKind::kNoAudio;
    std::string reason;  ///< set when index is empty
};

/// Picks the audio stream to convert: ignores attached pictures and every non-audio stream,
/// skips streams FFmpeg has no decoder for or that declare no channels, then prefers the
/// stream marked default, then the one with more channels, then the earlier one.
StreamChoice ChooseAudioStream(const std::vector<StreamReport>& streams);

}  // namespace video2mp3::media
