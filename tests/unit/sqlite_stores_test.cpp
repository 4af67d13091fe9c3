#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_job_store.h"
#include "adapters/sqlite/sqlite_user_store.h"
#include "support/media_tools.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {
namespace {

class SqliteStoresTest : public ::testing::Test {
 protected:
    std::filesystem::path DatabasePath() const { return dir_ / "video2mp3.db"; }

    Job NewJob(const std::string& owner_id, std::int64_t created_at_ms = 0) const {
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

    video2mp3::testing::TempDir dir_;
    SqliteDatabase database_{DatabasePath()};
    SqliteUserStore users_{database_};
    SqliteJobStore jobs_{database_};
};

std::vector<std::string> Ids(const std::vector<Job>& jobs) {
    std::vector<std::string> ids;
    for (const Job& job : jobs) {
        ids.push_back(job.id);
    }
    return ids;
}

// --- database ---

TEST_F(SqliteStoresTest, OpensWithWalAndSchemaVersion) {
    SqliteSession session(database_);

    SqliteStatement mode = session.Prepare("PRAGMA journal_mode");
    ASSERT_TRUE(mode.Step());
    EXPECT_EQ(mode.Text(0), "wal");

    SqliteStatement version = session.Prepare("PRAGMA user_version");
    ASSERT_TRUE(version.Step());
    EXPECT_EQ(version.Int(0), SqliteDatabase::kSchemaVersion);

    SqliteStatement foreign_keys = session.Prepare("PRAGMA foreign_keys");
    ASSERT_TRUE(foreign_keys.Step());
    EXPECT_EQ(foreign_keys.Int(0), 1);
}

TEST_F(SqliteStoresTest, ReopeningKeepsTheData) {
    ASSERT_TRUE(users_.Add("keep@example.com", "hash", false));

    SqliteDatabase again(DatabasePath());
    SqliteUserStore users(again);

    EXPECT_TRUE(users.FindByEmail("keep@example.com"));
    EXPECT_TRUE(users.Ready());
    EXPECT_TRUE(jobs_.Ready());
}

TEST_F(SqliteStoresTest, RefusesASchemaFromANewerProgram) {
    const auto path = dir_ / "newer.db";
    {
        SqliteDatabase database(path);
        SqliteSession session(database);
        session.Execute("PRAGMA user_version = 99");
    }

    try {
        SqliteDatabase database(path);
        FAIL() << "a newer schema was accepted";
    } catch (const StorageError& error) {
        EXPECT_FALSE(error.Transient());
        EXPECT_NE(std::string(error.what()).find("99"), std::string::npos) << error.what();
    }
}

TEST_F(SqliteStoresTest, ErrorsCarrySqlitesMessage) {
    SqliteSession session(database_);

    try {
        session.Prepare("SELECT * FROM no_such_table");
        FAIL() << "bad SQL was accepted";
    } catch (const StorageError& error) {
        EXPECT_NE(std::string(error.what()).find("no such table"), std::string::npos)
            << error.what();
        EXPECT_FALSE(error.Transient());
    }
}

TEST_F(SqliteStoresTest, UnopenableFileIsAStorageError) {
    EXPECT_THROW(SqliteDatabase(dir_ / "missing-folder" / "x.db"), StorageError);
}

TEST_F(SqliteStoresTest, TransactionRollsBackUnlessCommitted) {
    {
        SqliteSession session(database_);
        SqliteTransaction transaction(session);
        session.Execute(
            "INSERT INTO users (id, email, password_hash, created_at_ms) "
            "VALUES ('x', 'rolled@example.com', 'h', 0)");
    }
    EXPECT_FALSE(users_.FindByEmail("rolled@example.com"));

    {
        SqliteSession session(database_);
        SqliteTransaction transaction(session);
        session.Execute(
            "INSERT INTO users (id, email, password_hash, created_at_ms) "
            "VALUES ('y', 'kept@example.com', 'h', 0)");
        transaction.Commit();
    }
    EXPECT_TRUE(users_.FindByEmail("kept@example.com"));
}

// --- users ---

TEST_F(SqliteStoresTest, AddReturnsTheNewUserWithALowerCaseEmail) {
    const auto before = UnixNowMs();

    const std::optional<User> user = users_.Add("Alice@Example.COM", "argon-hash", true);

    ASSERT_TRUE(user);
    EXPECT_TRUE(IsWellFormedId(user->id));
    EXPECT_EQ(user->id.size(), 24u);
    EXPECT_EQ(user->email, "alice@example.com");
    EXPECT_EQ(user->password_hash, "argon-hash");
    EXPECT_TRUE(user->admin);
    EXPECT_GE(user->created_at_ms, before);
    EXPECT_LE(user->created_at_ms, UnixNowMs());

    const std::optional<User> stored = users_.FindById(user->id);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->email, "alice@example.com");
    EXPECT_EQ(stored->password_hash, "argon-hash");
    EXPECT_TRUE(stored->admin);
    EXPECT_EQ(stored->created_at_ms, user->created_at_ms);
}

TEST_F(SqliteStoresTest, AddRefusesATakenEmailWhateverItsCase) {
    const auto first = users_.Add("bob@example.com", "one", false);
    ASSERT_TRUE(first);

    EXPECT_FALSE(users_.Add("bob@example.com", "two", false));
    EXPECT_FALSE(users_.Add("BOB@example.com", "three", true));

    ASSERT_EQ(users_.List().size(), 1u);
    EXPECT_EQ(users_.FindByEmail("bob@example.com")->password_hash, "one");
}

TEST_F(SqliteStoresTest, FindByEmailIgnoresCase) {
    const auto added = users_.Add("carol@example.com", "hash", false);
    ASSERT_TRUE(added);

    const auto found = users_.FindByEmail("CaRoL@EXAMPLE.com");

    ASSERT_TRUE(found);
    EXPECT_EQ(found->id, added->id);
    EXPECT_FALSE(found->admin);
    EXPECT_FALSE(users_.FindByEmail("dave@example.com"));
    EXPECT_FALSE(users_.FindById("no-such-id"));
}

TEST_F(SqliteStoresTest, ListGivesEveryUserByEmail) {
    EXPECT_TRUE(users_.List().empty());
    ASSERT_TRUE(users_.Add("zed@example.com", "h", false));
    ASSERT_TRUE(users_.Add("amy@example.com", "h", true));
    ASSERT_TRUE(users_.Add("Max@example.com", "h", false));

    const std::vector<User> users = users_.List();

    ASSERT_EQ(users.size(), 3u);
    EXPECT_EQ(users[0].email, "amy@example.com");
    EXPECT_TRUE(users[0].admin);
    EXPECT_EQ(users[1].email, "max@example.com");
    EXPECT_EQ(users[2].email, "zed@example.com");
}

TEST_F(SqliteStoresTest, SetPasswordHashChangesOnlyThatUser) {
    ASSERT_TRUE(users_.Add("erin@example.com", "old", false));
    ASSERT_TRUE(users_.Add("frank@example.com", "other", false));

    EXPECT_TRUE(users_.SetPasswordHash("ERIN@example.com", "new"));
    EXPECT_FALSE(users_.SetPasswordHash("nobody@example.com", "new"));

    EXPECT_EQ(users_.FindByEmail("erin@example.com")->password_hash, "new");
    EXPECT_EQ(users_.FindByEmail("frank@example.com")->password_hash, "other");
}

TEST_F(SqliteStoresTest, RemoveDeletesTheUserOnce) {
    const auto user = users_.Add("gina@example.com", "h", false);
    ASSERT_TRUE(user);

    EXPECT_TRUE(users_.Remove("Gina@Example.com"));
    EXPECT_FALSE(users_.Remove("gina@example.com"));

    EXPECT_FALSE(users_.FindByEmail("gina@example.com"));
    EXPECT_FALSE(users_.FindById(user->id));
    EXPECT_TRUE(users_.Add("gina@example.com", "again", false));
}

// --- jobs ---

TEST_F(SqliteStoresTest, CreateThenGetGivesEveryField) {
    Job job = NewJob("owner-1", 1'700'000'000'000);
    job.status = JobStatus::kDone;  // ignored: a new job is queued
    job.owner_email = "owner@example.com";

    jobs_.Create(job);
    const std::optional<Job> stored = jobs_.Get(job.id);

    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->id, job.id);
    EXPECT_EQ(stored->owner_id, "owner-1");
    EXPECT_EQ(stored->owner_email, "owner@example.com");
    EXPECT_EQ(stored->status, JobStatus::kQueued);
    EXPECT_EQ(stored->progress, 0);
    EXPECT_EQ(stored->filename, "holiday.mp4");
    EXPECT_EQ(stored->video_fid, job.video_fid);
    EXPECT_EQ(stored->video_bytes, 123456u);
    EXPECT_EQ(stored->created_at_ms, 1'700'000'000'000);
    EXPECT_GE(stored->updated_at_ms, stored->created_at_ms);
    EXPECT_FALSE(stored->notified);
    EXPECT_TRUE(stored->mp3_fid.empty());
    EXPECT_FALSE(jobs_.Get("no-such-job"));
}

