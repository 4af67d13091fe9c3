#include "adapters/mongo/mongo_job_store.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "adapters/mongo/mongo_bson.h"
#include "adapters/mongo/mongo_client_pool.h"
#include "adapters/mongo/mongo_error.h"
#include "adapters/mongo/mongo_handles.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

constexpr const char* kJobsCollection = "jobs";

constexpr JobStatus kStatuses[] = {JobStatus::kQueued, JobStatus::kConverting, JobStatus::kDone,
                                   JobStatus::kFailed};

std::int64_t ToInt64(std::uint64_t value) {
    return static_cast<std::int64_t>(
        std::min<std::uint64_t>(value, std::numeric_limits<std::int64_t>::max()));
}

std::uint64_t ToUint64(std::int64_t value) {
    return value < 0 ? 0 : static_cast<std::uint64_t>(value);
}

Job ParseJob(const bson_t& document) {
    const BsonFields fields(document);
    Job job;

    const std::optional<bson_oid_t> id = fields.ObjectId("_id");
    if (!id) {
        throw StorageError("MongoDB: a document in jobs has no ObjectId _id", false);
    }
    job.id = ObjectIdHex(*id);

    const std::string status = fields.Utf8("status").value_or("");
    const std::optional<JobStatus> parsed = ParseJobStatus(status);
    if (!parsed) {
        throw StorageError("MongoDB: job " + job.id + " has an unknown status '" + status + "'",
                           false);
    }
    job.status = *parsed;

    job.owner_id = fields.Utf8("owner_id").value_or("");
    job.owner_email = fields.Utf8("owner_email").value_or("");
    job.progress =
        static_cast<int>(std::clamp<std::int64_t>(fields.Int64("progress").value_or(0), 0, 100));
    job.error = fields.Utf8("error").value_or("");
    job.filename = fields.Utf8("filename").value_or("");
    job.video_fid = fields.Utf8("video_fid").value_or("");
    job.mp3_fid = fields.Utf8("mp3_fid").value_or("");
    job.video_bytes = ToUint64(fields.Int64("video_bytes").value_or(0));
    job.mp3_bytes = ToUint64(fields.Int64("mp3_bytes").value_or(0));
    job.duration_s = fields.Double("duration_s").value_or(0);
    job.conversion_s = fields.Double("conversion_s").value_or(0);
    job.created_at_ms = fields.Int64("created_at_ms").value_or(0);
    job.updated_at_ms = fields.Int64("updated_at_ms").value_or(0);
    job.notified = fields.Bool("notified").value_or(false);
    job.notify_error = fields.Utf8("notify_error").value_or("");
    return job;
}

/// Runs update_one on the job with `id` whose status is one of `from` (any status when
/// `from` is empty); true when a job matched.
bool UpdateJob(MongoClientPool& pool, const std::string& id, std::initializer_list<JobStatus> from,
               const bson_t& set) {
    const std::optional<bson_oid_t> oid = ParseObjectId(id);
    if (!oid) {
        return false;
    }

    const BsonPtr filter(BCON_NEW("_id", BCON_OID(&*oid)));
    if (from.size() > 0) {
        bson_t status;
        bson_t statuses;
        BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "status", &status);
        BSON_APPEND_ARRAY_BEGIN(&status, "$in", &statuses);
        std::uint32_t index = 0;
        for (const JobStatus state : from) {
            const char* key = nullptr;
            char buffer[16];
            bson_uint32_to_string(index++, &key, buffer, sizeof buffer);
            bson_append_utf8(&statuses, key, -1, ToString(state), -1);
        }
        bson_append_array_end(&status, &statuses);
        bson_append_document_end(filter.get(), &status);
    }
    BsonPtr update(bson_new());
    BSON_APPEND_DOCUMENT(update.get(), "$set", &set);

    const PooledMongoClient client = pool.Pop();
    const MongoCollectionPtr jobs = client.Collection(kJobsCollection);
    BsonReply reply;
    bson_error_t error;
    if (!mongoc_collection_update_one(jobs.get(), filter.get(), update.get(), nullptr, reply.Get(),
                                      &error)) {
        ThrowMongoError("update job " + id, error, reply.Get());
    }
    return BsonFields(*reply.Get()).Int64("matchedCount").value_or(0) > 0;
}

}  // namespace

MongoJobStore::MongoJobStore(std::shared_ptr<MongoClientPool> pool) : pool_(std::move(pool)) {
    if (!pool_) {
        throw std::invalid_argument("MongoDB job store: no client pool");
    }
}

