#pragma once

// Real servers for integration tests, run as ordinary processes on free loopback ports with
// their data in temporary folders (tests/support/test_servers.py does the starting):
//   "amqp"      RabbitMQ (Debian's rabbitmq-server)       amqp://guest:guest@127.0.0.1:PORT/
//   "postgres"  PostgreSQL (Debian's postgresql, initdb)
//   postgresql://video2mp3:...@127.0.0.1:PORT/video2mp3 "congodb"   CongoDB, a
//   MongoDB-wire-protocol server   mongodb://127.0.0.1:PORT/video2mp3 "smtp"
//   tests/support/smtp_sink.py (aiosmtpd)     smtp://127.0.0.1:PORT

#include <filesystem>
#include <string>
#include <vector>

namespace video2mp3::testing {

/// The URL of the server of `kind` that all integration tests of this ctest run share
/// (started by the `test_servers_up` fixture into build/<preset>/test-servers), or the one
/// given in VIDEO2MP3_TEST_<KIND>_URL (upper-case kind). Fails the current test and returns
/// "" when there is none. Tests that share a server use names (queues, databases, users)
/// of their own, so they can run in parallel.
std::string SharedServerUrl(const std::string& kind);

/// MongoDB URIs every storage test runs against: the shared CongoDB, and a real MongoDB
/// when VIDEO2MP3_TEST_MONGODB_URI is set.
std::vector<std::string> MongoUrisUnderTest();

/// `url` (mongodb://, postgresql://, ...) with its path, the database name, replaced by
/// `database`; the query is kept.
std::string WithDatabase(const std::string& url, const std::string& database);

/// A loopback port where nothing listens (bound, then closed again).
int UnusedPort();

/// A database of its own on a (shared) PostgreSQL server, dropped at the end, so tests can
/// run in parallel.
class ScratchPostgresDatabase {
 public:
    explicit ScratchPostgresDatabase(std::string server_url);
    ~ScratchPostgresDatabase();
    ScratchPostgresDatabase(const ScratchPostgresDatabase&) = delete;
    ScratchPostgresDatabase& operator=(const ScratchPostgresDatabase&) = delete;

    const std::string& Url() const { return url_; }
    const std::string& Name() const { return name_; }

 private:
    std::string server_url_;
    std::string name_;
    std::string url_;
};

/// A server a test has to itself, because it stops, kills or restarts it. Started on a free
/// port in a temporary folder; stopped and removed by the destructor.
class TestServer {
 public:
    /// Starts a server of `kind`; fails the current test when it does not come up.
    explicit TestServer(std::string kind);
    ~TestServer();
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    const std::string& Url() const { return url_; }
    int Port() const { return port_; }
    /// The server's own folder; for "smtp", captured messages are in DataDir()/mail.
    const std::filesystem::path& DataDir() const { return dir_; }

    /// A clean stop; the data and the port are kept for Start().
    void Stop();
    /// SIGKILL, as a crash would.
    void Kill();
    /// Starts it again on the same port with the same data.
    void Start();

 private:
    void Invoke(const std::vector<std::string>& arguments);

    std::string kind_;
    std::filesystem::path dir_;
    std::string url_;
    int port_ = 0;
};

}  // namespace video2mp3::testing