TEST_F(SqliteStoresTest, CreateStampsTheTimeWhenNoneIsGiven) {
    const auto before = UnixNowMs();
    const Job job = NewJob("owner");

    jobs_.Create(job);
    const auto stored = jobs_.Get(job.id);

    ASSERT_TRUE(stored);
    EXPECT_GE(stored->created_at_ms, before);
    EXPECT_LE(stored->created_at_ms, UnixNowMs());
}

TEST_F(SqliteStoresTest, CreateRefusesATakenId) {
    const Job job = NewJob("owner");
    jobs_.Create(job);

    try {
        jobs_.Create(job);
        FAIL() << "a duplicate job id was accepted";
    } catch (const StorageError& error) {
        EXPECT_FALSE(error.Transient()) << error.what();
        EXPECT_NE(std::string(error.what()).find("UNIQUE"), std::string::npos) << error.what();
    }
}

TEST_F(SqliteStoresTest, HappyPathQueuedConvertingDone) {
    const Job job = NewJob("owner", 1000);
    jobs_.Create(job);

    EXPECT_TRUE(jobs_.Claim(job.id));
    EXPECT_EQ(jobs_.Get(job.id)->status, JobStatus::kConverting);
    EXPECT_TRUE(jobs_.Claim(job.id)) << "claiming again after a crash is allowed";
    jobs_.SetProgress(job.id, 42);
    EXPECT_EQ(jobs_.Get(job.id)->progress, 42);
    jobs_.SetProgress(job.id, 250);
    EXPECT_EQ(jobs_.Get(job.id)->progress, 100);

    const auto before_finish = UnixNowMs();
    EXPECT_TRUE(jobs_.Finish(job.id, "mp3-fid", 98765, 61.5, 2.25));

    const auto done = jobs_.Get(job.id);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->status, JobStatus::kDone);
    EXPECT_EQ(done->mp3_fid, "mp3-fid");
    EXPECT_EQ(done->mp3_bytes, 98765u);
    EXPECT_DOUBLE_EQ(done->duration_s, 61.5);
    EXPECT_DOUBLE_EQ(done->conversion_s, 2.25);
    EXPECT_EQ(done->progress, 100);
    EXPECT_GE(done->updated_at_ms, before_finish);
    EXPECT_EQ(done->created_at_ms, 1000);
}