void MongoJobStore::Create(const Job& job) {
    const std::optional<bson_oid_t> oid = ParseObjectId(job.id);
    if (!oid) {
        throw StorageError("MongoDB: job id must be 24 lower-case hex characters (an ObjectId)",
                           false);
    }
    EnsureIndexes();

    const std::int64_t now = MongoNowMs();
    const std::string owner_id = ToValidUtf8(job.owner_id);
    const std::string owner_email = ToValidUtf8(job.owner_email);
    const std::string error = ToValidUtf8(job.error);
    const std::string filename = ToValidUtf8(job.filename);
    const std::string video_fid = ToValidUtf8(job.video_fid);
    const std::string mp3_fid = ToValidUtf8(job.mp3_fid);
    const std::string notify_error = ToValidUtf8(job.notify_error);
    const BsonPtr document(BCON_NEW(
        "_id", BCON_OID(&*oid), "owner_id", BCON_UTF8(owner_id.c_str()), "owner_email",
        BCON_UTF8(owner_email.c_str()), "status", BCON_UTF8(ToString(JobStatus::kQueued)),
        "progress", BCON_INT32(std::clamp(job.progress, 0, 100)), "error", BCON_UTF8(error.c_str()),
        "filename", BCON_UTF8(filename.c_str()), "video_fid", BCON_UTF8(video_fid.c_str()),
        "mp3_fid", BCON_UTF8(mp3_fid.c_str()), "video_bytes", BCON_INT64(ToInt64(job.video_bytes)),
        "mp3_bytes", BCON_INT64(ToInt64(job.mp3_bytes)), "duration_s", BCON_DOUBLE(job.duration_s),
        "conversion_s", BCON_DOUBLE(job.conversion_s), "created_at_ms",
        BCON_INT64(job.created_at_ms != 0 ? job.created_at_ms : now), "updated_at_ms",
        BCON_INT64(now), "notified", BCON_BOOL(job.notified), "notify_error",
        BCON_UTF8(notify_error.c_str())));

    const PooledMongoClient client = pool_->Pop();
    const MongoCollectionPtr jobs = client.Collection(kJobsCollection);
    BsonReply reply;
    bson_error_t bson_error;
    if (!mongoc_collection_insert_one(jobs.get(), document.get(), nullptr, reply.Get(),
                                      &bson_error)) {
        ThrowMongoError("insert job " + job.id, bson_error, reply.Get());
    }
}

std::optional<Job> MongoJobStore::Get(const std::string& id) {
    const std::optional<bson_oid_t> oid = ParseObjectId(id);
    if (!oid) {
        return std::nullopt;
    }

    const BsonPtr filter(BCON_NEW("_id", BCON_OID(&*oid)));
    const BsonPtr options(BCON_NEW("limit", BCON_INT64(1)));
    const PooledMongoClient client = pool_->Pop();
    const MongoCollectionPtr jobs = client.Collection(kJobsCollection);
    const MongoCursorPtr cursor(
        mongoc_collection_find_with_opts(jobs.get(), filter.get(), options.get(), nullptr));

    std::optional<Job> job;
    const bson_t* document = nullptr;
    while (mongoc_cursor_next(cursor.get(), &document)) {
        job = ParseJob(*document);
    }
    bson_error_t error;
    const bson_t* reply = nullptr;
    if (mongoc_cursor_error_document(cursor.get(), &error, &reply)) {
        ThrowMongoError("find job " + id, error, reply);
    }
    return job;
}

std::vector<Job> MongoJobStore::List(const std::string& owner_id, int limit, int offset) {
    if (limit <= 0) {
        return {};
    }
    EnsureIndexes();

    const BsonPtr filter(bson_new());
    if (!owner_id.empty()) {
        const std::string owner = ToValidUtf8(owner_id);
        BSON_APPEND_UTF8(filter.get(), "owner_id", owner.c_str());
    }
    const BsonPtr options(BCON_NEW("sort", "{", "created_at_ms", BCON_INT32(-1), "_id",
                                   BCON_INT32(-1), "}", "skip", BCON_INT64(std::max(offset, 0)),
                                   "limit", BCON_INT64(limit)));
    const PooledMongoClient client = pool_->Pop();
    const MongoCollectionPtr jobs = client.Collection(kJobsCollection);
    const MongoCursorPtr cursor(
        mongoc_collection_find_with_opts(jobs.get(), filter.get(), options.get(), nullptr));

    std::vector<Job> list;
    const bson_t* document = nullptr;
    while (mongoc_cursor_next(cursor.get(), &document)) {
        list.push_back(ParseJob(*document));
    }
    bson_error_t error;
    const bson_t* reply = nullptr;
    if (mongoc_cursor_error_document(cursor.get(), &error, &reply)) {
        ThrowMongoError("list jobs", error, reply);
    }
    return list;
}

bool MongoJobStore::Claim(const std::string& id) {
    const BsonPtr set(BCON_NEW("status", BCON_UTF8(ToString(JobStatus::kConverting)),
                               "updated_at_ms", BCON_INT64(MongoNowMs())));
    return UpdateJob(*pool_, id, {JobStatus::kQueued, JobStatus::kConverting}, *set);
}

void MongoJobStore::SetProgress(const std::string& id, int percent) {
    const BsonPtr set(BCON_NEW("progress", BCON_INT32(std::clamp(percent, 0, 100)), "updated_at_ms",
                               BCON_INT64(MongoNowMs())));
    UpdateJob(*pool_, id, {JobStatus::kConverting}, *set);
}

