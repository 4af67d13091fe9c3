// Distributed mode under faults, each a test: a converter killed or stopped mid-conversion,
// RabbitMQ restarted while jobs flow, PostgreSQL and MongoDB stopped, a poison message, an
// SMTP server that answers 451 or 550, and a conversion longer than three heartbeats.
// Servers a test stops are its own (TestServer); the rest are the run's shared ones.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "adapters/amqp/amqp_job_queue.h"
#include "support/api_client.h"
#include "support/cluster.h"
#include "support/media_tools.h"

namespace video2mp3 {
namespace {

using testing::ApiClient;
using testing::Cluster;
using testing::ClusterServers;
using testing::TestServer;
using Clock = std::chrono::steady_clock;

constexpr const char* kPassword = "correct horse battery";

int CountMentioning(const std::vector<std::string>& mails, const std::string& text) {
    int count = 0;
    for (const auto& mail : mails) {
        count += mail.find(text) != std::string::npos ? 1 : 0;
    }
    return count;
}

/// Waits until at least `count` e-mails mention `text`; returns how many do.
int WaitForMails(const Cluster& cluster, const std::string& text, int count,
                 std::chrono::seconds limit = std::chrono::seconds(60)) {
    const auto deadline = Clock::now() + limit;
    int found = 0;
    while (Clock::now() < deadline) {
        found = CountMentioning(cluster.Mails(), text);
        if (found >= count) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return found;
}

/// Polls the job until `done(job)` or the time is up; the last answer.
nlohmann::json PollJob(ApiClient& api, const std::string& token, const std::string& id,
                       const std::function<bool(const nlohmann::json&)>& done,
                       std::chrono::seconds limit = std::chrono::seconds(120)) {
    const auto deadline = Clock::now() + limit;
    nlohmann::json job;
    while (Clock::now() < deadline) {
        auto result = api.Get(token, "/jobs/" + id);
        if (result && result->status == 200) {
            job = nlohmann::json::parse(result->body);
            if (done(job)) {
                break;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return job;
}

bool ConvertingWell(const nlohmann::json& job) {
    return job.value("status", "") == "converting" && job.value("progress", 0) >= 3;
}

/// Messages waiting in a queue, asked of RabbitMQ directly.
std::size_t QueueDepth(const std::string& amqp_url, const std::string& queue) {
    adapters::AmqpConfig config;
    config.url = amqp_url;
    adapters::AmqpJobQueue probe(config);
    for (int i = 0; i < 100 && !probe.Ready(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return probe.Depth(queue);
}

class DistributedFaultTest : public ::testing::Test {
 protected:
    static void SetUpTestSuite() {
        std::signal(SIGPIPE, SIG_IGN);
        samples_ = new testing::TempDir();
        testing::Ffmpeg(
            {"-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-f", "lavfi", "-i",
             "testsrc=size=160x120:rate=10:duration=4", "-c:v", "libx264", "-c:a", "aac"},
            *samples_ / "clip.mp4");
        // Twenty minutes of sound: seconds of work for a converter, long enough to interrupt.
        testing::Ffmpeg({"-f", "lavfi", "-i", "sine=frequency=330:duration=1200:sample_rate=22050",
                         "-c:a", "flac"},
                        *samples_ / "lecture.flac");
    }
    static void TearDownTestSuite() {
        delete samples_;
        samples_ = nullptr;
    }

    static std::string Sample(const std::string& name) {
        return testing::ReadText(*samples_ / name);
    }

    /// Logs in and uploads; the job id (the test fails on anything but 202).
    static std::string Submit(ApiClient& api, const std::string& token, const std::string& name) {
        auto upload = api.Upload(token, name, Sample(name));
        EXPECT_TRUE(upload && upload->status == 202) << (upload ? upload->body : "no answer");
        if (!upload || upload->status != 202) {
            return "";
        }
        return nlohmann::json::parse(upload->body)["job_id"];
    }

    static testing::TempDir* samples_;
};

testing::TempDir* DistributedFaultTest::samples_ = nullptr;

// kill -9 of a converter mid-conversion: another one finishes the job; one MP3, one e-mail.
TEST_F(DistributedFaultTest, ConverterKilledMidConversionIsFinishedByAnother) {
    Cluster cluster;
    cluster.AddUser("erin@example.com", kPassword);
    cluster.StartAll(1);
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("erin@example.com", kPassword).value_or("");
    const std::string id = Submit(api, token, "lecture.flac");
    ASSERT_FALSE(id.empty());

    const auto converting = PollJob(api, token, id, ConvertingWell);
    ASSERT_TRUE(ConvertingWell(converting)) << converting.dump() << cluster.Logs();
    ASSERT_LT(converting["progress"].get<int>(), 100) << "too quick to interrupt";
    cluster.Converters().front()->Kill();

    cluster.StartConverter();
    const auto job = api.WaitForJob(token, id, std::chrono::seconds(240));
    ASSERT_EQ(job["status"], "done") << job.dump() << cluster.Logs();
    EXPECT_NEAR(job["duration_s"].get<double>(), 1200.0, 1.0);
    EXPECT_NE(cluster.Converters().back()->Log().find("delivered again (attempt 2)"),
              std::string::npos);

    EXPECT_EQ(WaitForMails(cluster, id, 1), 1);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    EXPECT_EQ(CountMentioning(cluster.Mails(), id), 1) << "one e-mail, not two";
    auto download = api.Get(token, "/download?fid=" + job["mp3_fid"].get<std::string>());
    ASSERT_EQ(download->status, 200);
    EXPECT_EQ(download->body.size(), job["mp3_bytes"].get<std::size_t>());
}

// SIGTERM mid-conversion: the converter gives the job back and exits at once; the job is
// finished by the next converter.
TEST_F(DistributedFaultTest, ConverterStoppedBySigtermGivesItsJobBack) {
    Cluster cluster;
    cluster.AddUser("frank@example.com", kPassword);
    cluster.StartAll(1);
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("frank@example.com", kPassword).value_or("");
    const std::string id = Submit(api, token, "lecture.flac");
    ASSERT_TRUE(ConvertingWell(PollJob(api, token, id, ConvertingWell))) << cluster.Logs();

    const auto asked = Clock::now();
    EXPECT_EQ(cluster.Converters().front()->Terminate(), 0);
    EXPECT_LT(Clock::now() - asked, std::chrono::seconds(20)) << "a stop waits for no conversion";
    EXPECT_NE(cluster.Converters().front()->Log().find("given back on shutdown"),
              std::string::npos);

    cluster.StartConverter();
    const auto job = api.WaitForJob(token, id, std::chrono::seconds(240));
    EXPECT_EQ(job["status"], "done") << job.dump() << cluster.Logs();
    EXPECT_EQ(WaitForMails(cluster, id, 1), 1);
}

// SIGTERM to the gateway mid-upload: /readyz turns 503 at once, the upload in flight still
// finishes (202) and its job converts, then the gateway exits 0 and takes no new requests.
TEST_F(DistributedFaultTest, GatewayDrainsOnSigterm) {
    Cluster cluster({}, {{"VIDEO2MP3_SHUTDOWN_DELAY", "3"}});
    cluster.AddUser("olga@example.com", kPassword);
    cluster.StartAll(1);
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("olga@example.com", kPassword).value_or("");
    const std::string body = Sample("clip.mp4");

    // A raw upload whose body arrives in two halves, with the SIGTERM in between.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(cluster.GatewayPort()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    const std::string head = "POST /upload HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer " +
                             token + "\r\nX-Filename: clip.mp4\r\nContent-Type: video/mp4\r\n" +
                             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    const std::string first = head + body.substr(0, body.size() / 2);
    ASSERT_EQ(::send(fd, first.data(), first.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(first.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    cluster.Gateway()->Signal(SIGTERM);
    ASSERT_TRUE(cluster.Gateway()->WaitForLog("draining", std::chrono::seconds(10)));
    ApiClient fresh(cluster.GatewayPort());
    auto ready = fresh.Raw().Get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 503) << ready->body;

    const std::string second = body.substr(body.size() / 2);
    ASSERT_EQ(::send(fd, second.data(), second.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(second.size()));
    std::string answer;
    char buffer[4096];
    for (ssize_t got = 0; (got = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
        answer.append(buffer, static_cast<std::size_t>(got));
        if (answer.find("\r\n\r\n") != std::string::npos && answer.find('}') != std::string::npos) {
            break;
        }
    }
    ::close(fd);
    ASSERT_NE(answer.find(" 202 "), std::string::npos) << answer << cluster.Logs();
    const auto json_start = answer.find('{');
    ASSERT_NE(json_start, std::string::npos) << answer;
    const std::string id = nlohmann::json::parse(answer.substr(json_start))["job_id"];

    EXPECT_EQ(cluster.Gateway()->Wait(), 0) << cluster.Logs();
    EXPECT_FALSE(fresh.Raw().Get("/healthz")) << "a stopped gateway takes no requests";
    EXPECT_EQ(WaitForMails(cluster, id, 1), 1)
        << "the drained upload was converted and mailed" << cluster.Logs();
}

// RabbitMQ restarted while uploads come in: every upload that was accepted completes.
TEST_F(DistributedFaultTest, EveryAcceptedUploadCompletesAcrossABrokerRestart) {
    TestServer broker("amqp");
    Cluster cluster(ClusterServers{.amqp = broker.Url()});
    cluster.AddUser("grace@example.com", kPassword);
    cluster.StartAll(1);
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("grace@example.com", kPassword).value_or("");

    std::vector<std::string> accepted;
    int refused = 0;
    std::atomic<bool> restarting{false};
    std::thread restart([&] {
        std::this_thread::sleep_for(std::chrono::seconds(2));
        restarting = true;
        broker.Stop();
        broker.Start();
        restarting = false;
    });
    const auto until = Clock::now() + std::chrono::seconds(8);
    while (Clock::now() < until || restarting) {
        auto upload = api.Upload(token, "clip.mp4", Sample("clip.mp4"));
        if (upload && upload->status == 202) {
            accepted.push_back(nlohmann::json::parse(upload->body)["job_id"]);
        } else {
            ++refused;
            ASSERT_TRUE(upload && upload->status == 503)
                << "refused uploads say 503: " << (upload ? upload->body : "no answer");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    restart.join();
    for (int i = 0; i < 3; ++i) {  // and after the restart, uploads work again
        auto upload = api.Upload(token, "clip.mp4", Sample("clip.mp4"));
        ASSERT_TRUE(upload);
        ASSERT_EQ(upload->status, 202) << upload->body << cluster.Logs();
        accepted.push_back(nlohmann::json::parse(upload->body)["job_id"]);
    }
    ASSERT_GE(accepted.size(), 5u);

    for (const auto& id : accepted) {
        const auto job = api.WaitForJob(token, id, std::chrono::seconds(180));
        EXPECT_EQ(job["status"], "done") << id << " " << job.dump();
    }
    for (const auto& id : accepted) {
        EXPECT_EQ(WaitForMails(cluster, id, 1), 1) << id;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    int duplicates = 0;
    for (const auto& id : accepted) {
        duplicates += std::max(0, CountMentioning(cluster.Mails(), id) - 1);
    }
    EXPECT_EQ(duplicates, 0);
    RecordProperty("accepted", static_cast<int>(accepted.size()));
    RecordProperty("refused_during_restart", refused);
}

// PostgreSQL stopped: logins answer 503 (not 500), and work again once it is back.
TEST_F(DistributedFaultTest, PostgresStoppedMeans503ThenRecovery) {
    TestServer postgres("postgres");
    Cluster cluster(ClusterServers{.postgres = postgres.Url()});
    cluster.AddUser("heidi@example.com", kPassword);
    cluster.StartAuth();
    cluster.StartGateway();
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("heidi@example.com", kPassword).value_or("");
    ASSERT_FALSE(token.empty()) << cluster.Logs();
    EXPECT_EQ(api.Get(token, "/jobs")->status, 200);

    postgres.Stop();
    int status = 0;
    EXPECT_FALSE(api.Login("heidi@example.com", kPassword, &status));
    EXPECT_EQ(status, 503) << cluster.Logs();
    auto jobs = api.Get(token, "/jobs");
    EXPECT_EQ(jobs->status, 503) << jobs->body;
    EXPECT_NE(jobs->body.find("error"), std::string::npos);

    postgres.Start();
    std::optional<std::string> again;
    for (int i = 0; i < 50 && !again; ++i) {
        again = api.Login("heidi@example.com", kPassword, &status);
        if (!again) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
    ASSERT_TRUE(again) << "status " << status << cluster.Logs();
    EXPECT_EQ(api.Get(*again, "/jobs")->status, 200);
}

// The MongoDB server stopped: uploads answer 503 and leave no job and no message behind;
// once it is back, uploads convert again.
TEST_F(DistributedFaultTest, MongoStoppedMeans503AndNothingLeftBehind) {
    TestServer mongo("congodb");
    Cluster cluster(ClusterServers{.mongodb = mongo.Url()});
    cluster.AddUser("ivan@example.com", kPassword);
    cluster.StartAll(1);
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("ivan@example.com", kPassword).value_or("");
    const std::string first = Submit(api, token, "clip.mp4");
    ASSERT_EQ(api.WaitForJob(token, first)["status"], "done") << cluster.Logs();

    mongo.Stop();
    auto upload = api.Upload(token, "clip.mp4", Sample("clip.mp4"));
    ASSERT_TRUE(upload);
    EXPECT_EQ(upload->status, 503) << upload->body;
    EXPECT_NE(upload->body.find("error"), std::string::npos);
    EXPECT_EQ(QueueDepth(cluster.AmqpUrl(), cluster.VideoQueue()), 0u)
        << "no message for an upload that was refused";
    auto ready = api.Raw().Get("/readyz");
    EXPECT_EQ(ready->status, 503) << ready->body;

    mongo.Start();
    std::string id;
    for (int i = 0; i < 50 && id.empty(); ++i) {
        auto retry = api.Upload(token, "clip.mp4", Sample("clip.mp4"));
        if (retry && retry->status == 202) {
            id = nlohmann::json::parse(retry->body)["job_id"];
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
    ASSERT_FALSE(id.empty()) << cluster.Logs();
    EXPECT_EQ(api.WaitForJob(token, id)["status"], "done") << cluster.Logs();
    // The stand-in keeps data in memory, so the restart emptied it: only the new job is there.
    auto listed = nlohmann::json::parse(api.Get(token, "/jobs")->body);
    ASSERT_EQ(listed["jobs"].size(), 1u) << listed.dump();
    EXPECT_EQ(listed["jobs"][0]["job_id"], id);
}

// A job that kills every converter that takes it: after the delivery limit it is failed,
// its owner is told, and its message rests in the dead-letter queue instead of looping.
TEST_F(DistributedFaultTest, PoisonMessageIsDeadLetteredAndTheOwnerTold) {
    Cluster cluster({}, {{"VIDEO2MP3_DELIVERY_LIMIT", "2"}});
    cluster.AddUser("judy@example.com", kPassword);
    cluster.StartAuth();
    cluster.StartGateway();
    cluster.StartNotifier();
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("judy@example.com", kPassword).value_or("");
    const std::string id = Submit(api, token, "lecture.flac");
    ASSERT_FALSE(id.empty());

    int kills = 0;
    nlohmann::json job;
    for (int attempt = 1; attempt <= 5; ++attempt) {
        auto& converter = cluster.StartConverter();
        // Wait until this converter is well into its attempt (or has given up on the job).
        const std::string redelivered = "(attempt " + std::to_string(attempt) + ")";
        job = PollJob(api, token, id, [&](const nlohmann::json& seen) {
            if (seen.value("status", "") == "failed") {
                return true;
            }
            return ConvertingWell(seen) &&
                   (attempt == 1 || converter.Log().find(redelivered) != std::string::npos);
        });
        if (job["status"] == "failed") {
            break;
        }
        ASSERT_TRUE(ConvertingWell(job)) << job.dump() << cluster.Logs();
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        converter.Kill();
        ++kills;
    }
    ASSERT_EQ(job["status"], "failed") << job.dump() << cluster.Logs();
    EXPECT_EQ(kills, 2) << "delivered limit + 1 times: two crashes, then it is stopped";
    EXPECT_NE(job["error"].get<std::string>().find("failed repeatedly"), std::string::npos)
        << job.dump();
    EXPECT_EQ(WaitForMails(cluster, id, 1), 1) << cluster.Logs();
    EXPECT_EQ(QueueDepth(cluster.AmqpUrl(), cluster.VideoQueue() + ".dead"), 1u);
    EXPECT_EQ(QueueDepth(cluster.AmqpUrl(), cluster.VideoQueue()), 0u);
}

// SMTP 451 three times, then 250: the notifier tries again later and exactly one e-mail
// arrives; meanwhile another owner's e-mail is not held up behind it.
TEST_F(DistributedFaultTest, SmtpTemporaryFailureIsRetriedWithoutHoldingUpOthers) {
    Cluster cluster;
    cluster.AddUser("flaky3@example.com", kPassword);
    cluster.AddUser("nina@example.com", kPassword);
    cluster.StartAll(1);
    ApiClient api(cluster.GatewayPort());
    const std::string flaky = api.Login("flaky3@example.com", kPassword).value_or("");
    const std::string nina = api.Login("nina@example.com", kPassword).value_or("");
    const std::string delayed = Submit(api, flaky, "clip.mp4");
    ASSERT_TRUE(cluster.Notifier()->WaitForLog("attempt 1 failed", std::chrono::seconds(60)))
        << cluster.Logs();
    const std::string prompt = Submit(api, nina, "clip.mp4");

    // Retries wait 2, 4 and 8 s: Nina's e-mail goes out while Flaky's still waits.
    EXPECT_EQ(WaitForMails(cluster, prompt, 1), 1) << cluster.Logs();
    EXPECT_EQ(CountMentioning(cluster.Mails(), delayed), 0)
        << "the retried e-mail went out before the other one";

    const auto job = PollJob(api, flaky, delayed,
                             [](const nlohmann::json& seen) { return seen.contains("notified"); });
    EXPECT_EQ(job.value("notified", ""), "sent") << job.dump() << cluster.Logs();
    EXPECT_EQ(WaitForMails(cluster, delayed, 1), 1);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    EXPECT_EQ(CountMentioning(cluster.Mails(), delayed), 1) << "one e-mail, not one per try";
    const std::string log = cluster.Notifier()->Log();
    EXPECT_NE(log.find("attempt 3 failed"), std::string::npos) << log;
    EXPECT_EQ(log.find("attempt 4 failed"), std::string::npos) << log;
}

// SMTP 550: the failure is recorded on the job, nothing is retried, nothing loops.
TEST_F(DistributedFaultTest, SmtpPermanentFailureIsRecordedNotRetried) {
    Cluster cluster;
    cluster.AddUser("reject@example.com", kPassword);
    cluster.StartAll(1);
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("reject@example.com", kPassword).value_or("");
    const std::string id = Submit(api, token, "clip.mp4");
    const auto job = PollJob(api, token, id,
                             [](const nlohmann::json& seen) { return seen.contains("notified"); });
    ASSERT_EQ(job["status"], "done");
    EXPECT_NE(job.value("notified", "").find("failed: "), std::string::npos)
        << job.dump() << cluster.Logs();
    EXPECT_NE(job.value("notified", "").find("550"), std::string::npos) << job.dump();

    std::this_thread::sleep_for(std::chrono::seconds(4));
    EXPECT_TRUE(cluster.Mails().empty());
    const std::string log = cluster.Notifier()->Log();
    EXPECT_EQ(log.find("retrying"), std::string::npos) << log;
    EXPECT_EQ(QueueDepth(cluster.AmqpUrl(), cluster.Mp3Queue()), 0u);
    EXPECT_EQ(QueueDepth(cluster.AmqpUrl(), cluster.Mp3Queue() + ".dead"), 0u);
}

// A conversion longer than three heartbeat intervals (5 s): the converter's connection stays
// up, so the job is converted once and acknowledged, never redelivered.
TEST_F(DistributedFaultTest, LongConversionOutlivesThreeHeartbeats) {
    testing::TempDir dir;
    testing::Ffmpeg(
        {"-f", "lavfi", "-i", "sine=frequency=220:duration=5400:sample_rate=22050", "-c:a", "flac"},
        dir / "long.flac");
    Cluster cluster({}, {{"VIDEO2MP3_AMQP_HEARTBEAT", "5"}});
    cluster.AddUser("ken@example.com", kPassword);
    cluster.StartAll(1);
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("ken@example.com", kPassword).value_or("");
    auto upload = api.Upload(token, "long.flac", testing::ReadText(dir / "long.flac"));
    ASSERT_EQ(upload->status, 202) << upload->body;
    const std::string id = nlohmann::json::parse(upload->body)["job_id"];

    const auto job = api.WaitForJob(token, id, std::chrono::seconds(600));
    ASSERT_EQ(job["status"], "done") << job.dump() << cluster.Logs();
    EXPECT_GT(job["conversion_s"].get<double>(), 15.0)
        << "the conversion must outlast three 5 s heartbeat intervals for this test to mean "
           "anything";
    const auto& converter = *cluster.Converters().front();
    EXPECT_TRUE(converter.WaitForLog("job " + id + " done", std::chrono::seconds(30)))
        << cluster.Logs();
    EXPECT_EQ(converter.Log().find("delivered again"), std::string::npos) << converter.Log();
    EXPECT_EQ(QueueDepth(cluster.AmqpUrl(), cluster.VideoQueue()), 0u);
    EXPECT_EQ(WaitForMails(cluster, id, 1), 1);
}

}  // namespace
}  // namespace video2mp3
