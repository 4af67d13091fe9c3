// `video2mp3 serve` over real HTTP: the seed's curl workflow, every status code, ownership,
// tokens, login throttling, failed conversions and their e-mails.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/api_client.h"
#include "support/media_tools.h"
#include "support/serve_process.h"
#include "support/test_servers.h"

namespace video2mp3 {
namespace {

using testing::ApiClient;
using testing::ServeProcess;

constexpr const char* kAlice = "alice@example.com";
constexpr const char* kBob = "bob@example.com";
constexpr const char* kRoot = "root@example.com";
constexpr const char* kPassword = "correct horse battery";

/// Every e-mail in the Maildir's new/ folder.
std::vector<std::string> Mails(const std::filesystem::path& data_dir) {
    std::vector<std::string> mails;
    const auto folder = data_dir / "mail" / "new";
    if (std::filesystem::exists(folder)) {
        for (const auto& entry : std::filesystem::directory_iterator(folder)) {
            mails.push_back(testing::ReadText(entry.path()));
        }
    }
    return mails;
}

std::vector<std::string> MailsMentioning(const std::filesystem::path& data_dir,
                                         const std::string& text) {
    std::vector<std::string> found;
    for (const std::string& mail : Mails(data_dir)) {
        if (mail.find(text) != std::string::npos) {
            found.push_back(mail);
        }
    }
    return found;
}

class ServeTest : public ::testing::Test {
 protected:
    static void SetUpTestSuite() {
        // A server that answers 413 and hangs up mid-upload must not kill the test client.
        std::signal(SIGPIPE, SIG_IGN);
        samples_ = new testing::TempDir();
        testing::Ffmpeg({"-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-f", "lavfi", "-i",
                         "testsrc=size=160x120:rate=10:duration=4", "-c:v", "libx264", "-c:a",
                         "aac", "-metadata", "title=Test tone"},
                        *samples_ / "clip.mp4");
        testing::Ffmpeg(
            {"-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2", "-c:v", "libx264"},
            *samples_ / "silent.mp4");
    }
    static void TearDownTestSuite() {
        delete samples_;
        samples_ = nullptr;
    }

    void SetUp() override { Start(); }

    void Start(std::map<std::string, std::string> env = {}) {
        server_.reset();
        if (!std::filesystem::exists(data_dir() / "video2mp3.db")) {
            testing::AddUser(data_dir(), kAlice, kPassword);
            testing::AddUser(data_dir(), kBob, kPassword);
            testing::AddUser(data_dir(), kRoot, kPassword, true);
        }
        env.emplace("VIDEO2MP3_LOG_LEVEL", "debug");
        server_ = std::make_unique<ServeProcess>(data_dir(), env);
        api_ = std::make_unique<ApiClient>(server_->Port());
    }

    std::filesystem::path data_dir() const { return dir_ / "data"; }
    static std::string Sample(const std::string& name) {
        return testing::ReadText(*samples_ / name);
    }

    std::string Token(const std::string& email) {
        auto token = api_->Login(email, kPassword);
        EXPECT_TRUE(token) << "login failed for " << email;
        return token.value_or("");
    }

    std::string UploadClip(const std::string& token, const std::string& name = "clip.mp4") {
        auto result = api_->Upload(token, name, Sample("clip.mp4"));
        EXPECT_TRUE(result);
        EXPECT_EQ(result->status, 202) << result->body;
        return nlohmann::json::parse(result->body)["job_id"];
    }

