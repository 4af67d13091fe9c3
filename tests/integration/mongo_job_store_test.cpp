#include "adapters/mongo/mongo_job_store.h"

#include <gtest/gtest.h>
#include <mongoc/mongoc.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adapters/mongo/mongo_bson.h"
#include "adapters/mongo/mongo_client_pool.h"
#include "adapters/mongo/mongo_handles.h"
#include "support/test_servers.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {
namespace {

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::vector<std::string> Ids(const std::vector<Job>& jobs) {
    std::vector<std::string> ids;
    for (const Job& job : jobs) {
        ids.push_back(job.id);
    }
    return ids;
}

// Runs against every server of MongoUrisUnderTest(): index 0 is the shared CongoDB, index 1
// a real MongoDB when VIDEO2MP3_TEST_MONGODB_URI is set.
class MongoJobStoreTest : public ::testing::TestWithParam<std::size_t> {
 protected:
    void SetUp() override {
        const std::vector<std::string> uris = testing::MongoUrisUnderTest();
        if (GetParam() >= uris.size()) {
            GTEST_SKIP() << "no such server (set VIDEO2MP3_TEST_MONGODB_URI for a real MongoDB)";
        }
        uri_ = testing::WithDatabase(uris[GetParam()], "v2m_test_" + RandomId());
        pool_ = std::make_shared<MongoClientPool>(uri_);
        jobs_ = std::make_unique<MongoJobStore>(pool_);
    }

    void TearDown() override {
        if (!pool_) {
            return;
        }
        const PooledMongoClient client = pool_->Pop();
        const MongoDatabasePtr database = client.Database();
        bson_error_t error;
        if (!mongoc_database_drop(database.get(), &error)) {
            ADD_FAILURE() << "cannot drop the test database: " << error.message;
        }
    }

    static Job NewJob(const std::string& owner_id, std::int64_t created_at_ms = 0) {
        Job job;
        job.id = RandomId();
        job.owner_id = owner_id;
        job.owner_email = owner_id + "@example.com";
        job.filename = "holiday.mp4";
        job.video_fid = RandomId();
        job.video_bytes = 123456;
        job.created_at_ms = created_at_ms;
        return job;
    }