bool MongoJobStore::Finish(const std::string& id, const std::string& mp3_fid,
                           std::uint64_t mp3_bytes, double duration_s, double conversion_s) {
    const std::string fid = ToValidUtf8(mp3_fid);
    const BsonPtr set(BCON_NEW("status", BCON_UTF8(ToString(JobStatus::kDone)), "progress",
                               BCON_INT32(100), "mp3_fid", BCON_UTF8(fid.c_str()), "mp3_bytes",
                               BCON_INT64(ToInt64(mp3_bytes)), "duration_s",
                               BCON_DOUBLE(duration_s), "conversion_s", BCON_DOUBLE(conversion_s),
                               "updated_at_ms", BCON_INT64(MongoNowMs())));
    return UpdateJob(*pool_, id, {JobStatus::kConverting}, *set);
}

bool MongoJobStore::Fail(const std::string& id, const std::string& reason, double conversion_s) {
    const std::string error = ToValidUtf8(reason);
    const BsonPtr set(BCON_NEW("status", BCON_UTF8(ToString(JobStatus::kFailed)), "error",
                               BCON_UTF8(error.c_str()), "conversion_s", BCON_DOUBLE(conversion_s),
                               "updated_at_ms", BCON_INT64(MongoNowMs())));
    return UpdateJob(*pool_, id, {JobStatus::kQueued, JobStatus::kConverting}, *set);
}

void MongoJobStore::MarkNotified(const std::string& id, const std::string& error) {
    const std::string text = ToValidUtf8(error);
    const BsonPtr set(BCON_NEW("notified", BCON_BOOL(error.empty()), "notify_error",
                               BCON_UTF8(text.c_str()), "updated_at_ms", BCON_INT64(MongoNowMs())));
    UpdateJob(*pool_, id, {}, *set);
}

bool MongoJobStore::Remove(const std::string& id) {
    const std::optional<bson_oid_t> oid = ParseObjectId(id);
    if (!oid) {
        return false;
    }

    const BsonPtr filter(BCON_NEW("_id", BCON_OID(&*oid)));
    const PooledMongoClient client = pool_->Pop();
    const MongoCollectionPtr jobs = client.Collection(kJobsCollection);
    BsonReply reply;
    bson_error_t error;
    if (!mongoc_collection_delete_one(jobs.get(), filter.get(), nullptr, reply.Get(), &error)) {
        ThrowMongoError("delete job " + id, error, reply.Get());
    }
    return BsonFields(*reply.Get()).Int64("deletedCount").value_or(0) > 0;
}

std::map<std::string, long> MongoJobStore::CountByStatus() {
    std::map<std::string, long> counts;
    for (const JobStatus status : kStatuses) {
        counts[ToString(status)] = 0;
    }

    const BsonPtr pipeline(BCON_NEW("pipeline", "[", "{", "$group", "{", "_id",
                                    BCON_UTF8("$status"), "n", "{", "$sum", BCON_INT32(1), "}", "}",
                                    "}", "]"));
    const PooledMongoClient client = pool_->Pop();
    const MongoCollectionPtr jobs = client.Collection(kJobsCollection);
    const MongoCursorPtr cursor(mongoc_collection_aggregate(jobs.get(), MONGOC_QUERY_NONE,
                                                            pipeline.get(), nullptr, nullptr));

    const bson_t* document = nullptr;
    while (mongoc_cursor_next(cursor.get(), &document)) {
        const BsonFields fields(*document);
        const std::optional<std::string> status = fields.Utf8("_id");
        if (status) {
            counts[*status] = static_cast<long>(fields.Int64("n").value_or(0));
        }
    }
    bson_error_t error;
    const bson_t* reply = nullptr;
    if (mongoc_cursor_error_document(cursor.get(), &error, &reply)) {
        ThrowMongoError("count jobs by status", error, reply);
    }
    return counts;
}

bool MongoJobStore::Ready() {
    return pool_->Ready();
}

void MongoJobStore::EnsureIndexes() {
    if (indexed_.load()) {
        return;
    }

    const BsonPtr command(BCON_NEW("createIndexes", BCON_UTF8(kJobsCollection), "indexes", "[", "{",
                                   "key", "{", "owner_id", BCON_INT32(1), "created_at_ms",
                                   BCON_INT32(-1), "_id", BCON_INT32(-1), "}", "name",
                                   BCON_UTF8("owner_id_1_created_at_ms_-1__id_-1"), "}", "{", "key",
                                   "{", "created_at_ms", BCON_INT32(-1), "_id", BCON_INT32(-1), "}",
                                   "name", BCON_UTF8("created_at_ms_-1__id_-1"), "}", "]"));
    const PooledMongoClient client = pool_->Pop();
    BsonReply reply;
    bson_error_t error;
    if (!mongoc_client_write_command_with_opts(client.Get(), pool_->DatabaseName().c_str(),
                                               command.get(), nullptr, reply.Get(), &error)) {
        ThrowMongoError("create the indexes of jobs", error, reply.Get());
    }
    indexed_.store(true);
}

}  // namespace video2mp3::adapters