    static testing::TempDir* samples_;
    testing::TempDir dir_;
    std::unique_ptr<ServeProcess> server_;
    std::unique_ptr<ApiClient> api_;
};

testing::TempDir* ServeTest::samples_ = nullptr;

// The seed's three curl commands, unchanged.
TEST_F(ServeTest, SeedCurlWorkflow) {
    const std::string url = server_->Url();
    const auto login = testing::Run(
        {"curl", "-s", "-X", "POST", "-u", std::string(kAlice) + ":" + kPassword, url + "/login"});
    ASSERT_EQ(login.exit_code, 0);
    const std::string token = login.out;
    ASSERT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;

    const auto upload = testing::Run({"curl", "-s", "-X", "POST", "-F",
                                      "file=@" + (*samples_ / "clip.mp4").string(), "-H",
                                      "Authorization: Bearer " + token, url + "/upload"});
    ASSERT_EQ(upload.exit_code, 0);
    const auto accepted = nlohmann::json::parse(upload.out);
    ASSERT_EQ(accepted["status"], "queued") << upload.out;
    const std::string job_id = accepted["job_id"];

    const auto job = api_->WaitForJob(token, job_id);
    ASSERT_EQ(job["status"], "done") << job.dump() << server_->Log();
    EXPECT_EQ(job["progress"], 100);
    EXPECT_EQ(job["filename"], "clip.mp4");
    EXPECT_NEAR(job["duration_s"].get<double>(), 4.0, 0.1);
    const std::string mp3_fid = job["mp3_fid"];
    EXPECT_EQ(job["download_url"], url + "/download?fid=" + mp3_fid);

    const auto song = dir_ / "song.mp3";
    const auto download =
        testing::Run({"curl", "-s", "--fail", "--output", song.string(), "-H",
                      "Authorization: Bearer " + token, url + "/download?fid=" + mp3_fid});
    ASSERT_EQ(download.exit_code, 0) << download.err;
    auto facts = testing::InspectMp3(song);
    EXPECT_TRUE(facts.mpeg1_layer3);
    EXPECT_NEAR(facts.decoded_duration_s, 4.0, 0.1);
    EXPECT_EQ(facts.tags["title"], "Test tone");

    // Exactly one e-mail, to Alice, with the ids, the link and the curl command.
    std::vector<std::string> mails;
    for (int i = 0; i < 50 && mails.empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        mails = Mails(data_dir());
    }
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_NE(mails[0].find("To: alice@example.com"), std::string::npos);
    EXPECT_NE(mails[0].find("Message-ID: <job-" + job_id + "@video2mp3>"), std::string::npos);
    EXPECT_NE(mails[0].find(mp3_fid), std::string::npos);
    EXPECT_NE(mails[0].find("curl --output"), std::string::npos);
    EXPECT_NE(mails[0].find(url + "/download?fid=" + mp3_fid), std::string::npos);
}

TEST_F(ServeTest, DownloadHonoursRangesAndNamesTheFile) {
    const std::string token = Token(kAlice);
    const std::string id = UploadClip(token, "Mé holiday.mov");
    ASSERT_EQ(api_->WaitForJob(token, id)["status"], "done");

    auto whole = api_->Get(token, "/download?fid=" + id);
    ASSERT_EQ(whole->status, 200);
    EXPECT_EQ(whole->get_header_value("Content-Type"), "audio/mpeg");
    EXPECT_EQ(whole->get_header_value("Content-Length"), std::to_string(whole->body.size()));
    // Read with curl: httplib's client decodes percent-escapes in header values.
    const auto head =
        testing::Run({"curl", "-s", "-D", "-", "-o", "/dev/null", "-H",
                      "Authorization: Bearer " + token, server_->Url() + "/download?fid=" + id});
    EXPECT_NE(head.out.find("filename=\"M__ holiday.mp3\"; filename*=UTF-8''M%C3%A9%20holiday.mp3"),
              std::string::npos)
        << head.out;

    for (const char* range : {"bytes=999999999-", "bytes=-0"}) {
        auto headers = api_->Bearer(token);
        headers.emplace("Range", range);
        auto outside = api_->Raw().Get(("/download?fid=" + id).c_str(), headers);
        EXPECT_EQ(outside->status, 416) << range;
        EXPECT_EQ(outside->get_header_value_count("Content-Range"), 1u) << range;
        EXPECT_EQ(outside->get_header_value("Content-Range"),
                  "bytes */" + std::to_string(whole->body.size()));
        // The reason survives whole, as JSON.
        EXPECT_NE(nlohmann::json::parse(outside->body, nullptr, false)
                      .value("error", "")
                      .find("outside the file"),
                  std::string::npos)
            << outside->body;
    }

    // A range that ends past the file ends at the file's end.
    const std::size_t size = whole->body.size();
    auto tail_headers = api_->Bearer(token);
    tail_headers.emplace("Range",
                         "bytes=" + std::to_string(size - 10) + "-" + std::to_string(size + 5000));
    auto tail = api_->Raw().Get(("/download?fid=" + id).c_str(), tail_headers);
    ASSERT_TRUE(tail);
    ASSERT_EQ(tail->status, 206);
    EXPECT_EQ(tail->body, whole->body.substr(size - 10));
    EXPECT_EQ(tail->get_header_value("Content-Range"), "bytes " + std::to_string(size - 10) + "-" +
                                                           std::to_string(size - 1) + "/" +
                                                           std::to_string(size));
    // Only the MP3 is served in ranges: JSON answers and errors stay whole.
    auto ranged_json = api_->Bearer(token);
    ranged_json.emplace("Range", "bytes=0-5");
    auto listing = api_->Raw().Get("/jobs", ranged_json);
    ASSERT_TRUE(listing);
    EXPECT_EQ(listing->status, 200);
    EXPECT_FALSE(listing->has_header("Content-Range"));
    EXPECT_FALSE(nlohmann::json::parse(listing->body, nullptr, false).is_discarded())
        << listing->body;
    auto missing = api_->Raw().Get("/download?fid=000000000000000000000000", ranged_json);
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
    EXPECT_EQ(nlohmann::json::parse(missing->body, nullptr, false).value("error", ""),
              "no such job or file")
        << missing->body;

    // Several ranges: the whole file, which RFC 9110 allows.
    auto multi_headers = api_->Bearer(token);
    multi_headers.emplace("Range", "bytes=0-1,5-9");
    auto multi = api_->Raw().Get(("/download?fid=" + id).c_str(), multi_headers);
    ASSERT_TRUE(multi);
    EXPECT_EQ(multi->status, 200);
    EXPECT_EQ(multi->body, whole->body);

    auto headers = api_->Bearer(token);
    headers.emplace("Range", "bytes=100-199");
    auto part = api_->Raw().Get(("/download?fid=" + id).c_str(), headers);
    ASSERT_EQ(part->status, 206);
    EXPECT_EQ(part->body, whole->body.substr(100, 100));
    EXPECT_EQ(part->get_header_value("Content-Range"),
              "bytes 100-199/" + std::to_string(whole->body.size()));
}

TEST_F(ServeTest, RawBodyUploadWithFilenameHeader) {
    const std::string token = Token(kAlice);
    httplib::Headers headers = api_->Bearer(token);
    headers.emplace("X-Filename", "../../etc/passwd.mp4");
    auto result = api_->Raw().Post("/upload", headers, Sample("clip.mp4"), "video/mp4");
    ASSERT_EQ(result->status, 202) << result->body;
    const std::string id = nlohmann::json::parse(result->body)["job_id"];

    const auto job = api_->WaitForJob(token, id);
    EXPECT_EQ(job["status"], "done");
    EXPECT_EQ(job["filename"], "passwd.mp4") << "the client's path is dropped";
}

TEST_F(ServeTest, LoginStatusCodes) {
    int status = 0;
    EXPECT_FALSE(api_->Login(kAlice, "wrong password", &status));
    EXPECT_EQ(status, 401);
    EXPECT_FALSE(api_->Login("nobody@example.com", kPassword, &status));
    EXPECT_EQ(status, 401);
    EXPECT_TRUE(api_->Login("ALICE@example.com", kPassword, &status)) << "e-mail is case-blind";

    auto no_auth = api_->Raw().Post("/login", "", "text/plain");
    EXPECT_EQ(no_auth->status, 401);
    EXPECT_NE(no_auth->get_header_value("WWW-Authenticate").find("Basic"), std::string::npos);
}

TEST_F(ServeTest, UploadStatusCodes) {
    const std::string token = Token(kAlice);

    auto anonymous = api_->Raw().Post(
        "/upload", httplib::MultipartFormDataItems{{"file", "x", "a.mp4", "video/mp4"}});
    EXPECT_EQ(anonymous->status, 401);

    auto no_file = api_->Raw().Post("/upload", api_->Bearer(token),
                                    httplib::MultipartFormDataItems{{"note", "hi", "", ""}});
    EXPECT_EQ(no_file->status, 400);
    EXPECT_NE(no_file->body.find("no file"), std::string::npos) << no_file->body;

    auto two_files =
        api_->Raw().Post("/upload", api_->Bearer(token),
                         httplib::MultipartFormDataItems{{"a", "xx", "a.mp4", "video/mp4"},
                                                         {"b", "yy", "b.mp4", "video/mp4"}});
    EXPECT_EQ(two_files->status, 400);
    EXPECT_NE(two_files->body.find("exactly one file"), std::string::npos) << two_files->body;

    auto empty = api_->Upload(token, "empty.mp4", "");
    EXPECT_EQ(empty->status, 400);
    EXPECT_NE(empty->body.find("empty"), std::string::npos) << empty->body;

    // None of these left a job or a stored file behind.
    auto jobs = api_->Get(token, "/jobs");
    EXPECT_TRUE(nlohmann::json::parse(jobs->body)["jobs"].empty());
    const auto videos = data_dir() / "blobs" / "videos";
    if (std::filesystem::exists(videos)) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(videos)) {
            EXPECT_FALSE(entry.is_regular_file()) << "left behind: " << entry.path();
        }
    }
}