TEST_F(SqliteStoresTest, DoneIsFinal) {
    const Job job = NewJob("owner");
    jobs_.Create(job);
    ASSERT_TRUE(jobs_.Claim(job.id));
    ASSERT_TRUE(jobs_.Finish(job.id, "mp3", 1, 1, 1));

    EXPECT_FALSE(jobs_.Claim(job.id));
    EXPECT_FALSE(jobs_.Finish(job.id, "other-mp3", 2, 2, 2));
    EXPECT_FALSE(jobs_.Fail(job.id, "too late", 3));
    jobs_.SetProgress(job.id, 5);

    const auto stored = jobs_.Get(job.id);
    EXPECT_EQ(stored->status, JobStatus::kDone);
    EXPECT_EQ(stored->mp3_fid, "mp3");
    EXPECT_EQ(stored->progress, 100);
    EXPECT_TRUE(stored->error.empty());
}

TEST_F(SqliteStoresTest, FinishNeedsAConvertingJob) {
    const Job job = NewJob("owner");
    jobs_.Create(job);

    EXPECT_FALSE(jobs_.Finish(job.id, "mp3", 1, 1, 1));
    jobs_.SetProgress(job.id, 50);

    const auto stored = jobs_.Get(job.id);
    EXPECT_EQ(stored->status, JobStatus::kQueued);
    EXPECT_EQ(stored->progress, 0) << "progress is only for converting jobs";
    EXPECT_FALSE(jobs_.Finish("no-such-job", "mp3", 1, 1, 1));
}

