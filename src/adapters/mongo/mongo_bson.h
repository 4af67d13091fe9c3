#pragma once

#include <mongoc/mongoc.h>

#include <cstdint>
#include <optional>
#include <string>

namespace video2mp3::adapters {

/// The ObjectId that `id` spells, when it is exactly 24 lower-case hex characters (the form
/// RandomId() makes and ObjectIdHex() gives back).
std::optional<bson_oid_t> ParseObjectId(const std::string& id);

/// 24 lower-case hex characters.
std::string ObjectIdHex(const bson_oid_t& oid);

/// Reads a field of `document`; `path` may be dotted ("metadata.sha256").
class BsonFields {
 public:
    explicit BsonFields(const bson_t& document) : document_(document) {}

    /// An integer field (int32, int64, or a double holding a whole number).
    std::optional<std::int64_t> Int64(const char* path) const;
    std::optional<double> Double(const char* path) const;
    std::optional<std::string> Utf8(const char* path) const;
    std::optional<bool> Bool(const char* path) const;
    std::optional<std::int64_t> DateMs(const char* path) const;
    std::optional<bson_oid_t> ObjectId(const char* path) const;
    bool Has(const char* path) const;

 private:
    bool Find(const char* path, bson_iter_t* iter) const;

    const bson_t& document_;
};

/// `text` with every byte that is not part of valid UTF-8, and every NUL, replaced by
/// U+FFFD: BSON strings must be UTF-8, while file names and messages may come from anywhere.
std::string ToValidUtf8(const std::string& text);

/// Milliseconds since the Unix epoch, from the system clock.
std::int64_t MongoNowMs();

}  // namespace video2mp3::adapters