TEST_F(ServeTest, OversizedUploadIs413AndLeavesNothing) {
    Start({{"VIDEO2MP3_MAX_UPLOAD_BYTES", "100000"}});
    const std::string token = Token(kAlice);

    const std::string big(300000, 'x');
    auto multipart = api_->Upload(token, "big.mp4", big);
    EXPECT_EQ(multipart->status, 413);
    auto raw = api_->Raw().Post("/upload", api_->Bearer(token), big, "video/mp4");
    EXPECT_EQ(raw->status, 413);

    // Chunked: no Content-Length to refuse early, so the limit is counted while streaming.
    std::size_t sent = 0;
    auto chunked = api_->Raw().Post(
        "/upload", api_->Bearer(token),
        [&](std::size_t, httplib::DataSink& sink) {
            if (sent >= 400000) {
                sink.done();
                return true;
            }
            sent += 10000;
            return sink.write(big.data(), 10000);
        },
        "video/mp4");
    if (chunked) {
        EXPECT_EQ(chunked->status, 413);
    }

    auto small = api_->Upload(token, "small.mp4", Sample("clip.mp4").substr(0, 50000));
    EXPECT_EQ(small->status, 202) << "just under the limit is fine";

    std::size_t stored = 0;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(data_dir() / "blobs" / "videos")) {
        const std::string name = entry.path().filename().string();
        stored +=
            entry.is_regular_file() && name.front() != '.' && entry.path().extension() != ".json"
                ? 1
                : 0;
    }
    EXPECT_EQ(stored, 1u) << "only the accepted upload is stored";
}