    std::string uri_;
    std::shared_ptr<MongoClientPool> pool_;
    std::unique_ptr<MongoJobStore> jobs_;
};

std::string ServerName(const ::testing::TestParamInfo<std::size_t>& info) {
    return info.param == 0 ? "CongoDB" : "MongoDB";
}

INSTANTIATE_TEST_SUITE_P(Servers, MongoJobStoreTest, ::testing::Values(0u, 1u), ServerName);

TEST_P(MongoJobStoreTest, CreateThenGetGivesEveryField) {
    Job job = NewJob("owner-1", 1'700'000'000'123);
    job.status = JobStatus::kDone;  // ignored: a new job is queued
    job.owner_email = "owner@example.com";
    job.video_bytes = 5'000'000'000;  // more than 32 bits

    jobs_->Create(job);
    const std::optional<Job> stored = jobs_->Get(job.id);

    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->id, job.id);
    EXPECT_EQ(stored->owner_id, "owner-1");
    EXPECT_EQ(stored->owner_email, "owner@example.com");
    EXPECT_EQ(stored->status, JobStatus::kQueued);
    EXPECT_EQ(stored->progress, 0);
    EXPECT_EQ(stored->filename, "holiday.mp4");
    EXPECT_EQ(stored->video_fid, job.video_fid);
    EXPECT_EQ(stored->video_bytes, 5'000'000'000u);
    EXPECT_EQ(stored->created_at_ms, 1'700'000'000'123);
    EXPECT_GE(stored->updated_at_ms, stored->created_at_ms);
    EXPECT_FALSE(stored->notified);
    EXPECT_TRUE(stored->mp3_fid.empty());
    EXPECT_TRUE(stored->error.empty());
    EXPECT_FALSE(jobs_->Get(RandomId()));
    EXPECT_FALSE(jobs_->Get("no-such-job")) << "not an ObjectId";
}

TEST_P(MongoJobStoreTest, DocumentIdIsTheJobIdAsAnObjectId) {
    const Job job = NewJob("owner");
    jobs_->Create(job);

    const PooledMongoClient client = pool_->Pop();
    const MongoCollectionPtr jobs = client.Collection("jobs");
    const BsonPtr filter(bson_new());
    const MongoCursorPtr cursor(
        mongoc_collection_find_with_opts(jobs.get(), filter.get(), nullptr, nullptr));
    const bson_t* document = nullptr;
    ASSERT_TRUE(mongoc_cursor_next(cursor.get(), &document));
    const std::optional<bson_oid_t> id = BsonFields(*document).ObjectId("_id");
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(ObjectIdHex(*id), job.id);
    EXPECT_EQ(BsonFields(*document).Utf8("status"), "queued");
    EXPECT_EQ(BsonFields(*document).Utf8("owner_id"), "owner");
}

TEST_P(MongoJobStoreTest, CreateStampsTheTimeWhenNoneIsGiven) {
    const auto before = NowMs();
    const Job job = NewJob("owner");

    jobs_->Create(job);
    const auto stored = jobs_->Get(job.id);

    ASSERT_TRUE(stored);
    EXPECT_GE(stored->created_at_ms, before);
    EXPECT_LE(stored->created_at_ms, NowMs());
}

TEST_P(MongoJobStoreTest, CreateRefusesATakenOrMalformedId) {
    const Job job = NewJob("owner");
    jobs_->Create(job);

    try {
        jobs_->Create(job);
        FAIL() << "a duplicate job id was accepted";
    } catch (const StorageError& error) {
        EXPECT_FALSE(error.Transient()) << error.what();
        EXPECT_NE(std::string(error.what()).find(job.id), std::string::npos) << error.what();
    }

    Job malformed = NewJob("owner");
    malformed.id = "not-an-object-id";
    try {
        jobs_->Create(malformed);
        FAIL() << "a malformed job id was accepted";
    } catch (const StorageError& error) {
        EXPECT_FALSE(error.Transient()) << error.what();
    }
}

TEST_P(MongoJobStoreTest, HappyPathQueuedConvertingDone) {
    const Job job = NewJob("owner", 1000);
    jobs_->Create(job);

    EXPECT_TRUE(jobs_->Claim(job.id));
    EXPECT_EQ(jobs_->Get(job.id)->status, JobStatus::kConverting);
    EXPECT_TRUE(jobs_->Claim(job.id)) << "claiming again after a crash is allowed";
    jobs_->SetProgress(job.id, 42);
    EXPECT_EQ(jobs_->Get(job.id)->progress, 42);
    jobs_->SetProgress(job.id, 250);
    EXPECT_EQ(jobs_->Get(job.id)->progress, 100);

    const auto before_finish = NowMs();
    EXPECT_TRUE(jobs_->Finish(job.id, "mp3-fid", 98765, 61.5, 2.25));

    const auto done = jobs_->Get(job.id);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->status, JobStatus::kDone);
    EXPECT_EQ(done->mp3_fid, "mp3-fid");
    EXPECT_EQ(done->mp3_bytes, 98765u);
    EXPECT_DOUBLE_EQ(done->duration_s, 61.5);
    EXPECT_DOUBLE_EQ(done->conversion_s, 2.25);
    EXPECT_EQ(done->progress, 100);
    EXPECT_GE(done->updated_at_ms, before_finish);
    EXPECT_EQ(done->created_at_ms, 1000);
    EXPECT_EQ(done->video_fid, job.video_fid) << "fields the update did not name stay";
}

