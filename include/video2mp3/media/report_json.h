#pragma once

#include <nlohmann/json.hpp>

#include "video2mp3/media/converter.h"

namespace video2mp3::media {

/// The machine-readable form of a conversion report (`video2mp3 convert --json`).
nlohmann::json ToJson(const ConvertReport& report);

/// A short name for an error kind: "empty_file", "not_media", "no_audio", ...
const char* ErrorKindName(MediaErrorKind kind);

}  // namespace video2mp3::media