TEST_F(ServeTest, JobsListAndDelete) {
    const std::string token = Token(kAlice);
    const std::string first = UploadClip(token, "one.mp4");
    const std::string second = UploadClip(token, "two.mp4");
    ASSERT_EQ(api_->WaitForJob(token, first)["status"], "done");
    ASSERT_EQ(api_->WaitForJob(token, second)["status"], "done");

    auto list = nlohmann::json::parse(api_->Get(token, "/jobs")->body)["jobs"];
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0]["job_id"], second) << "newest first";
    auto page = nlohmann::json::parse(api_->Get(token, "/jobs?limit=1&offset=1")->body)["jobs"];
    ASSERT_EQ(page.size(), 1u);
    EXPECT_EQ(page[0]["job_id"], first);

    auto removed = api_->Raw().Delete(("/jobs/" + first).c_str(), api_->Bearer(token));
    EXPECT_EQ(removed->status, 204);
    EXPECT_EQ(api_->Get(token, "/jobs/" + first)->status, 404);
    EXPECT_EQ(api_->Get(token, "/download?fid=" + first)->status, 404);
    EXPECT_FALSE(std::filesystem::exists(data_dir() / "blobs" / "mp3s" / first));
}

// Another user's job or file answers exactly as a missing one does.
TEST_F(ServeTest, OwnershipOnEveryObject) {
    const std::string alice = Token(kAlice);
    const std::string bob = Token(kBob);
    const std::string id = UploadClip(alice);
    ASSERT_EQ(api_->WaitForJob(alice, id)["status"], "done");
    const std::string missing = "0123456789abcdef0123456789abcdef";

    for (const std::string& path : {"/jobs/" + id, "/download?fid=" + id}) {
        auto theirs = api_->Get(bob, path);
        auto nothing = api_->Get(bob, path.substr(0, path.size() - id.size()) + missing);
        EXPECT_EQ(theirs->status, 404) << path;
        EXPECT_EQ(theirs->status, nothing->status);
        EXPECT_EQ(theirs->body, nothing->body) << "must not reveal that the object exists";
    }
    auto delete_theirs = api_->Raw().Delete(("/jobs/" + id).c_str(), api_->Bearer(bob));
    EXPECT_EQ(delete_theirs->status, 404);
    EXPECT_TRUE(nlohmann::json::parse(api_->Get(bob, "/jobs")->body)["jobs"].empty());

    const std::string root = Token(kRoot);
    EXPECT_EQ(api_->Get(root, "/jobs/" + id)->status, 200) << "an admin may read all";
    EXPECT_EQ(api_->Get(root, "/download?fid=" + id)->status, 200);
    auto everyone = nlohmann::json::parse(api_->Get(root, "/jobs?all=true")->body)["jobs"];
    EXPECT_EQ(everyone.size(), 1u);
}

