#pragma once

#include <string>

namespace video2mp3 {

/// 128 random bits (libsodium's CSPRNG) as 32 lower-case hex characters: ids for users,
/// jobs and blobs that cannot be guessed and are safe in URLs and file names.
std::string RandomId();

/// True when `id` looks like an id this service made (1 to 64 of [0-9a-zA-Z_-]).
bool IsWellFormedId(const std::string& id);

}  // namespace video2mp3
