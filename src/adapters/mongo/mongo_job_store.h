#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "video2mp3/ports/job_store.h"

namespace video2mp3::adapters {

class MongoClientPool;

/// Jobs in the MongoDB collection `jobs`, one document per job: `_id` is the job id as an
/// ObjectId (so job ids must be 24 lower-case hex characters, as RandomId() makes them),
/// and every other Job field is stored under its own name (owner_id, owner_email, status as
/// text, progress, error, filename, video_fid, mp3_fid, video_bytes, mp3_bytes, duration_s,
/// conversion_s, created_at_ms, updated_at_ms, notified, notify_error).
///
/// Each state change is one update_one whose filter includes the statuses it may start
/// from, and succeeds only when the server matched the document, so of two converters
/// racing to finish a job exactly one wins. Every change sets updated_at_ms to the system
/// clock. An id that is not an ObjectId names no job. Lists use the index
/// {owner_id: 1, created_at_ms: -1, _id: -1} (and {created_at_ms: -1, _id: -1} for all
/// owners), created before the first write or list.
///
/// Thread-safe; the pool may be shared with other adapters. Throws StorageError (transient
/// when the server cannot be reached).
class MongoJobStore final : public JobStore {
 public:
    explicit MongoJobStore(std::shared_ptr<MongoClientPool> pool);

    /// Stores the job as status queued, whatever `job.status` says. Its created_at_ms is
    /// kept when set, else it is now. Throws a non-transient StorageError when the id is
    /// not an ObjectId or is taken.
    void Create(const Job& job) override;
    std::optional<Job> Get(const std::string& id) override;

    /// Newest first (created_at_ms, then id, both descending). A `limit` of 0 or less gives
    /// nothing; a negative `offset` counts as 0.
    std::vector<Job> List(const std::string& owner_id, int limit, int offset) override;

    bool Claim(const std::string& id) override;

    /// Clamps `percent` to 0..100; does nothing unless the job is converting.
    void SetProgress(const std::string& id, int percent) override;

    /// Also sets progress to 100.
    bool Finish(const std::string& id, const std::string& mp3_fid, std::uint64_t mp3_bytes,
                double duration_s, double conversion_s) override;
    bool Fail(const std::string& id, const std::string& reason, double conversion_s) override;
    void MarkNotified(const std::string& id, const std::string& error) override;
    bool Remove(const std::string& id) override;
    std::map<std::string, long> CountByStatus() override;

    /// True when the server answers a ping.
    bool Ready() override;

 private:
    void EnsureIndexes();

    std::shared_ptr<MongoClientPool> pool_;
    std::atomic<bool> indexed_ = false;
};

}  // namespace video2mp3::adapters