std::string Base64Url(const std::string& text) {
    std::string out(
        sodium_base64_ENCODED_LEN(text.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()),
                      text.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(std::strlen(out.c_str()));
    return out;
}

TEST_F(ServeTest, BadTokensAre401) {
    const std::string token = Token(kAlice);
    const auto dot = token.find('.');
    const auto payload = token.substr(dot + 1, token.rfind('.') - dot - 1);

    std::string flipped = token;
    flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
    const std::string unsigned_token =
        Base64Url(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".";
    const std::string hs512_label = Base64Url(R"({"alg":"HS512","typ":"JWT"})") + "." + payload +
                                    token.substr(token.rfind('.'));

    for (const std::string& bad : {flipped, unsigned_token, hs512_label, std::string("garbage"),
                                   token + "x", std::string()}) {
        auto result = api_->Get(bad, "/jobs");
        EXPECT_EQ(result->status, 401) << bad;
    }
    EXPECT_EQ(api_->Raw().Get("/jobs")->status, 401);
    EXPECT_EQ(api_->Get(token, "/jobs")->status, 200);
}

TEST_F(ServeTest, ExpiredTokenIs401) {
    // A token signed with the server's own secret but expired an hour ago.
    const std::string secret = testing::ReadText(data_dir() / "jwt-secret");
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const std::string header = Base64Url(R"({"alg":"HS256","typ":"JWT"})");
    const std::string claims = Base64Url(nlohmann::json{
        {"sub", "x"},
        {"username", kAlice},
        {"admin", false},
        {"iss", "video2mp3"},
        {"aud", "video2mp3"},
        {"iat", now - 7200},
        {"nbf", now - 7200},
        {"exp", now - 3600}}.dump());
    const std::string signing_input = header + "." + claims;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()),
                                secret.size());
    crypto_auth_hmacsha256_update(
        &state, reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
    crypto_auth_hmacsha256_final(&state, mac);
    const std::string expired =
        signing_input + "." + Base64Url(std::string(reinterpret_cast<char*>(mac), sizeof(mac)));

    EXPECT_EQ(api_->Get(expired, "/jobs")->status, 401);
}

TEST_F(ServeTest, RepeatedFailedLoginsAre429) {
    int status = 0;
    for (int i = 0; i < 5; ++i) {
        api_->Login(kBob, "guess " + std::to_string(i), &status);
        EXPECT_EQ(status, 401);
    }
    auto result = api_->Raw().Post(
        "/login",
        {{"Authorization", "Basic " + testing::Base64(std::string(kBob) + ":" + kPassword)}}, "",
        "text/plain");
    EXPECT_EQ(result->status, 429) << "even the right password waits";
    EXPECT_FALSE(result->get_header_value("Retry-After").empty());
    EXPECT_TRUE(api_->Login(kAlice, kPassword)) << "other accounts are not affected";
}

TEST_F(ServeTest, GarbageUploadEndsAsAFailedJobWithAFailureMail) {
    const std::string token = Token(kAlice);
    auto result = api_->Upload(token, "notes.mp4", "this is a shopping list, not a video\n");
    ASSERT_EQ(result->status, 202);
    const std::string id = nlohmann::json::parse(result->body)["job_id"];

    const auto job = api_->WaitForJob(token, id);
    EXPECT_EQ(job["status"], "failed");
    EXPECT_EQ(job["error"], "not a media file");
    EXPECT_FALSE(job.contains("download_url"));
    EXPECT_EQ(api_->Get(token, "/download?fid=" + id)->status, 409);

    std::vector<std::string> mails;
    for (int i = 0; i < 50 && mails.empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        mails = MailsMentioning(data_dir(), id);
    }
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_NE(mails[0].find("not a media file"), std::string::npos);
}

TEST_F(ServeTest, VideoWithoutAudioFailsWithAReadableReason) {
    const std::string token = Token(kAlice);
    auto result = api_->Upload(token, "silent.mp4", Sample("silent.mp4"));
    ASSERT_EQ(result->status, 202);
    const auto job = api_->WaitForJob(token, nlohmann::json::parse(result->body)["job_id"]);
    EXPECT_EQ(job["status"], "failed");
    EXPECT_EQ(job["error"], "no audio stream");
}

TEST_F(ServeTest, HealthReadinessAndMetrics) {
    EXPECT_EQ(api_->Raw().Get("/healthz")->status, 200);
    auto ready = api_->Raw().Get("/readyz");
    EXPECT_EQ(ready->status, 200) << ready->body;

    const std::string token = Token(kAlice);
    ASSERT_EQ(api_->WaitForJob(token, UploadClip(token))["status"], "done");
    const std::string metrics = api_->Raw().Get("/metrics")->body;
    EXPECT_NE(metrics.find(R"(video2mp3_http_requests_total{route="/upload",status="202"} 1)"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find(R"(video2mp3_jobs{status="done"} 1)"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find(R"(video2mp3_queue_depth{queue="video"} 0)"), std::string::npos);
    EXPECT_NE(metrics.find("video2mp3_conversion_seconds_count 1"), std::string::npos);
    EXPECT_EQ(metrics.find(token), std::string::npos);
}

TEST_F(ServeTest, UploadWithoutLengthIs411AtOnce) {
    const std::string token = Token(kAlice);
    const auto started = std::chrono::steady_clock::now();
    const auto result =
        testing::Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
                      "Authorization: Bearer " + token, server_->Url() + "/upload"});
    EXPECT_EQ(result.out, "411");
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST_F(ServeTest, PasswordChangeEndsOlderSessions) {
    const std::string token = Token(kAlice);
    ASSERT_EQ(api_->Get(token, "/jobs")->status, 200);
    const auto changed =
        testing::Run({"sh", "-c",
                      "printf 'a brand new password\\n' | '" VIDEO2MP3_BINARY "' user passwd " +
                          std::string(kAlice) + " --data-dir '" + data_dir().string() + "'"});
    ASSERT_EQ(changed.exit_code, 0) << changed.err;

    EXPECT_EQ(api_->Get(token, "/jobs")->status, 401);
    const auto fresh = api_->Login(kAlice, "a brand new password");
    ASSERT_TRUE(fresh);
    EXPECT_EQ(api_->Get(*fresh, "/jobs")->status, 200);
}

TEST_F(ServeTest, RemovedUsersTokenIs401) {
    const std::string token = Token(kBob);
    ASSERT_EQ(api_->Get(token, "/jobs")->status, 200);
    const auto removed =
        testing::Run({VIDEO2MP3_BINARY, "user", "remove", kBob, "--data-dir", data_dir().string()});
    ASSERT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(api_->Get(token, "/jobs")->status, 401);
}

TEST_F(ServeTest, IdleConnectionsDoNotStallOthers) {
    std::vector<int> idle;
    for (int i = 0; i < 12; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(server_->Port()));
        ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        const std::string partial = "GET /healthz HTTP/1.1\r\n";
        ::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
        idle.push_back(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));

    httplib::Client probe("127.0.0.1", server_->Port());
    probe.set_read_timeout(std::chrono::seconds(3));
    auto result = probe.Get("/healthz");
    EXPECT_TRUE(result && result->status == 200) << "12 idle connections stalled the server";
    for (int fd : idle) {
        ::close(fd);
    }
}

TEST_F(ServeTest, SecondServerOnTheSamePortIsRefused) {
    const std::string listen = "127.0.0.1:" + std::to_string(server_->Port());
    testing::TempDir other;
    const auto result = testing::Run(
        {VIDEO2MP3_BINARY, "serve", "--data-dir", (other / "data").string(), "--listen", listen});
    EXPECT_EQ(result.exit_code, 78) << result.out << result.err;
    EXPECT_NE(result.err.find("cannot listen"), std::string::npos) << result.err;
}

TEST_F(ServeTest, WrongMethodIs405WithAllow) {
    auto get_upload = api_->Raw().Get("/upload");
    EXPECT_EQ(get_upload->status, 405);
    EXPECT_EQ(get_upload->get_header_value("Allow"), "POST");
    auto post_jobs = api_->Raw().Post("/jobs", "", "text/plain");
    EXPECT_EQ(post_jobs->status, 405);
    EXPECT_EQ(post_jobs->get_header_value("Allow"), "GET");
}

TEST_F(ServeTest, UnknownRouteIs404WithAReason) {
    auto result = api_->Raw().Get("/nope");
    EXPECT_EQ(result->status, 404);
    EXPECT_NE(result->body.find("no such endpoint"), std::string::npos);
    // A route's dot is a dot, not any character.
    EXPECT_EQ(api_->Raw().Get("/app.js")->status, 200);
    EXPECT_EQ(api_->Raw().Get("/appXjs")->status, 404);
    EXPECT_EQ(api_->Raw().Get("/openapiXyaml")->status, 404);
}

// Listening on every address with no public URL: a job's link names the address the client
// used, not 0.0.0.0, and e-mails name this machine.
TEST_F(ServeTest, OnEveryAddressLinksNameAnAddressClientsCanReach) {
    testing::TempDir dir;
    ServeProcess wide(dir / "data",
                      {{"VIDEO2MP3_LISTEN", "0.0.0.0:" + std::to_string(testing::UnusedPort())}});
    ASSERT_GT(wide.Port(), 0);
    testing::AddUser(dir / "data", kAlice, kPassword);
    ApiClient api(wide.Port());
    const std::string token = api.Login(kAlice, kPassword).value_or("");
    ASSERT_FALSE(token.empty());
    auto upload = api.Upload(token, "clip.mp4", Sample("clip.mp4"));
    ASSERT_TRUE(upload);
    ASSERT_EQ(upload->status, 202) << upload->body;
    const std::string id = nlohmann::json::parse(upload->body)["job_id"];
    ASSERT_EQ(api.WaitForJob(token, id)["status"], "done");

    httplib::Headers headers = api.Bearer(token);
    headers.emplace("Host", "media.example.lan:8080");
    auto job = api.Raw().Get(("/jobs/" + id).c_str(), headers);
    ASSERT_TRUE(job);
    EXPECT_EQ(nlohmann::json::parse(job->body)["download_url"],
              "http://media.example.lan:8080/download?fid=" + id)
        << job->body;
    EXPECT_NE(wide.Log().find("VIDEO2MP3_PUBLIC_URL"), std::string::npos) << wide.Log();
}

// Browsers and curl send `"` in a multipart file name as %22; the job keeps the real name.
TEST_F(ServeTest, QuotesInAnUploadedFileNameAreKept) {
    const std::string token = Token(kAlice);
    const auto named = dir_ / "Été \"live\" 100%.mp4";
    std::filesystem::copy_file(*samples_ / "clip.mp4", named);
    const auto upload =
        testing::Run({"curl", "-s", "-X", "POST", "-F", "file=@" + named.string(), "-H",
                      "Authorization: Bearer " + token, server_->Url() + "/upload"});
    ASSERT_EQ(upload.exit_code, 0) << upload.err;
    const auto accepted = nlohmann::json::parse(upload.out, nullptr, false);
    ASSERT_TRUE(accepted.contains("job_id")) << upload.out;
    const auto job = api_->Get(token, "/jobs/" + accepted["job_id"].get<std::string>());
    ASSERT_EQ(job->status, 200);
    EXPECT_EQ(nlohmann::json::parse(job->body)["filename"], "Été \"live\" 100%.mp4") << job->body;
}

}  // namespace
}  // namespace video2mp3
