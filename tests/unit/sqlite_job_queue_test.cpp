#include "adapters/sqlite/sqlite_job_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sqlite/sqlite_database.h"
#include "support/media_tools.h"

namespace video2mp3::adapters {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kDeadVideoQueue = "video.dead";

std::chrono::milliseconds Since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

class SqliteJobQueueTest : public ::testing::Test {
 protected:
    std::filesystem::path DatabasePath() const { return dir_ / "queue.db"; }

    std::unique_ptr<SqliteJobQueue> MakeQueue(std::chrono::milliseconds visibility_timeout,
                                              int max_deliveries = 5) {
        SqliteJobQueue::Options options;
        options.visibility_timeout = visibility_timeout;
        options.max_deliveries = max_deliveries;
        return std::make_unique<SqliteJobQueue>(database_, options);
    }

    /// The stored dead-letter reason of a message, read straight from the table.
    std::string DeadReason(const std::string& message_id) {
        SqliteSession session(database_);
        SqliteStatement select =
            session.Prepare("SELECT dead_reason FROM messages WHERE message_id = ?1");
        select.Bind(1, message_id);
        return select.Step() ? select.Text(0) : "<no such message>";
    }

    /// Every row of the messages table, taken or not.
    std::int64_t StoredMessages() {
        SqliteSession session(database_);
        SqliteStatement count = session.Prepare("SELECT COUNT(*) FROM messages");
        count.Step();
        return count.Int64(0);
    }

    video2mp3::testing::TempDir dir_;
    SqliteDatabase database_{DatabasePath()};
    SqliteJobQueue queue_{database_};
};

TEST_F(SqliteJobQueueTest, PublishTakeAck) {
    queue_.Publish(kVideoQueue, "job-1", R"({"job_id":"job-1"})");
    EXPECT_EQ(queue_.Depth(kVideoQueue), 1u);
    EXPECT_EQ(queue_.Depth(kMp3Queue), 0u);

    const std::optional<Delivery> delivery = queue_.Take(kVideoQueue, 0ms);

    ASSERT_TRUE(delivery);
    EXPECT_EQ(delivery->queue, kVideoQueue);
    EXPECT_EQ(delivery->message_id, "job-1");
    EXPECT_EQ(delivery->body, R"({"job_id":"job-1"})");
    EXPECT_EQ(delivery->attempt, 1);
    EXPECT_NE(delivery->tag, 0u);
    EXPECT_EQ(queue_.Depth(kVideoQueue), 0u) << "a taken message is not waiting";
    EXPECT_FALSE(queue_.Take(kVideoQueue, 0ms)) << "a taken message is hidden";

    queue_.Ack(*delivery);

    EXPECT_EQ(StoredMessages(), 0);
    EXPECT_EQ(queue_.ReleaseAll(), 0);
    EXPECT_FALSE(queue_.Take(kVideoQueue, 0ms));
}

TEST_F(SqliteJobQueueTest, DeliversInPublishOrder) {
    for (int i = 0; i < 5; ++i) {
        queue_.Publish(kVideoQueue, "job-" + std::to_string(i), "{}");
    }

    for (int i = 0; i < 5; ++i) {
        const auto delivery = queue_.Take(kVideoQueue, 0ms);
        ASSERT_TRUE(delivery);
        EXPECT_EQ(delivery->message_id, "job-" + std::to_string(i));
        queue_.Ack(*delivery);
    }
    EXPECT_FALSE(queue_.Take(kVideoQueue, 0ms));
}

TEST_F(SqliteJobQueueTest, QueuesAreSeparate) {
    queue_.Publish(kVideoQueue, "video-job", "v");
    queue_.Publish(kMp3Queue, "mp3-job", "m");

    const auto mp3 = queue_.Take(kMp3Queue, 0ms);
    ASSERT_TRUE(mp3);
    EXPECT_EQ(mp3->message_id, "mp3-job");
    EXPECT_EQ(mp3->queue, kMp3Queue);
    EXPECT_FALSE(queue_.Take(kMp3Queue, 0ms));

    const auto video = queue_.Take(kVideoQueue, 0ms);
    ASSERT_TRUE(video);
    EXPECT_EQ(video->message_id, "video-job");
}

TEST_F(SqliteJobQueueTest, UnackedMessageComesBackAfterTheVisibilityTimeout) {
    auto queue = MakeQueue(200ms);
    queue->Publish(kVideoQueue, "job-1", "body");
    const auto first = queue->Take(kVideoQueue, 0ms);
    ASSERT_TRUE(first);
    const auto taken_at = Clock::now();
    EXPECT_FALSE(queue->Take(kVideoQueue, 0ms));

    const auto second = queue->Take(kVideoQueue, 2s);

    ASSERT_TRUE(second);
    EXPECT_GE(Since(taken_at), 150ms);
    EXPECT_LT(Since(taken_at), 1500ms);
    EXPECT_EQ(second->message_id, "job-1");
    EXPECT_EQ(second->body, "body");
    EXPECT_EQ(second->attempt, 2);
    EXPECT_EQ(second->tag, first->tag);
}

TEST_F(SqliteJobQueueTest, RetryHidesTheMessageForTheDelay) {
    queue_.Publish(kVideoQueue, "job-1", "body");
    const auto first = queue_.Take(kVideoQueue, 0ms);
    ASSERT_TRUE(first);

    const auto retried_at = Clock::now();
    queue_.Retry(*first, 300ms);

    EXPECT_FALSE(queue_.Take(kVideoQueue, 0ms));
    EXPECT_EQ(queue_.Depth(kVideoQueue), 0u);
    const auto second = queue_.Take(kVideoQueue, 2s);
    ASSERT_TRUE(second);
    EXPECT_GE(Since(retried_at), 250ms);
    EXPECT_EQ(second->attempt, 2);
    EXPECT_EQ(second->message_id, "job-1");
}

TEST_F(SqliteJobQueueTest, RetryWithoutDelayIsAtOnce) {
    queue_.Publish(kVideoQueue, "job-1", "body");
    const auto first = queue_.Take(kVideoQueue, 0ms);
    ASSERT_TRUE(first);

    queue_.Retry(*first, 0ms);

    const auto second = queue_.Take(kVideoQueue, 0ms);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->attempt, 2);
}