TEST_P(MongoJobStoreTest, DoneIsFinal) {
    const Job job = NewJob("owner");
    jobs_->Create(job);
    ASSERT_TRUE(jobs_->Claim(job.id));
    ASSERT_TRUE(jobs_->Finish(job.id, "mp3", 1, 1, 1));

    EXPECT_FALSE(jobs_->Claim(job.id));
    EXPECT_FALSE(jobs_->Finish(job.id, "other-mp3", 2, 2, 2)) << "a second Finish";
    EXPECT_FALSE(jobs_->Fail(job.id, "too late", 3)) << "Fail after done";
    jobs_->SetProgress(job.id, 5);

    const auto stored = jobs_->Get(job.id);
    EXPECT_EQ(stored->status, JobStatus::kDone);
    EXPECT_EQ(stored->mp3_fid, "mp3");
    EXPECT_EQ(stored->progress, 100);
    EXPECT_TRUE(stored->error.empty());
}

TEST_P(MongoJobStoreTest, FinishNeedsAConvertingJob) {
    const Job job = NewJob("owner");
    jobs_->Create(job);

    EXPECT_FALSE(jobs_->Finish(job.id, "mp3", 1, 1, 1));
    jobs_->SetProgress(job.id, 50);

    const auto stored = jobs_->Get(job.id);
    EXPECT_EQ(stored->status, JobStatus::kQueued);
    EXPECT_EQ(stored->progress, 0) << "progress is only for converting jobs";
    EXPECT_FALSE(jobs_->Finish(RandomId(), "mp3", 1, 1, 1));
}

TEST_P(MongoJobStoreTest, QueuedJobCanFailAndFailedIsFinal) {
    const Job job = NewJob("owner");
    jobs_->Create(job);

    EXPECT_TRUE(jobs_->Fail(job.id, "the upload is not a video", 0.5));

    const auto failed = jobs_->Get(job.id);
    EXPECT_EQ(failed->status, JobStatus::kFailed);
    EXPECT_EQ(failed->error, "the upload is not a video");
    EXPECT_DOUBLE_EQ(failed->conversion_s, 0.5);
    EXPECT_FALSE(jobs_->Claim(job.id));
    EXPECT_FALSE(jobs_->Finish(job.id, "mp3", 1, 1, 1));
    EXPECT_FALSE(jobs_->Fail(job.id, "again", 1));
    EXPECT_EQ(jobs_->Get(job.id)->error, "the upload is not a video");
}

TEST_P(MongoJobStoreTest, ConvertingJobCanFail) {
    const Job job = NewJob("owner");
    jobs_->Create(job);
    ASSERT_TRUE(jobs_->Claim(job.id));

    EXPECT_TRUE(jobs_->Fail(job.id, "no audio stream", 1.5));

    EXPECT_EQ(jobs_->Get(job.id)->status, JobStatus::kFailed);
    EXPECT_FALSE(jobs_->Finish(job.id, "mp3", 1, 1, 1));
}

TEST_P(MongoJobStoreTest, MissingJobRefusesEveryChange) {
    for (const std::string& id : {RandomId(), std::string("missing")}) {
        SCOPED_TRACE(id);
        EXPECT_FALSE(jobs_->Claim(id));
        EXPECT_FALSE(jobs_->Finish(id, "mp3", 1, 1, 1));
        EXPECT_FALSE(jobs_->Fail(id, "x", 0));
        EXPECT_FALSE(jobs_->Remove(id));
        EXPECT_NO_THROW(jobs_->SetProgress(id, 10));
        EXPECT_NO_THROW(jobs_->MarkNotified(id, ""));
    }
}

