#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_database.h"
#include "video2mp3/ports/job_store.h"

namespace video2mp3::adapters {

/// Jobs in the SQLite database. Each state change is one UPDATE conditional on the current
/// status, so of two converters racing to finish a job (in this process or another) exactly
/// one wins. Every change sets updated_at_ms to the system clock. Thread-safe; the database
/// must outlive the store.
class SqliteJobStore final : public JobStore {
 public:
    explicit SqliteJobStore(SqliteDatabase& database);

    /// Stores the job as status queued, whatever `job.status` says. Its created_at_ms is
    /// kept when set, else it is now; updated_at_ms is now. Throws a non-transient
    /// StorageError when the id is taken.
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
    bool Ready() override;

 private:
    SqliteDatabase& database_;
};

}  // namespace video2mp3::adapters
