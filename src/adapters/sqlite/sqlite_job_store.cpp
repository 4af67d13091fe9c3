#include "adapters/sqlite/sqlite_job_store.h"

#include <algorithm>

#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

constexpr const char* kJobColumns =
    "id, owner_id, owner_email, status, progress, error, filename, video_fid, mp3_fid, "
    "video_bytes, mp3_bytes, duration_s, conversion_s, created_at_ms, updated_at_ms, "
    "notified, notify_error";

constexpr JobStatus kStatuses[] = {JobStatus::kQueued, JobStatus::kConverting, JobStatus::kDone,
                                   JobStatus::kFailed};

Job ReadJob(const SqliteStatement& row) {
    Job job;
    job.id = row.Text(0);
    job.owner_id = row.Text(1);
    job.owner_email = row.Text(2);

    const std::string status = row.Text(3);
    const std::optional<JobStatus> parsed = ParseJobStatus(status);
    if (!parsed) {
        throw StorageError("SQLite: job " + job.id + " has an unknown status '" + status + "'",
                           false);
    }
    job.status = *parsed;

    job.progress = row.Int(4);
    job.error = row.Text(5);
    job.filename = row.Text(6);
    job.video_fid = row.Text(7);
    job.mp3_fid = row.Text(8);
    job.video_bytes = static_cast<std::uint64_t>(row.Int64(9));
    job.mp3_bytes = static_cast<std::uint64_t>(row.Int64(10));
    job.duration_s = row.Double(11);
    job.conversion_s = row.Double(12);
    job.created_at_ms = row.Int64(13);
    job.updated_at_ms = row.Int64(14);
    job.notified = row.Int(15) != 0;
    job.notify_error = row.Text(16);
    return job;
}

}  // namespace

SqliteJobStore::SqliteJobStore(SqliteDatabase& database) : database_(database) {}

void SqliteJobStore::Create(const Job& job) {
    const std::int64_t now = UnixNowMs();

    SqliteSession session(database_);
    session
        .Prepare(std::string("INSERT INTO jobs (") + kJobColumns +
                 ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                 "?16, ?17)")
        .Bind(1, job.id)
        .Bind(2, job.owner_id)
        .Bind(3, job.owner_email)
        .Bind(4, ToString(JobStatus::kQueued))
        .Bind(5, std::clamp(job.progress, 0, 100))
        .Bind(6, job.error)
        .Bind(7, job.filename)
        .Bind(8, job.video_fid)
        .Bind(9, job.mp3_fid)
        .Bind(10, static_cast<std::int64_t>(job.video_bytes))
        .Bind(11, static_cast<std::int64_t>(job.mp3_bytes))
        .Bind(12, job.duration_s)
        .Bind(13, job.conversion_s)
        .Bind(14, job.created_at_ms != 0 ? job.created_at_ms : now)
        .Bind(15, now)
        .Bind(16, job.notified ? 1 : 0)
        .Bind(17, job.notify_error)
        .Run();
}

std::optional<Job> SqliteJobStore::Get(const std::string& id) {
    SqliteSession session(database_);
    SqliteStatement select =
        session.Prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?1");
    select.Bind(1, id);

    if (!select.Step()) {
        return std::nullopt;
    }
    return ReadJob(select);
}

std::vector<Job> SqliteJobStore::List(const std::string& owner_id, int limit, int offset) {
    if (limit <= 0) {
        return {};
    }

    // Two statements rather than "?1 = '' OR owner_id = ?1", so each can use its index.
    const std::string where = owner_id.empty() ? "" : " WHERE owner_id = ?3";
    SqliteSession session(database_);
    SqliteStatement select =
        session.Prepare(std::string("SELECT ") + kJobColumns + " FROM jobs" + where +
                        " ORDER BY created_at_ms DESC, id DESC LIMIT ?1 OFFSET ?2");
    select.Bind(1, limit).Bind(2, std::max(offset, 0));
    if (!owner_id.empty()) {
        select.Bind(3, owner_id);
    }

    std::vector<Job> jobs;
    while (select.Step()) {
        jobs.push_back(ReadJob(select));
    }
    return jobs;
}

bool SqliteJobStore::Claim(const std::string& id) {
    SqliteSession session(database_);
    session
        .Prepare(
            "UPDATE jobs SET status = 'converting', updated_at_ms = ?1 "
            "WHERE id = ?2 AND status IN ('queued', 'converting')")
        .Bind(1, UnixNowMs())
        .Bind(2, id)
        .Run();
    return session.Changes() > 0;
}

void SqliteJobStore::SetProgress(const std::string& id, int percent) {
    SqliteSession session(database_);
    session
        .Prepare(
            "UPDATE jobs SET progress = ?1, updated_at_ms = ?2 "
            "WHERE id = ?3 AND status = 'converting'")
        .Bind(1, std::clamp(percent, 0, 100))
        .Bind(2, UnixNowMs())
        .Bind(3, id)
        .Run();
}

bool SqliteJobStore::Finish(const std::string& id, const std::string& mp3_fid,
                            std::uint64_t mp3_bytes, double duration_s, double conversion_s) {
    SqliteSession session(database_);
    session
        .Prepare(
            "UPDATE jobs SET status = 'done', progress = 100, mp3_fid = ?1, mp3_bytes = ?2, "
            "duration_s = ?3, conversion_s = ?4, updated_at_ms = ?5 "
            "WHERE id = ?6 AND status = 'converting'")
        .Bind(1, mp3_fid)
        .Bind(2, static_cast<std::int64_t>(mp3_bytes))
        .Bind(3, duration_s)
        .Bind(4, conversion_s)
        .Bind(5, UnixNowMs())
        .Bind(6, id)
        .Run();
    return session.Changes() > 0;
}

bool SqliteJobStore::Fail(const std::string& id, const std::string& reason, double conversion_s) {
    SqliteSession session(database_);
    session
        .Prepare(
            "UPDATE jobs SET status = 'failed', error = ?1, conversion_s = ?2, "
            "updated_at_ms = ?3 WHERE id = ?4 AND status IN ('queued', 'converting')")
        .Bind(1, reason)
        .Bind(2, conversion_s)
        .Bind(3, UnixNowMs())
        .Bind(4, id)
        .Run();
    return session.Changes() > 0;
}

void SqliteJobStore::MarkNotified(const std::string& id, const std::string& error) {
    SqliteSession session(database_);
    session
        .Prepare(
            "UPDATE jobs SET notified = ?1, notify_error = ?2, updated_at_ms = ?3 "
            "WHERE id = ?4")
        .Bind(1, error.empty() ? 1 : 0)
        .Bind(2, error)
        .Bind(3, UnixNowMs())
        .Bind(4, id)
        .Run();
}

bool SqliteJobStore::Remove(const std::string& id) {
    SqliteSession session(database_);
    session.Prepare("DELETE FROM jobs WHERE id = ?1").Bind(1, id).Run();
    return session.Changes() > 0;
}

std::map<std::string, long> SqliteJobStore::CountByStatus() {
    std::map<std::string, long> counts;
    for (JobStatus status : kStatuses) {
        counts[ToString(status)] = 0;
    }

    SqliteSession session(database_);
    SqliteStatement select = session.Prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status");
    while (select.Step()) {
        counts[select.Text(0)] = static_cast<long>(select.Int64(1));
    }
    return counts;
}

bool SqliteJobStore::Ready() {
    return database_.Ready();
}

}  // namespace video2mp3::adapters
