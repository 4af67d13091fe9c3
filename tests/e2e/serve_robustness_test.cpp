// `video2mp3 serve` under the failures it must survive: kill -9 mid-conversion, uploads cut
// off midway, and a thousand malformed multipart bodies.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <random>
#include <sstream>

#include "support/api_client.h"
#include "support/media_tools.h"
#include "support/serve_process.h"

namespace video2mp3 {
namespace {

using testing::ApiClient;
using testing::ServeProcess;

constexpr const char* kEmail = "carol@example.com";
constexpr const char* kPassword = "correct horse battery";

/// Regular files under `dir`, leaving out the stores' own lock files.
std::vector<std::filesystem::path> FilesUnder(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> files;
    if (std::filesystem::exists(dir)) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
            if (entry.is_regular_file() && entry.path().filename() != ".lock") {
                files.push_back(entry.path());
            }
        }
    }
    return files;
}

int CountMailsMentioning(const std::filesystem::path& data_dir, const std::string& text) {
    int count = 0;
    for (const auto& path : FilesUnder(data_dir / "mail" / "new")) {
        std::ifstream file(path);
        std::stringstream content;
        content << file.rdbuf();
        count += content.str().find(text) != std::string::npos ? 1 : 0;
    }
    return count;
}

/// Sends raw bytes to the server and closes the connection without reading the answer.
void SendAndHangUp(int port, const std::string& bytes) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            break;
        }
        sent += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

class ServeRobustnessTest : public ::testing::Test {
 protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        testing::AddUser(data_dir(), kEmail, kPassword);
    }

    std::filesystem::path data_dir() const { return dir_ / "data"; }

    testing::TempDir dir_;
};