TEST_P(MongoJobStoreTest, RacingFinishersExactlyOneWins) {
    // Two pools, as two converter processes would have.
    MongoJobStore other_jobs(std::make_shared<MongoClientPool>(uri_));
    constexpr int kJobs = 30;
    std::vector<std::string> ids;
    for (int i = 0; i < kJobs; ++i) {
        const Job job = NewJob("owner");
        jobs_->Create(job);
        ASSERT_TRUE(jobs_->Claim(job.id));
        ids.push_back(job.id);
    }

    std::atomic<int> wins_a = 0;
    std::atomic<int> wins_b = 0;
    std::thread a([&] {
        for (const std::string& id : ids) {
            if (jobs_->Finish(id, "mp3-a", 1, 1, 1)) {
                ++wins_a;
            }
        }
    });
    std::thread b([&] {
        for (const std::string& id : ids) {
            if (other_jobs.Finish(id, "mp3-b", 2, 2, 2)) {
                ++wins_b;
            }
        }
    });
    a.join();
    b.join();

    EXPECT_EQ(wins_a + wins_b, kJobs);
    for (const std::string& id : ids) {
        const auto job = jobs_->Get(id);
        ASSERT_TRUE(job);
        EXPECT_EQ(job->status, JobStatus::kDone);
        EXPECT_TRUE(job->mp3_fid == "mp3-a" || job->mp3_fid == "mp3-b");
    }
}

TEST_P(MongoJobStoreTest, MarkNotifiedRecordsSuccessOrTheError) {
    const Job job = NewJob("owner");
    jobs_->Create(job);

    jobs_->MarkNotified(job.id, "550 mailbox unavailable");
    auto stored = jobs_->Get(job.id);
    EXPECT_FALSE(stored->notified);
    EXPECT_EQ(stored->notify_error, "550 mailbox unavailable");

    jobs_->MarkNotified(job.id, "");
    stored = jobs_->Get(job.id);
    EXPECT_TRUE(stored->notified);
    EXPECT_TRUE(stored->notify_error.empty());
}

TEST_P(MongoJobStoreTest, RemoveDeletesTheJob) {
    const Job job = NewJob("owner");
    const Job other = NewJob("owner");
    jobs_->Create(job);
    jobs_->Create(other);

    EXPECT_TRUE(jobs_->Remove(job.id));

    EXPECT_FALSE(jobs_->Get(job.id));
    EXPECT_FALSE(jobs_->Remove(job.id));
    EXPECT_TRUE(jobs_->Get(other.id));
}

TEST_P(MongoJobStoreTest, ListIsNewestFirstWithPagingAndOwnerFilter) {
    Job a1 = NewJob("alice", 1000);
    Job b1 = NewJob("bob", 2000);
    Job a2 = NewJob("alice", 1'700'000'003'000);
    Job a3 = NewJob("alice", 1'700'000'003'000);  // same time as a2: the larger id comes first
    Job b2 = NewJob("bob", 1'700'000'004'000);
    for (const Job* job : {&a1, &b1, &a2, &a3, &b2}) {
        jobs_->Create(*job);
    }
    const std::string a_late = std::max(a2.id, a3.id);
    const std::string a_early = std::min(a2.id, a3.id);

    EXPECT_EQ(Ids(jobs_->List("", 10, 0)),
              (std::vector<std::string>{b2.id, a_late, a_early, b1.id, a1.id}));
    EXPECT_EQ(Ids(jobs_->List("", 2, 0)), (std::vector<std::string>{b2.id, a_late}));
    EXPECT_EQ(Ids(jobs_->List("", 2, 2)), (std::vector<std::string>{a_early, b1.id}));
    EXPECT_EQ(Ids(jobs_->List("", 2, 4)), (std::vector<std::string>{a1.id}));
    EXPECT_TRUE(jobs_->List("", 2, 5).empty());
    EXPECT_EQ(Ids(jobs_->List("alice", 10, 0)), (std::vector<std::string>{a_late, a_early, a1.id}));
    EXPECT_EQ(Ids(jobs_->List("alice", 1, 1)), (std::vector<std::string>{a_early}));
    EXPECT_EQ(Ids(jobs_->List("bob", 10, 0)), (std::vector<std::string>{b2.id, b1.id}));
    EXPECT_TRUE(jobs_->List("carol", 10, 0).empty());
    EXPECT_TRUE(jobs_->List("", 0, 0).empty());
    EXPECT_EQ(jobs_->List("", 10, -5).size(), 5u);
    EXPECT_EQ(jobs_->List("alice", 10, 0)[2].filename, "holiday.mp4") << "whole jobs";
}

