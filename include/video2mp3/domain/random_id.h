#pragma once

#include <string>

namespace video2mp3 {

/// 96 random bits (libsodium's CSPRNG) as 24 lower-case hex characters: ids for users,
/// jobs and blobs that cannot be guessed and are safe in URLs and file names. 96 bits is
/// also the size of a MongoDB ObjectId, so the same id is the `_id` of a job document or a
/// GridFS file (the CongoDB test server accepts no other kind of `_id`).
std::string RandomId();

/// True when `id` looks like an id this service made (1 to 64 of [0-9a-zA-Z_-]).
bool IsWellFormedId(const std::string& id);

}  // namespace video2mp3