TEST_F(SqliteJobQueueTest, DeliveryLimitSendsTheMessageToTheDeadLetters) {
    auto queue = MakeQueue(60s, 2);
    queue->Publish(kVideoQueue, "job-1", "body");

    const auto first = queue->Take(kVideoQueue, 0ms);
    ASSERT_TRUE(first);
    queue->Retry(*first, 0ms);
    const auto second = queue->Take(kVideoQueue, 0ms);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->attempt, 2);
    queue->Retry(*second, 0ms);

    EXPECT_FALSE(queue->Take(kVideoQueue, 0ms));
    EXPECT_EQ(queue->Depth(kVideoQueue), 0u);
    EXPECT_EQ(queue->Depth(kDeadVideoQueue), 1u);
    EXPECT_EQ(DeadReason("job-1"), SqliteJobQueue::kDeliveryLimitReason);
    const auto dead = queue->Take(kDeadVideoQueue, 0ms);
    ASSERT_TRUE(dead);
    EXPECT_EQ(dead->queue, kDeadVideoQueue);
    EXPECT_EQ(dead->message_id, "job-1");
    EXPECT_EQ(dead->body, "body");
    EXPECT_EQ(dead->attempt, 1);
}

TEST_F(SqliteJobQueueTest, DeadLetterKeepsTheReason) {
    queue_.Publish(kVideoQueue, "job-1", "not json");
    const auto delivery = queue_.Take(kVideoQueue, 0ms);
    ASSERT_TRUE(delivery);

    queue_.DeadLetter(*delivery, "malformed message");

    EXPECT_FALSE(queue_.Take(kVideoQueue, 0ms));
    EXPECT_EQ(queue_.Depth(kDeadVideoQueue), 1u);
    EXPECT_EQ(DeadReason("job-1"), "malformed message");
    const auto dead = queue_.Take(kDeadVideoQueue, 0ms);
    ASSERT_TRUE(dead);
    EXPECT_EQ(dead->body, "not json");
}

TEST_F(SqliteJobQueueTest, KeepAliveKeepsTheMessageHidden) {
    auto queue = MakeQueue(300ms);
    queue->Publish(kVideoQueue, "job-1", "body");
    const auto delivery = queue->Take(kVideoQueue, 0ms);
    ASSERT_TRUE(delivery);

    std::this_thread::sleep_for(200ms);
    queue->KeepAlive(*delivery);
    std::this_thread::sleep_for(200ms);

    // 400 ms after the take: visible again without the keep-alive, hidden with it.
    EXPECT_FALSE(queue->Take(kVideoQueue, 0ms));
    EXPECT_EQ(queue->Depth(kVideoQueue), 0u);
    const auto again = queue->Take(kVideoQueue, 1s);
    ASSERT_TRUE(again) << "without more keep-alives the message comes back";
    EXPECT_EQ(again->attempt, 2);
}