TEST_F(SqliteStoresTest, QueuedJobCanFailAndFailedIsFinal) {
    const Job job = NewJob("owner");
    jobs_.Create(job);

    EXPECT_TRUE(jobs_.Fail(job.id, "the upload is not a video", 0.5));

    const auto failed = jobs_.Get(job.id);
    EXPECT_EQ(failed->status, JobStatus::kFailed);
    EXPECT_EQ(failed->error, "the upload is not a video");
    EXPECT_DOUBLE_EQ(failed->conversion_s, 0.5);
    EXPECT_FALSE(jobs_.Claim(job.id));
    EXPECT_FALSE(jobs_.Finish(job.id, "mp3", 1, 1, 1));
    EXPECT_FALSE(jobs_.Fail(job.id, "again", 1));
    EXPECT_EQ(jobs_.Get(job.id)->error, "the upload is not a video");
}

TEST_F(SqliteStoresTest, ConvertingJobCanFail) {
    const Job job = NewJob("owner");
    jobs_.Create(job);
    ASSERT_TRUE(jobs_.Claim(job.id));

    EXPECT_TRUE(jobs_.Fail(job.id, "no audio stream", 1.5));

    EXPECT_EQ(jobs_.Get(job.id)->status, JobStatus::kFailed);
    EXPECT_FALSE(jobs_.Finish(job.id, "mp3", 1, 1, 1));
}

TEST_F(SqliteStoresTest, MissingJobRefusesEveryChange) {
    EXPECT_FALSE(jobs_.Claim("missing"));
    EXPECT_FALSE(jobs_.Fail("missing", "x", 0));
    EXPECT_FALSE(jobs_.Remove("missing"));
    EXPECT_NO_THROW(jobs_.SetProgress("missing", 10));
    EXPECT_NO_THROW(jobs_.MarkNotified("missing", ""));
}

TEST_F(SqliteStoresTest, RacingFinishersExactlyOneWins) {
    // Two connections to one file, as two converter processes would have.
    SqliteDatabase other_database(DatabasePath());
    SqliteJobStore other_jobs(other_database);
    constexpr int kJobs = 50;
    std::vector<std::string> ids;
    for (int i = 0; i < kJobs; ++i) {
        const Job job = NewJob("owner");
        jobs_.Create(job);
        ASSERT_TRUE(jobs_.Claim(job.id));
        ids.push_back(job.id);
    }

    std::atomic<int> wins_a = 0;
    std::atomic<int> wins_b = 0;
    std::thread a([&] {
        for (int i = 0; i < kJobs; ++i) {
            if (jobs_.Finish(ids[static_cast<std::size_t>(i)], "mp3-a", 1, 1, 1)) {
                ++wins_a;
            }
        }
    });
    std::thread b([&] {
        for (int i = 0; i < kJobs; ++i) {
            if (other_jobs.Finish(ids[static_cast<std::size_t>(i)], "mp3-b", 2, 2, 2)) {
                ++wins_b;
            }
        }
    });
    a.join();
    b.join();

    EXPECT_EQ(wins_a + wins_b, kJobs);
    for (const std::string& id : ids) {
        const auto job = jobs_.Get(id);
        ASSERT_TRUE(job);
        EXPECT_EQ(job->status, JobStatus::kDone);
        EXPECT_TRUE(job->mp3_fid == "mp3-a" || job->mp3_fid == "mp3-b");
    }
}

