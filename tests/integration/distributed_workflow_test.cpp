// Distributed mode end to end: `video2mp3 auth`, `gateway`, `converter` and `notifier` as
// separate processes on real RabbitMQ, PostgreSQL, a MongoDB-protocol server (CongoDB, or
// a real MongoDB) and an SMTP server, driven over HTTP the way the seed's curl workflow
// does.

#include <gtest/gtest.h>
#include <mongoc/mongoc.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "adapters/amqp/amqp_job_queue.h"
#include "support/api_client.h"
#include "support/cluster.h"
#include "support/media_tools.h"
#include "video2mp3/domain/random_id.h"

namespace video2mp3 {
namespace {

using testing::ApiClient;
using testing::Cluster;

constexpr const char* kPassword = "correct horse battery";

/// Documents in `collection` of the cluster's MongoDB database matching `filter` (JSON).
std::int64_t CountDocuments(const std::string& uri, const std::string& collection,
                            const std::string& filter_json) {
    mongoc_init();
    bson_error_t error;
    mongoc_uri_t* parsed = mongoc_uri_new_with_error(uri.c_str(), &error);
    if (parsed == nullptr) {
        ADD_FAILURE() << error.message;
        return -1;
    }
    mongoc_client_t* client = mongoc_client_new_from_uri(parsed);
    mongoc_collection_t* handle =
        mongoc_client_get_collection(client, mongoc_uri_get_database(parsed), collection.c_str());
    bson_t* filter = bson_new_from_json(reinterpret_cast<const uint8_t*>(filter_json.data()),
                                        static_cast<ssize_t>(filter_json.size()), &error);
    const std::int64_t count =
        mongoc_collection_count_documents(handle, filter, nullptr, nullptr, nullptr, &error);
    if (count < 0) {
        ADD_FAILURE() << "counting " << collection << ": " << error.message;
    }
    bson_destroy(filter);
    mongoc_collection_destroy(handle);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(parsed);
    return count;
}

int CountMentioning(const std::vector<std::string>& mails, const std::string& text) {
    int count = 0;
    for (const auto& mail : mails) {
        count += mail.find(text) != std::string::npos ? 1 : 0;
    }
    return count;
}

/// Waits until the sink holds `count` e-mails that mention `text` (or the time is up).
std::vector<std::string> WaitForMails(const Cluster& cluster, const std::string& text, int count,
                                      std::chrono::seconds limit = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::vector<std::string> found;
    while (std::chrono::steady_clock::now() < deadline) {
        found.clear();
        for (const auto& mail : cluster.Mails()) {
            if (mail.find(text) != std::string::npos) {
                found.push_back(mail);
            }
        }
        if (static_cast<int>(found.size()) >= count) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return found;
}

class DistributedTest : public ::testing::Test {
 protected:
    static void SetUpTestSuite() {
        std::signal(SIGPIPE, SIG_IGN);
        samples_ = new testing::TempDir();
        testing::Ffmpeg({"-f", "lavfi", "-i", "sine=frequency=440:duration=6", "-f", "lavfi", "-i",
                         "testsrc=size=160x120:rate=10:duration=6", "-c:v", "libx264", "-c:a",
                         "aac", "-metadata", "title=Distributed tone"},
                        *samples_ / "clip.mp4");
    }
    static void TearDownTestSuite() {
        delete samples_;
        samples_ = nullptr;
    }

    static std::string Clip() { return testing::ReadText(*samples_ / "clip.mp4"); }

    static testing::TempDir* samples_;
};

testing::TempDir* DistributedTest::samples_ = nullptr;

// The seed's workflow: log in, upload, get an e-mail with the link, download the MP3.
TEST_F(DistributedTest, UploadToEmailToDownloadAcrossFourProcesses) {
    Cluster cluster;
    cluster.AddUser("alice@example.com", kPassword);
    cluster.AddUser("bob@example.com", kPassword);
    cluster.StartAll(1);
    ASSERT_GT(cluster.GatewayPort(), 0) << cluster.Logs();
    ApiClient api(cluster.GatewayPort());

    int status = 0;
    EXPECT_FALSE(api.Login("alice@example.com", "wrong password", &status));
    EXPECT_EQ(status, 401);
    const std::string token = api.Login("alice@example.com", kPassword).value_or("");
    ASSERT_FALSE(token.empty()) << cluster.Logs();

    auto upload = api.Upload(token, "clip.mp4", Clip());
    ASSERT_TRUE(upload);
    ASSERT_EQ(upload->status, 202) << upload->body << cluster.Logs();
    const auto accepted = nlohmann::json::parse(upload->body);
    const std::string job_id = accepted["job_id"];
    EXPECT_EQ(job_id.size(), 24u);

    const auto job = api.WaitForJob(token, job_id, std::chrono::seconds(120));
    ASSERT_EQ(job["status"], "done") << job.dump() << cluster.Logs();
    EXPECT_NEAR(job["duration_s"].get<double>(), 6.0, 0.2);

    // The e-mail carries a working download link, as the seed's notification does.
    const auto mails = WaitForMails(cluster, job_id, 1);
    ASSERT_EQ(mails.size(), 1u) << cluster.Logs();
    EXPECT_NE(mails[0].find("To: alice@example.com"), std::string::npos) << mails[0];
    std::smatch link;
    ASSERT_TRUE(std::regex_search(mails[0], link, std::regex(R"(/download\?fid=([0-9a-f]{24}))")))
        << mails[0];
    const std::string fid = link[1];
    EXPECT_EQ(fid, job["mp3_fid"]);

    auto download = api.Get(token, "/download?fid=" + fid);
    ASSERT_TRUE(download);
    ASSERT_EQ(download->status, 200) << download->body;
    const auto mp3_path = cluster.Dir() / "song.mp3";
    testing::WriteBytes(mp3_path, download->body);
    auto facts = testing::InspectMp3(mp3_path);
    EXPECT_TRUE(facts.mpeg1_layer3);
    EXPECT_NEAR(facts.decoded_duration_s, 6.0, 0.2);
    EXPECT_EQ(facts.tags["title"], "Distributed tone");

    // Range requests are served from GridFS chunks.
    httplib::Headers ranged = api.Bearer(token);
    ranged.emplace("Range", "bytes=1000-1999");
    auto part = api.Raw().Get(("/download?fid=" + fid).c_str(), ranged);
    ASSERT_TRUE(part);
    EXPECT_EQ(part->status, 206);
    EXPECT_EQ(part->body, download->body.substr(1000, 1000));

    // The stored files are GridFS as the specification lays them out.
    EXPECT_EQ(
        CountDocuments(cluster.MongoUri(), "mp3s.files", R"({"_id": {"$oid": ")" + fid + R"("}})"),
        1);
    EXPECT_EQ(
        CountDocuments(cluster.MongoUri(), "videos.files",
                       R"({"_id": {"$oid": ")" + job["video_fid"].get<std::string>() + R"("}})"),
        1);

    // Another user sees nothing of it.
    const std::string bob = api.Login("bob@example.com", kPassword).value_or("");
    EXPECT_EQ(api.Get(bob, "/jobs/" + job_id)->status, 404);
    EXPECT_EQ(api.Get(bob, "/download?fid=" + fid)->status, 404);
}

// A broker that speaks only TLS: the same roles, configured with an amqps:// URL and the CA.
TEST_F(DistributedTest, RolesReachABrokerOverTls) {
    testing::TestServer broker("amqps");
    ASSERT_FALSE(broker.Url().empty());
    Cluster cluster({.amqp = broker.Url()},
                    {{"VIDEO2MP3_AMQP_CA_FILE", (broker.DataDir() / "ca.pem").string()}});
    cluster.AddUser("tls@example.com", kPassword);
    cluster.StartAll(1);
    ASSERT_GT(cluster.GatewayPort(), 0) << cluster.Logs();
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("tls@example.com", kPassword).value_or("");
    ASSERT_FALSE(token.empty()) << cluster.Logs();

    auto upload = api.Upload(token, "clip.mp4", Clip());
    ASSERT_TRUE(upload);
    ASSERT_EQ(upload->status, 202) << upload->body << cluster.Logs();
    const std::string job_id = nlohmann::json::parse(upload->body)["job_id"];
    const auto job = api.WaitForJob(token, job_id, std::chrono::seconds(120));
    EXPECT_EQ(job["status"], "done") << job.dump() << cluster.Logs();
    EXPECT_EQ(WaitForMails(cluster, job_id, 1).size(), 1u) << cluster.Logs();
}

// Something that is not a video fails with a reason, and the owner is told why.
TEST_F(DistributedTest, NotAVideoFailsWithAReasonAndAnEmail) {
    Cluster cluster;
    cluster.AddUser("carol@example.com", kPassword);
    cluster.StartAll(1);
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("carol@example.com", kPassword).value_or("");
    auto upload = api.Upload(token, "notes.mp4", std::string(100000, 'x'));
    ASSERT_EQ(upload->status, 202) << upload->body;
    const std::string job_id = nlohmann::json::parse(upload->body)["job_id"];

    const auto job = api.WaitForJob(token, job_id);
    ASSERT_EQ(job["status"], "failed") << job.dump() << cluster.Logs();
    EXPECT_NE(job["error"].get<std::string>().find("not"), std::string::npos) << job.dump();
    const auto mails = WaitForMails(cluster, job_id, 1);
    ASSERT_EQ(mails.size(), 1u) << cluster.Logs();
    EXPECT_NE(mails[0].find(job["error"].get<std::string>()), std::string::npos) << mails[0];
}

// Two converter processes on one queue both take jobs, and every job ends once.
TEST_F(DistributedTest, TwoConvertersShareTheWork) {
    Cluster cluster;
    cluster.AddUser("dave@example.com", kPassword);
    cluster.StartAuth();
    cluster.StartGateway();
    cluster.StartConverter();
    cluster.StartConverter();
    cluster.StartNotifier();
    ApiClient api(cluster.GatewayPort());
    const std::string token = api.Login("dave@example.com", kPassword).value_or("");

    std::vector<std::string> ids;
    for (int i = 0; i < 8; ++i) {
        auto upload = api.Upload(token, "clip" + std::to_string(i) + ".mp4", Clip());
        ASSERT_EQ(upload->status, 202) << upload->body;
        ids.push_back(nlohmann::json::parse(upload->body)["job_id"]);
    }
    for (const auto& id : ids) {
        const auto job = api.WaitForJob(token, id, std::chrono::seconds(180));
        ASSERT_EQ(job["status"], "done") << job.dump() << cluster.Logs();
    }

    // Each converter's log names the jobs it finished: together all, each at least one.
    for (const auto& id : ids) {
        const auto logged = [&] {
            for (auto& converter : cluster.Converters()) {
                if (converter->Log().find("job " + id + " done") != std::string::npos) {
                    return true;
                }
            }
            return false;
        };
        for (int i = 0; i < 100 && !logged(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    int total = 0;
    for (auto& converter : cluster.Converters()) {
        const std::string log = converter->Log();
        int finished = 0;
        for (const auto& id : ids) {
            finished += log.find("job " + id + " done") != std::string::npos ? 1 : 0;
        }
        EXPECT_GE(finished, 1) << "a converter sat idle:\n" << log;
        total += finished;
    }
    EXPECT_EQ(total, static_cast<int>(ids.size())) << cluster.Logs();

    for (const auto& id : ids) {
        EXPECT_EQ(WaitForMails(cluster, id, 1).size(), 1u) << id;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (const auto& id : ids) {
        EXPECT_EQ(CountMentioning(cluster.Mails(), id), 1) << "one e-mail per job: " << id;
    }
}

// A role started without what it needs says which variable is missing, and exits 78.
TEST(DistributedConfigTest, MissingOrBadSettingsNameTheVariable) {
    const auto run = [](const std::string& role, const std::string& env) {
        return testing::Run(
            {"sh", "-c", "env -i PATH=/usr/bin:/bin " + env + " '" VIDEO2MP3_BINARY "' " + role});
    };
    auto result = run("gateway", "");
    EXPECT_EQ(result.exit_code, 78);
    EXPECT_NE(result.err.find("VIDEO2MP3_AUTH_URL"), std::string::npos) << result.err;
    // With JSON logs the reason is a JSON line too, for log collectors.
    result = run("gateway", "VIDEO2MP3_LOG_FORMAT=json");
    EXPECT_EQ(result.exit_code, 78);
    const auto line = nlohmann::json::parse(result.err, nullptr, false);
    ASSERT_FALSE(line.is_discarded()) << result.err;
    EXPECT_EQ(line.value("level", ""), "critical");
    EXPECT_NE(line.value("message", "").find("VIDEO2MP3_AUTH_URL"), std::string::npos)
        << result.err;

    result = run("gateway",
                 "VIDEO2MP3_AUTH_URL=http://auth:8081 "
                 "VIDEO2MP3_MONGODB_URI=mongodb://mongo/video2mp3 "
                 "VIDEO2MP3_AMQP_URL=http://not-amqp");
    EXPECT_EQ(result.exit_code, 78);
    EXPECT_NE(result.err.find("VIDEO2MP3_AMQP_URL"), std::string::npos) << result.err;

    // A CA file is for amqps:// only, and must be readable.
    result = run("converter",
                 "VIDEO2MP3_MONGODB_URI=mongodb://mongo/video2mp3 "
                 "VIDEO2MP3_AMQP_URL=amqp://rabbit/ VIDEO2MP3_AMQP_CA_FILE=/etc/hostname");
    EXPECT_EQ(result.exit_code, 78);
    EXPECT_NE(result.err.find("VIDEO2MP3_AMQP_CA_FILE: set, but VIDEO2MP3_AMQP_URL is not an "
                              "amqps:// URL"),
              std::string::npos)
        << result.err;
    result = run("converter",
                 "VIDEO2MP3_MONGODB_URI=mongodb://mongo/video2mp3 "
                 "VIDEO2MP3_AMQP_URL=amqps://rabbit/ VIDEO2MP3_AMQP_CA_FILE=/nonexistent/ca.pem");
    EXPECT_EQ(result.exit_code, 78);
    EXPECT_NE(result.err.find("VIDEO2MP3_AMQP_CA_FILE: cannot read /nonexistent/ca.pem"),
              std::string::npos)
        << result.err;
    {
        testing::TempDir ca_dir;
        testing::WriteBytes(ca_dir / "ca.pem", std::string("not a certificate\n"));
        result = run("converter",
                     "VIDEO2MP3_MONGODB_URI=mongodb://mongo/video2mp3 "
                     "VIDEO2MP3_AMQP_URL=amqps://rabbit/ VIDEO2MP3_AMQP_CA_FILE=" +
                         (ca_dir / "ca.pem").string());
        EXPECT_EQ(result.exit_code, 78);
        EXPECT_NE(result.err.find("VIDEO2MP3_AMQP_CA_FILE: " + (ca_dir / "ca.pem").string() +
                                  " holds no PEM certificate"),
                  std::string::npos)
            << result.err;
    }

    result = run("auth", "VIDEO2MP3_JWT_SECRET=short VIDEO2MP3_POSTGRES_URL=postgresql://x/y");
    EXPECT_EQ(result.exit_code, 78);
    EXPECT_NE(result.err.find("VIDEO2MP3_JWT_SECRET"), std::string::npos) << result.err;

    result = run("converter",
                 "VIDEO2MP3_MONGODB_URI=mongodb://mongo/video2mp3 "
                 "VIDEO2MP3_AMQP_URL=amqp://rabbit/ VIDEO2MP3_WORKERS=0");
    EXPECT_EQ(result.exit_code, 78);
    EXPECT_NE(result.err.find("VIDEO2MP3_WORKERS"), std::string::npos) << result.err;

    result = run("notifier",
                 "VIDEO2MP3_MONGODB_URI=mongodb://mongo/video2mp3 "
                 "VIDEO2MP3_AMQP_URL=amqp://rabbit/ VIDEO2MP3_SMTP_URL=smtp://mail "
                 "VIDEO2MP3_PUBLIC_URL=ftp://nope");
    EXPECT_EQ(result.exit_code, 78);
    EXPECT_NE(result.err.find("VIDEO2MP3_PUBLIC_URL"), std::string::npos) << result.err;

    // Secrets may come from files, as Kubernetes mounts them.
    testing::TempDir dir;
    testing::WriteBytes(dir / "secret", std::string("too short\n"));
    result = run("auth", "VIDEO2MP3_JWT_SECRET_FILE=" + (dir / "secret").string() +
                             " VIDEO2MP3_POSTGRES_URL=postgresql://x/y");
    EXPECT_EQ(result.exit_code, 78);
    EXPECT_NE(result.err.find("VIDEO2MP3_JWT_SECRET: must be at least 32 bytes, is 9"),
              std::string::npos)
        << result.err;
    result = run("auth", "VIDEO2MP3_JWT_SECRET_FILE=" + dir.Path().string() +
                             " VIDEO2MP3_POSTGRES_URL=postgresql://x/y");
    EXPECT_EQ(result.exit_code, 78);
    EXPECT_NE(result.err.find("VIDEO2MP3_JWT_SECRET_FILE: " + dir.Path().string() +
                              " is a folder, not a file"),
              std::string::npos)
        << result.err;
}

// A queue that exists with another delivery limit stops a role at start, naming the setting,
// instead of failing every job afterwards.
TEST(DistributedConfigTest, AQueueMadeWithAnotherDeliveryLimitStopsTheRoleAtStart) {
    const std::string amqp = testing::SharedServerUrl("amqp");
    const std::string mongo = testing::SharedServerUrl("congodb");
    ASSERT_FALSE(amqp.empty());
    ASSERT_FALSE(mongo.empty());
    const std::string video = "cfg.video." + RandomId().substr(0, 12);
    {
        adapters::AmqpConfig config;
        config.url = amqp;
        config.delivery_limit = 5;
        adapters::AmqpJobQueue queue(config);
        ASSERT_NO_THROW(queue.Declare(video, std::chrono::seconds(15)));
    }
    const auto result = testing::Run(
        {"sh", "-c",
         "env -i PATH=/usr/bin:/bin VIDEO2MP3_MONGODB_URI='" +
             testing::WithDatabase(mongo, "cfgtest") + "' VIDEO2MP3_AMQP_URL='" + amqp +
             "' VIDEO2MP3_VIDEO_QUEUE=" + video + " VIDEO2MP3_MP3_QUEUE=" + video +
             ".mp3 VIDEO2MP3_DELIVERY_LIMIT=7 timeout 60 '" VIDEO2MP3_BINARY "' converter"});
    EXPECT_EQ(result.exit_code, 78) << result.err;
    EXPECT_NE(result.err.find("VIDEO2MP3_DELIVERY_LIMIT"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("x-delivery-limit"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace video2mp3