TEST_F(SqliteJobQueueTest, DepthCountsOnlyWaitingMessages) {
    EXPECT_EQ(queue_.Depth(kVideoQueue), 0u);
    for (int i = 0; i < 3; ++i) {
        queue_.Publish(kVideoQueue, "job-" + std::to_string(i), "{}");
    }
    queue_.Publish(kMp3Queue, "other", "{}");
    EXPECT_EQ(queue_.Depth(kVideoQueue), 3u);

    const auto taken = queue_.Take(kVideoQueue, 0ms);
    ASSERT_TRUE(taken);
    EXPECT_EQ(queue_.Depth(kVideoQueue), 2u);

    queue_.Retry(*taken, 10s);
    EXPECT_EQ(queue_.Depth(kVideoQueue), 2u);
    EXPECT_EQ(queue_.Depth(kMp3Queue), 1u);
}

TEST_F(SqliteJobQueueTest, ReleaseAllMakesTakenMessagesVisible) {
    for (int i = 0; i < 3; ++i) {
        queue_.Publish(kVideoQueue, "job-" + std::to_string(i), "{}");
    }
    queue_.Publish(kMp3Queue, "mp3-job", "{}");
    ASSERT_TRUE(queue_.Take(kVideoQueue, 0ms));
    ASSERT_TRUE(queue_.Take(kVideoQueue, 0ms));
    ASSERT_TRUE(queue_.Take(kMp3Queue, 0ms));
    EXPECT_EQ(queue_.Depth(kVideoQueue), 1u);

    EXPECT_EQ(queue_.ReleaseAll(), 3);

    EXPECT_EQ(queue_.Depth(kVideoQueue), 3u);
    EXPECT_EQ(queue_.Depth(kMp3Queue), 1u);
    const auto first = queue_.Take(kVideoQueue, 0ms);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->message_id, "job-0");
    EXPECT_EQ(first->attempt, 2);
    EXPECT_EQ(queue_.ReleaseAll(), 1);
}

TEST_F(SqliteJobQueueTest, MessagesSurviveClosingTheDatabase) {
    const auto path = dir_ / "reopened.db";
    {
        SqliteDatabase database(path);
        SqliteJobQueue queue(database);
        queue.Publish(kVideoQueue, "taken", "body-1");
        queue.Publish(kVideoQueue, "waiting", "body-2");
        ASSERT_TRUE(queue.Take(kVideoQueue, 0ms));
    }

    SqliteDatabase database(path);
    SqliteJobQueue queue(database);

    EXPECT_EQ(queue.Depth(kVideoQueue), 1u);
    EXPECT_EQ(queue.ReleaseAll(), 1);
    const auto first = queue.Take(kVideoQueue, 0ms);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->message_id, "taken");
    EXPECT_EQ(first->body, "body-1");
    EXPECT_EQ(first->attempt, 2);
    const auto second = queue.Take(kVideoQueue, 0ms);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->message_id, "waiting");
    EXPECT_EQ(second->attempt, 1);
}

TEST_F(SqliteJobQueueTest, TakeWaitsUpToTheGivenTime) {
    const auto start = Clock::now();

    EXPECT_FALSE(queue_.Take(kVideoQueue, 300ms));

    EXPECT_GE(Since(start), 300ms);
    EXPECT_LT(Since(start), 1000ms);
}

TEST_F(SqliteJobQueueTest, TakeWakesWhenAnotherThreadPublishes) {
    const auto start = Clock::now();
    std::thread publisher([&] {
        std::this_thread::sleep_for(150ms);
        queue_.Publish(kVideoQueue, "job-1", "body");
    });

    const auto delivery = queue_.Take(kVideoQueue, 5s);
    const auto waited = Since(start);
    publisher.join();

    ASSERT_TRUE(delivery);
    EXPECT_EQ(delivery->message_id, "job-1");
    EXPECT_GE(waited, 140ms);
    EXPECT_LT(waited, 1000ms);
}

TEST_F(SqliteJobQueueTest, TakeSeesMessagesOfAnotherConnection) {
    SqliteDatabase other_database(DatabasePath());
    SqliteJobQueue other_queue(other_database);
    std::thread publisher([&] {
        std::this_thread::sleep_for(100ms);
        other_queue.Publish(kVideoQueue, "from-elsewhere", "body");
    });

    const auto start = Clock::now();
    const auto delivery = queue_.Take(kVideoQueue, 5s);
    publisher.join();

    ASSERT_TRUE(delivery);
    EXPECT_EQ(delivery->message_id, "from-elsewhere");
    EXPECT_LT(Since(start), 1000ms);
}

TEST_F(SqliteJobQueueTest, ActingOnAGoneMessageDoesNotThrow) {
    queue_.Publish(kVideoQueue, "job-1", "body");
    const auto delivery = queue_.Take(kVideoQueue, 0ms);
    ASSERT_TRUE(delivery);
    queue_.Ack(*delivery);

    EXPECT_NO_THROW(queue_.Ack(*delivery));
    EXPECT_NO_THROW(queue_.Retry(*delivery, 0ms));
    EXPECT_NO_THROW(queue_.KeepAlive(*delivery));
    EXPECT_NO_THROW(queue_.DeadLetter(*delivery, "late"));

    EXPECT_EQ(StoredMessages(), 0);
}