TEST_P(MongoJobStoreTest, CountByStatusGivesAllFourIncludingZero) {
    auto counts = jobs_->CountByStatus();
    EXPECT_EQ(counts, (std::map<std::string, long>{
                          {"queued", 0}, {"converting", 0}, {"done", 0}, {"failed", 0}}));

    std::vector<Job> created;
    for (int i = 0; i < 5; ++i) {
        created.push_back(NewJob("owner"));
        jobs_->Create(created.back());
    }
    ASSERT_TRUE(jobs_->Claim(created[0].id));
    ASSERT_TRUE(jobs_->Claim(created[1].id));
    ASSERT_TRUE(jobs_->Finish(created[1].id, "mp3", 1, 1, 1));
    ASSERT_TRUE(jobs_->Fail(created[2].id, "no audio", 0));

    counts = jobs_->CountByStatus();
    EXPECT_EQ(counts, (std::map<std::string, long>{
                          {"queued", 2}, {"converting", 1}, {"done", 1}, {"failed", 1}}));
}

TEST_P(MongoJobStoreTest, TextThatIsNotUtf8IsStoredReadably) {
    Job job = NewJob("owner");
    job.filename = "caf\xe9.mp4";
    jobs_->Create(job);
    ASSERT_TRUE(jobs_->Fail(job.id, "decoder said \xff", 0));

    const auto stored = jobs_->Get(job.id);

    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->filename, "caf\xef\xbf\xbd.mp4");
    EXPECT_EQ(stored->error, "decoder said \xef\xbf\xbd");
}

TEST_P(MongoJobStoreTest, ReadyWhileTheServerAnswers) {
    EXPECT_TRUE(jobs_->Ready());
}

TEST(MongoJobStoreServerDownTest, StoppedServerGivesTransientErrorsAndTheStoreRecovers) {
    testing::TestServer server("congodb");
    const std::string uri = testing::WithDatabase(server.Url(), "v2m_test_" + RandomId());
    MongoJobStore jobs(std::make_shared<MongoClientPool>(uri));
    // The same database with a short server selection timeout, to keep the test short.
    MongoJobStore quick(std::make_shared<MongoClientPool>(uri + "?serverSelectionTimeoutMS=1000"));
    Job job;
    job.id = RandomId();
    job.owner_id = "owner";
    jobs.Create(job);

    server.Stop();

    const auto start = std::chrono::steady_clock::now();
    try {
        jobs.Claim(job.id);
        ADD_FAILURE() << "Claim worked with the server down";
    } catch (const StorageError& error) {
        EXPECT_TRUE(error.Transient()) << error.what();
    }
    // A hang guard, not a speed test: the default server selection timeout is 5 s.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
    for (const auto& operation : std::vector<std::function<void()>>{
             [&] { quick.Get(job.id); }, [&] { quick.List("", 5, 0); },
             [&] { quick.Finish(job.id, "mp3", 1, 1, 1); }}) {
        try {
            operation();
            ADD_FAILURE() << "an operation worked with the server down";
        } catch (const StorageError& error) {
            EXPECT_TRUE(error.Transient()) << error.what();
        }
    }
    EXPECT_FALSE(quick.Ready());

    server.Start();  // empty again: CongoDB keeps its data in memory

    EXPECT_TRUE(jobs.Ready());
    jobs.Create(job);
    EXPECT_TRUE(jobs.Claim(job.id));
    EXPECT_TRUE(jobs.Finish(job.id, "mp3", 1, 1, 1));
}

}  // namespace
}  // namespace video2mp3::adapters