TEST_F(SqliteStoresTest, MarkNotifiedRecordsSuccessOrTheError) {
    const Job job = NewJob("owner");
    jobs_.Create(job);

    jobs_.MarkNotified(job.id, "550 mailbox unavailable");
    auto stored = jobs_.Get(job.id);
    EXPECT_FALSE(stored->notified);
    EXPECT_EQ(stored->notify_error, "550 mailbox unavailable");

    jobs_.MarkNotified(job.id, "");
    stored = jobs_.Get(job.id);
    EXPECT_TRUE(stored->notified);
    EXPECT_TRUE(stored->notify_error.empty());
}

TEST_F(SqliteStoresTest, RemoveDeletesTheJob) {
    const Job job = NewJob("owner");
    jobs_.Create(job);

    EXPECT_TRUE(jobs_.Remove(job.id));

    EXPECT_FALSE(jobs_.Get(job.id));
    EXPECT_FALSE(jobs_.Remove(job.id));
}

TEST_F(SqliteStoresTest, ListIsNewestFirstWithPagingAndOwnerFilter) {
    Job a1 = NewJob("alice", 1000);
    Job b1 = NewJob("bob", 2000);
    Job a2 = NewJob("alice", 3000);
    Job a3 = NewJob("alice", 3000);  // same time as a2: the larger id comes first
    Job b2 = NewJob("bob", 4000);
    for (const Job* job : {&a1, &b1, &a2, &a3, &b2}) {
        jobs_.Create(*job);
    }
    const std::string a_late = std::max(a2.id, a3.id);
    const std::string a_early = std::min(a2.id, a3.id);

    EXPECT_EQ(Ids(jobs_.List("", 10, 0)),
              (std::vector<std::string>{b2.id, a_late, a_early, b1.id, a1.id}));
    EXPECT_EQ(Ids(jobs_.List("", 2, 0)), (std::vector<std::string>{b2.id, a_late}));
    EXPECT_EQ(Ids(jobs_.List("", 2, 2)), (std::vector<std::string>{a_early, b1.id}));
    EXPECT_EQ(Ids(jobs_.List("", 2, 4)), (std::vector<std::string>{a1.id}));
    EXPECT_TRUE(jobs_.List("", 2, 5).empty());
    EXPECT_EQ(Ids(jobs_.List("alice", 10, 0)), (std::vector<std::string>{a_late, a_early, a1.id}));
    EXPECT_EQ(Ids(jobs_.List("alice", 1, 1)), (std::vector<std::string>{a_early}));
    EXPECT_EQ(Ids(jobs_.List("bob", 10, 0)), (std::vector<std::string>{b2.id, b1.id}));
    EXPECT_TRUE(jobs_.List("carol", 10, 0).empty());
    EXPECT_TRUE(jobs_.List("", 0, 0).empty());
    EXPECT_EQ(jobs_.List("", 10, -5).size(), 5u);
}

TEST_F(SqliteStoresTest, CountByStatusGivesAllFourIncludingZero) {
    auto counts = jobs_.CountByStatus();
    EXPECT_EQ(counts, (std::map<std::string, long>{
                          {"queued", 0}, {"converting", 0}, {"done", 0}, {"failed", 0}}));

    std::vector<Job> created;
    for (int i = 0; i < 4; ++i) {
        created.push_back(NewJob("owner"));
        jobs_.Create(created.back());
    }
    ASSERT_TRUE(jobs_.Claim(created[0].id));
    ASSERT_TRUE(jobs_.Claim(created[1].id));
    ASSERT_TRUE(jobs_.Finish(created[1].id, "mp3", 1, 1, 1));

    counts = jobs_.CountByStatus();
    EXPECT_EQ(counts, (std::map<std::string, long>{
                          {"queued", 2}, {"converting", 1}, {"done", 1}, {"failed", 0}}));
}

}  // namespace
}  // namespace video2mp3::adapters
