#pragma once

#include <mongoc/mongoc.h>

#include <string>

namespace video2mp3::adapters {

/// True when a libmongoc error is worth a retry: the server could not be reached or
/// selected, the connection broke, or the server answered with one of the codes the
/// retryable-reads and retryable-writes specifications list (a primary stepping down or
/// shutting down, a network timeout), or labelled the error retryable. `reply` is the
/// server's reply when there is one.
bool IsTransientMongoError(const bson_error_t& error, const bson_t* reply = nullptr);

/// Throws a StorageError "MongoDB: <action>: <libmongoc's or the server's message>",
/// transient as IsTransientMongoError says.
[[noreturn]] void ThrowMongoError(const std::string& action, const bson_error_t& error,
                                  const bson_t* reply = nullptr);

}  // namespace video2mp3::adapters
