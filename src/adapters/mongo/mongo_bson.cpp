#include "adapters/mongo/mongo_bson.h"

#include <array>
#include <chrono>
#include <cmath>
#include <string_view>

namespace video2mp3::adapters {

std::optional<bson_oid_t> ParseObjectId(const std::string& id) {
    if (id.size() != 24) {
        return std::nullopt;
    }
    for (const char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return std::nullopt;
        }
    }
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, id.c_str());
    return oid;
}

std::string ObjectIdHex(const bson_oid_t& oid) {
    std::array<char, 25> hex{};
    bson_oid_to_string(&oid, hex.data());
    return std::string(hex.data(), 24);
}

bool BsonFields::Find(const char* path, bson_iter_t* iter) const {
    bson_iter_t root;
    return bson_iter_init(&root, &document_) && bson_iter_find_descendant(&root, path, iter);
}

std::optional<std::int64_t> BsonFields::Int64(const char* path) const {
    bson_iter_t iter;
    if (!Find(path, &iter)) {
        return std::nullopt;
    }
    if (BSON_ITER_HOLDS_INT32(&iter) || BSON_ITER_HOLDS_INT64(&iter)) {
        return bson_iter_as_int64(&iter);
    }
    if (BSON_ITER_HOLDS_DOUBLE(&iter)) {
        const double value = bson_iter_double(&iter);
        if (std::isfinite(value) && std::trunc(value) == value && std::fabs(value) < 9.0e15) {
            return static_cast<std::int64_t>(value);
        }
    }
    return std::nullopt;
}

std::optional<double> BsonFields::Double(const char* path) const {
    bson_iter_t iter;
    if (!Find(path, &iter)) {
        return std::nullopt;
    }
    if (BSON_ITER_HOLDS_DOUBLE(&iter)) {
        return bson_iter_double(&iter);
    }
    if (BSON_ITER_HOLDS_INT32(&iter) || BSON_ITER_HOLDS_INT64(&iter)) {
        return static_cast<double>(bson_iter_as_int64(&iter));
    }
    return std::nullopt;
}

std::optional<std::string> BsonFields::Utf8(const char* path) const {
    bson_iter_t iter;
    if (!Find(path, &iter) || !BSON_ITER_HOLDS_UTF8(&iter)) {
        return std::nullopt;
    }
    std::uint32_t length = 0;
    const char* text = bson_iter_utf8(&iter, &length);
    return std::string(text, length);
}

std::optional<bool> BsonFields::Bool(const char* path) const {
    bson_iter_t iter;
    if (!Find(path, &iter) || !BSON_ITER_HOLDS_BOOL(&iter)) {
        return std::nullopt;
    }
    return bson_iter_bool(&iter);
}

std::optional<std::int64_t> BsonFields::DateMs(const char* path) const {
    bson_iter_t iter;
    if (!Find(path, &iter) || !BSON_ITER_HOLDS_DATE_TIME(&iter)) {
        return std::nullopt;
    }
    return bson_iter_date_time(&iter);
}

std::optional<bson_oid_t> BsonFields::ObjectId(const char* path) const {
    bson_iter_t iter;
    if (!Find(path, &iter) || !BSON_ITER_HOLDS_OID(&iter)) {
        return std::nullopt;
    }
    return *bson_iter_oid(&iter);
}

bool BsonFields::Has(const char* path) const {
    bson_iter_t iter;
    return Find(path, &iter);
}

namespace {

/// The length of the valid UTF-8 sequence (other than NUL) at the start of `text`, or 0.
std::size_t Utf8SequenceLength(std::string_view text) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const auto continuation = [&](std::size_t i, unsigned char low = 0x80,
                                  unsigned char high = 0xBF) {
        return i < text.size() && byte(i) >= low && byte(i) <= high;
    };

    const unsigned char lead = byte(0);
    if (lead >= 0x01 && lead <= 0x7F) {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        return continuation(1) ? 2 : 0;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;
        const unsigned char high = lead == 0xED ? 0x9F : 0xBF;
        return continuation(1, low, high) && continuation(2) ? 3 : 0;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
        const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;
        return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
    }
    return 0;
}

}  // namespace

std::string ToValidUtf8(const std::string& text) {
    std::string valid;
    valid.reserve(text.size());
    std::string_view rest = text;
    while (!rest.empty()) {
        const std::size_t length = Utf8SequenceLength(rest);
        if (length == 0) {
            valid += "\xEF\xBF\xBD";
            rest.remove_prefix(1);
        } else {
            valid.append(rest.substr(0, length));
            rest.remove_prefix(length);
        }
    }
    return valid;
}

std::int64_t MongoNowMs() {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
}

}  // namespace video2mp3::adapters
