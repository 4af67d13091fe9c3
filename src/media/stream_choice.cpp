#include "media/stream_choice.h"

#include <tuple>

namespace video2mp3::media {

StreamChoice ChooseAudioStream(const std::vector<StreamReport>& streams) {
    StreamChoice choice;
    std::string undecodable;

    for (std::size_t i = 0; i < streams.size(); ++i) {
        const StreamReport& stream = streams[i];
        if (stream.type != "audio" || stream.attached_picture) {
            continue;
        }
        if (!stream.has_decoder) {
            undecodable = stream.codec;
            continue;
        }
        if (stream.channels <= 0 || stream.sample_rate <= 0) {
            continue;
        }

        if (choice.index) {
            const StreamReport& best = streams[static_cast<std::size_t>(*choice.index)];
            // Earlier streams win ties, so only a strictly better stream replaces the best.
            if (std::tie(stream.is_default, stream.channels) <=
                std::tie(best.is_default, best.channels)) {
                continue;
            }
        }
        choice.index = static_cast<int>(i);
    }

    if (!choice.index) {
        if (!undecodable.empty()) {
            choice.failure = MediaErrorKind::kUndecodable;
            choice.reason = "no decoder for the audio codec '" + undecodable + "'";
        } else {
            choice.failure = MediaErrorKind::kNoAudio;
            choice.reason = "no audio stream";
        }
    }
    return choice;
}

}  // namespace video2mp3::media
