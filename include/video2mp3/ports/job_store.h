#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "video2mp3/domain/job.h"

namespace video2mp3 {

/// Port: jobs and their state (SQLite, MongoDB). Every state change is conditional on the
/// current state, so two converters can never both finish one job. Thread-safe; throws
/// StorageError on trouble.
class JobStore {
 public:
    virtual ~JobStore() = default;

    /// Stores a new job (status queued). Its id must be new.
    virtual void Create(const Job& job) = 0;
    virtual std::optional<Job> Get(const std::string& id) = 0;

    /// Jobs of one owner (all owners when `owner_id` is empty), newest first.
    virtual std::vector<Job> List(const std::string& owner_id, int limit, int offset) = 0;

    /// queued or converting -> converting (converting again after a crash). False when the
    /// job is missing, done or failed.
    virtual bool Claim(const std::string& id) = 0;

    /// Records conversion progress of a converting job.
    virtual void SetProgress(const std::string& id, int percent) = 0;

    /// converting -> done, with the MP3's facts. False when the job was not converting.
    virtual bool Finish(const std::string& id, const std::string& mp3_fid, std::uint64_t mp3_bytes,
                        double duration_s, double conversion_s) = 0;

    /// queued or converting -> failed with a reason. False otherwise.
    virtual bool Fail(const std::string& id, const std::string& reason, double conversion_s) = 0;

    /// Records that the owner's e-mail went out (empty `error`) or could not be sent.
    virtual void MarkNotified(const std::string& id, const std::string& error) = 0;

    /// Removes the job; true when it existed.
    virtual bool Remove(const std::string& id) = 0;

    /// Number of jobs in each status, keyed by ToString(status).
    virtual std::map<std::string, long> CountByStatus() = 0;
    virtual bool Ready() = 0;
};

}  // namespace video2mp3
