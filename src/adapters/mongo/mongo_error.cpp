#include "adapters/mongo/mongo_error.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

// Server error codes that the retryable reads and writes specifications treat as
// retryable: the node is shutting down, stepping down or unreachable, or timed out.
constexpr std::array<std::uint32_t, 13> kRetryableServerCodes = {
    6,      // HostUnreachable
    7,      // HostNotFound
    89,     // NetworkTimeout
    91,     // ShutdownInProgress
    134,    // ReadConcernMajorityNotAvailableYet
    189,    // PrimarySteppedDown
    262,    // ExceededTimeLimit
    9001,   // SocketException
    10107,  // NotWritablePrimary
    11600,  // InterruptedAtShutdown
    11602,  // InterruptedDueToReplStateChange
    13435,  // NotPrimaryNoSecondaryOk
    13436,  // NotPrimaryOrSecondary
};

}  // namespace

bool IsTransientMongoError(const bson_error_t& error, const bson_t* reply) {
    if (reply != nullptr && (mongoc_error_has_label(reply, "RetryableWriteError") ||
                             mongoc_error_has_label(reply, "TransientTransactionError"))) {
        return true;
    }

    switch (error.domain) {
        case MONGOC_ERROR_STREAM:
        case MONGOC_ERROR_SERVER_SELECTION:
            return true;
        case MONGOC_ERROR_CLIENT:
            return error.code == MONGOC_ERROR_CLIENT_NOT_READY;
        case MONGOC_ERROR_SERVER:
        case MONGOC_ERROR_WRITE_CONCERN:
            return std::find(kRetryableServerCodes.begin(), kRetryableServerCodes.end(),
                             error.code) != kRetryableServerCodes.end();
        default:
            return false;
    }
}

void ThrowMongoError(const std::string& action, const bson_error_t& error, const bson_t* reply) {
    throw StorageError("MongoDB: " + action + ": " + error.message,
                       IsTransientMongoError(error, reply));
}

}  // namespace video2mp3::adapters
