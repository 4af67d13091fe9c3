#pragma once

#include <stdexcept>
#include <string>

namespace video2mp3 {

/// A store, queue or mail server could not do what was asked. Transient errors are worth a
/// retry with backoff; the others will fail the same way again.
class PortError : public std::runtime_error {
 public:
    PortError(const std::string& what, bool transient)
        : std::runtime_error(what), transient_(transient) {}
    bool Transient() const { return transient_; }

 private:
    bool transient_;
};

/// Blob, job or queue storage trouble (disk full, database locked, connection lost).
class StorageError : public PortError {
 public:
    explicit StorageError(const std::string& what, bool transient = true)
        : PortError(what, transient) {}
};

/// The mail server refused or could not be reached. A 4xx answer or a lost connection is
/// transient; a 5xx answer is not.
class MailError : public PortError {
 public:
    using PortError::PortError;
};

}  // namespace video2mp3