// kill -9 while a conversion runs, then start again: the job finishes exactly once, with one
// MP3 and one e-mail.
TEST_F(ServeRobustnessTest, CrashDuringConversionFinishesExactlyOnce) {
    testing::Ffmpeg(
        {"-f", "lavfi", "-i", "anoisesrc=duration=600:sample_rate=22050", "-c:a", "flac"},
        dir_ / "lecture.flac");
    std::string job_id;
    {
        ServeProcess server(data_dir());
        ApiClient api(server.Port());
        const std::string token = api.Login(kEmail, kPassword).value_or("");
        std::ifstream file(dir_ / "lecture.flac", std::ios::binary);
        std::stringstream content;
        content << file.rdbuf();
        auto result = api.Upload(token, "lecture.flac", content.str());
        ASSERT_EQ(result->status, 202) << result->body;
        job_id = nlohmann::json::parse(result->body)["job_id"];

        // Wait until the conversion is well under way, then pull the plug.
        nlohmann::json job;
        for (int i = 0; i < 300; ++i) {
            job = nlohmann::json::parse(api.Get(token, "/jobs/" + job_id)->body);
            if (job["status"] == "converting" && job["progress"].get<int>() >= 5) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ASSERT_EQ(job["status"], "converting") << job.dump();
        ASSERT_LT(job["progress"].get<int>(), 100) << "the conversion was too quick to interrupt";
        server.Kill();
    }

    ServeProcess restarted(data_dir());
    ApiClient api(restarted.Port());
    const std::string token = api.Login(kEmail, kPassword).value_or("");
    const auto job = api.WaitForJob(token, job_id, std::chrono::seconds(180));
    ASSERT_EQ(job["status"], "done") << job.dump() << restarted.Log();
    EXPECT_NEAR(job["duration_s"].get<double>(), 600.0, 3.0);
    EXPECT_NE(restarted.Log().find("given back"), std::string::npos) << "recovery is logged";

    // Give the notifier a moment, then count: one MP3, one e-mail, nothing half-written.
    for (int i = 0; i < 50 && CountMailsMentioning(data_dir(), job_id) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(CountMailsMentioning(data_dir(), job_id), 1);
    std::vector<std::filesystem::path> mp3s;
    for (const auto& path : FilesUnder(data_dir() / "blobs" / "mp3s")) {
        if (path.extension() != ".json") {
            mp3s.push_back(path);
        }
    }
    ASSERT_EQ(mp3s.size(), 1u);
    EXPECT_EQ(mp3s[0].filename(), job_id);
    EXPECT_TRUE(FilesUnder(data_dir() / "scratch").empty());
}

// An upload cut off midway leaves no job; one interrupted by a crash leaves no bytes after
// the sweep at start-up.
TEST_F(ServeRobustnessTest, CutOffUploadsLeaveNothing) {
    const std::string chunk(1 << 20, 'v');
    const auto request_head = [&](const std::string& token) {
        return "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
               "\r\nContent-Type: video/mp4\r\nContent-Length: 8000000\r\n\r\n";
    };

    {
        ServeProcess server(data_dir());
        ApiClient api(server.Port());
        const std::string token = api.Login(kEmail, kPassword).value_or("");

        SendAndHangUp(server.Port(), request_head(token) + chunk);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        EXPECT_TRUE(nlohmann::json::parse(api.Get(token, "/jobs")->body)["jobs"].empty());
        EXPECT_TRUE(FilesUnder(data_dir() / "blobs" / "videos").empty())
            << "the client went away: its bytes are dropped at once";

        // Now the server dies while bytes are still arriving.
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(server.Port()));
        ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        const std::string partial = request_head(token) + chunk + chunk;
        ASSERT_GT(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL), 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        server.Kill();
        ::close(fd);
    }

    ServeProcess restarted(data_dir());
    ApiClient api(restarted.Port());
    const std::string token = api.Login(kEmail, kPassword).value_or("");
    EXPECT_TRUE(nlohmann::json::parse(api.Get(token, "/jobs")->body)["jobs"].empty());
    EXPECT_TRUE(FilesUnder(data_dir() / "blobs" / "videos").empty());
}

/// One malformed multipart body; `variant` picks the defect, `random` varies the details.
std::pair<std::string, std::string> MalformedBody(int variant, std::mt19937& random) {
    const std::string boundary = "b" + std::to_string(random());
    const std::string file_part = "--" + boundary +
                                  "\r\nContent-Disposition: form-data; name=\"file\"; "
                                  "filename=\"clip.mp4\"\r\nContent-Type: video/mp4\r\n\r\n" +
                                  std::string(random() % 2000 + 1, 'x') + "\r\n";
    const std::string type = "multipart/form-data; boundary=" + boundary;
    switch (variant) {
        case 0:  // no closing delimiter
            return {type, file_part};
        case 1:  // the body uses another boundary than the header
            return {"multipart/form-data; boundary=other" + boundary,
                    file_part + "--" + boundary + "--\r\n"};
        case 2:  // no boundary parameter at all
            return {"multipart/form-data", file_part + "--" + boundary + "--\r\n"};
        case 3: {  // bare LF line endings
            std::string body = file_part + "--" + boundary + "--\r\n";
            std::string lf;
            for (char c : body) {
                if (c != '\r') {
                    lf += c;
                }
            }
            return {type, lf};
        }
        case 4:  // a huge part header, never finished
            return {type, "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" +
                              std::string(40000, 'n') + "\""};
        case 5: {  // many file parts
            std::string body;
            for (int i = 0; i < 200; ++i) {
                body += file_part;
            }
            return {type, body + "--" + boundary + "--\r\n"};
        }
        case 6: {  // many empty parts and no end
            std::string body;
            for (int i = 0; i < 2000; ++i) {
                body += "--" + boundary + "\r\n\r\n\r\n";
            }
            return {type, body};
        }
        case 7:  // a path in the filename, and the body cut short
            return {type, "--" + boundary +
                              "\r\nContent-Disposition: form-data; name=\"f\"; "
                              "filename=\"../../../etc/passwd\"\r\n\r\nroot:x:0:0"};
        case 8:  // NUL and non-UTF-8 bytes in the part header, no end
            return {type, "--" + boundary + "\r\nContent-Disposition: form-data; name=\"\xff\xfe" +
                              std::string(1, '\0') + "\"; filename=\"\xc3\x28.mp4\"\r\n\r\ndata"};
        case 9:  // a boundary longer than RFC 2046 allows, no end
            return {"multipart/form-data; boundary=" + std::string(200, 'q'),
                    "--" + std::string(200, 'q') + "\r\n\r\n"};
        case 10:  // an empty body
            return {type, ""};
        default:  // only a closing delimiter: no file at all
            return {type, "--" + boundary + "--\r\n"};
    }
}

TEST_F(ServeRobustnessTest, ThousandMalformedMultipartBodiesAllGet4xx) {
    ServeProcess server(data_dir());
    ApiClient api(server.Port());
    const std::string token = api.Login(kEmail, kPassword).value_or("");
    const long rss_before = server.RssKib();

    std::mt19937 random(2026);
    std::map<int, int> statuses;
    int unanswered = 0;
    for (int i = 0; i < 1000; ++i) {
        const auto [content_type, body] = MalformedBody(i % 12, random);
        auto result = api.Raw().Post("/upload", api.Bearer(token), body, content_type);
        if (!result) {
            ++unanswered;
            continue;
        }
        ++statuses[result->status];
        EXPECT_GE(result->status, 400) << "variant " << i % 12 << ": " << result->body;
        EXPECT_LT(result->status, 500) << "variant " << i % 12 << ": " << result->body;
    }

    EXPECT_EQ(unanswered, 0);
    EXPECT_TRUE(server.Running());
    EXPECT_EQ(api.Raw().Get("/healthz")->status, 200);
    EXPECT_TRUE(nlohmann::json::parse(api.Get(token, "/jobs")->body)["jobs"].empty());
    EXPECT_TRUE(FilesUnder(data_dir() / "blobs" / "videos").empty());
    const long rss_after = server.RssKib();
    if (!testing::kUnderSanitizer) {  // AddressSanitizer's quarantine holds freed memory
        EXPECT_LT(rss_after, rss_before + 16 * 1024)
            << "memory grew from " << rss_before << " to " << rss_after << " KiB";
    }
    for (const auto& [status, count] : statuses) {
        std::cout << "status " << status << ": " << count << " bodies\n";
    }
}

}  // namespace
}  // namespace video2mp3