TEST_F(SqliteJobQueueTest, AnExpiredHolderCannotDisturbTheNextOne) {
    auto queue = MakeQueue(200ms);
    queue->Publish(kVideoQueue, "job-1", "body");
    const auto stale = queue->Take(kVideoQueue, 0ms);
    ASSERT_TRUE(stale);
    const auto current = queue->Take(kVideoQueue, 2s);
    ASSERT_TRUE(current);
    ASSERT_EQ(current->attempt, 2);

    queue->Retry(*stale, 0ms);
    queue->DeadLetter(*stale, "stale");

    EXPECT_FALSE(queue->Take(kVideoQueue, 0ms)) << "still held by the current consumer";
    EXPECT_EQ(queue->Depth(kDeadVideoQueue), 0u);
    queue->Ack(*current);
    EXPECT_EQ(StoredMessages(), 0);
}

TEST_F(SqliteJobQueueTest, RefusesBadOptions) {
    EXPECT_THROW(MakeQueue(0ms), std::invalid_argument);
    EXPECT_THROW(MakeQueue(1s, 0), std::invalid_argument);
    EXPECT_TRUE(queue_.Ready());
}

/// Publishes 200 messages, drains them with one consumer thread per queue object, and checks
/// every message reached exactly one consumer.
void ExpectEachMessageOnce(JobQueue& publisher, JobQueue& consumer_a, JobQueue& consumer_b) {
    constexpr int kMessages = 200;
    for (int i = 0; i < kMessages; ++i) {
        publisher.Publish(kVideoQueue, "job-" + std::to_string(i), "{}");
    }

    std::vector<std::string> got_a;
    std::vector<std::string> got_b;
    auto consume = [](JobQueue& queue, std::vector<std::string>& got) {
        while (const auto delivery = queue.Take(kVideoQueue, 200ms)) {
            got.push_back(delivery->message_id);
            queue.Ack(*delivery);
        }
    };
    std::thread a([&] { consume(consumer_a, got_a); });
    std::thread b([&] { consume(consumer_b, got_b); });
    a.join();
    b.join();

    std::map<std::string, int> times;
    for (const auto* got : {&got_a, &got_b}) {
        for (const std::string& id : *got) {
            ++times[id];
        }
    }
    EXPECT_EQ(got_a.size() + got_b.size(), static_cast<std::size_t>(kMessages));
    EXPECT_EQ(times.size(), static_cast<std::size_t>(kMessages));
    for (const auto& [id, count] : times) {
        EXPECT_EQ(count, 1) << id;
    }
}

TEST_F(SqliteJobQueueTest, TwoConsumerThreadsNeverShareAMessage) {
    ExpectEachMessageOnce(queue_, queue_, queue_);
    EXPECT_EQ(StoredMessages(), 0);
}

TEST_F(SqliteJobQueueTest, TwoConnectionsNeverShareAMessage) {
    SqliteDatabase other_database(DatabasePath());
    SqliteJobQueue other_queue(other_database);

    ExpectEachMessageOnce(queue_, queue_, other_queue);
    EXPECT_EQ(StoredMessages(), 0);
}

}  // namespace
}  // namespace video2mp3::adapters

namespace video2mp3::adapters {
namespace {

TEST(SqliteJobQueueRelease, GivesBackAtOnceWithoutCountingTheDelivery) {
    testing::TempDir dir;
    SqliteDatabase database(dir / "queue.db");
    SqliteJobQueue::Options options;
    options.max_deliveries = 2;
    SqliteJobQueue queue(database, options);
    queue.Publish(kVideoQueue, "job-r", R"({"job_id":"job-r"})");

    // Released ten times (ten clean shutdowns): never dead-lettered, still attempt 1.
    for (int i = 0; i < 10; ++i) {
        const auto delivery = queue.Take(kVideoQueue, std::chrono::milliseconds(0));
        ASSERT_TRUE(delivery) << "release " << i;
        EXPECT_EQ(delivery->attempt, 1);
        queue.Release(*delivery);
    }
    EXPECT_EQ(queue.Depth(std::string(kVideoQueue) + ".dead"), 0u);

    const auto last = queue.Take(kVideoQueue, std::chrono::milliseconds(0));
    ASSERT_TRUE(last);
    queue.Ack(*last);
    EXPECT_FALSE(queue.Take(kVideoQueue, std::chrono::milliseconds(0)));
}

}  // namespace
}  // namespace video2mp3::adapters
