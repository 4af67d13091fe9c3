// The auth role over real HTTP: app::AuthServer in front of an auth::AuthService on a
// PostgresUserStore, called by the gateway's adapters::HttpAuthenticator; and the gateway
// itself when the auth service is away.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "adapters/fs/fs_blob_store.h"
#include "adapters/http/http_authenticator.h"
#include "adapters/postgres/postgres_user_store.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_job_queue.h"
#include "adapters/sqlite/sqlite_job_store.h"
#include "app/auth_server.h"
#include "gateway/gateway.h"
#include "gateway/metrics.h"
#include "support/api_client.h"
#include "support/media_tools.h"
#include "support/test_servers.h"
#include "video2mp3/auth/auth_service.h"
#include "video2mp3/auth/login_throttle.h"
#include "video2mp3/auth/password_hasher.h"
#include "video2mp3/auth/token_service.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3 {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using Outcome = LoginResult::Outcome;
using namespace std::chrono_literals;

const std::string kSecret = "an-hs256-key-of-at-least-32-bytes!";
const std::string kPassword = "correct horse battery";

using ScratchDatabase = testing::ScratchPostgresDatabase;

/// A port that accepts connections (the kernel completes them) but never answers: a hung
/// auth service.
class SilentPort {
 public:
    SilentPort() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof(address);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
        ::listen(fd_, 16);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
    }
    ~SilentPort() { ::close(fd_); }
    SilentPort(const SilentPort&) = delete;
    SilentPort& operator=(const SilentPort&) = delete;

    int Port() const { return port_; }

 private:
    int fd_ = -1;
    int port_ = 0;
};

/// An AuthServer on a loopback port, served by its own thread until destroyed.
class RunningAuthServer {
 public:
    RunningAuthServer(Authenticator& auth, UserStore& users, int port = 0)
        : server_(app::AuthServerConfig{}, auth, users) {
        port_ = server_.Bind("127.0.0.1", port);
        thread_ = std::thread([this] {
            server_.Serve();
            ended_ = true;
        });
    }
    ~RunningAuthServer() {
        // A Stop() that comes before Serve() is listening would be lost: repeat it.
        while (!ended_) {
            server_.Stop();
            std::this_thread::sleep_for(10ms);
        }
        thread_.join();
    }
    RunningAuthServer(const RunningAuthServer&) = delete;
    RunningAuthServer& operator=(const RunningAuthServer&) = delete;

    int Port() const { return port_; }
    std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
    app::AuthServer server_;
    int port_ = 0;
    std::atomic<bool> ended_{false};
    std::thread thread_;
};

adapters::HttpAuthenticatorConfig ClientConfig(const std::string& base_url) {
    adapters::HttpAuthenticatorConfig config;
    config.base_url = base_url;
    return config;
}

/// Expects `call` to throw PortError (transient) and returns its message.
template <typename Call>
std::string UnavailableFailureOf(Call&& call) {
    try {
        call();
    } catch (const PortError& error) {
        EXPECT_TRUE(error.Transient()) << error.what();
        EXPECT_EQ(std::string(error.what()).rfind("the auth service is unavailable: ", 0), 0u)
            << error.what();
        return error.what();
    }
    ADD_FAILURE() << "no PortError";
    return "";
}

class SigpipeIgnored : public ::testing::Environment {
 public:
    void SetUp() override { ::signal(SIGPIPE, SIG_IGN); }
};
const auto* const kSigpipe = ::testing::AddGlobalTestEnvironment(new SigpipeIgnored);

/// The auth role wired as its main() does, on a PostgreSQL user store.
class AuthRole {
 public:
    /// Throttling after `failures_per_address` failures from one address (the default is 20).
    explicit AuthRole(const std::string& postgres_url, int failures_per_address = 20)
        : users_(Config(postgres_url)),
          tokens_(auth::TokenConfig{.secret = kSecret}),
          throttle_(5, failures_per_address, std::chrono::minutes(15)),
          auth_(users_, tokens_, throttle_) {}

    adapters::PostgresUserStore& Users() { return users_; }
    auth::AuthService& Auth() { return auth_; }

 private:
    static adapters::PostgresConfig Config(const std::string& url) {
        adapters::PostgresConfig config;
        config.url = url;
        config.pool_size = 3;
        return config;
    }

    adapters::PostgresUserStore users_;
    auth::TokenService tokens_;
    auth::LoginThrottle throttle_;
    auth::AuthService auth_;
};

class AuthServiceHttpTest : public ::testing::Test {
 protected:
    AuthServiceHttpTest() {
        user_ = role_.Users().Add("Dana@Example.com", auth::PasswordHasher::Hash(kPassword), false);
    }

    ScratchDatabase database_{video2mp3::testing::SharedServerUrl("postgres")};
    // Three failures per address (the default is 20) keep the throttling test short.
    AuthRole role_{database_.Url(), 3};
    std::unique_ptr<RunningAuthServer> server_ =
        std::make_unique<RunningAuthServer>(role_.Auth(), role_.Users());
    adapters::HttpAuthenticator client_{ClientConfig(server_->Url())};
    std::optional<User> user_;
};

// --- login and validation ---

TEST_F(AuthServiceHttpTest, LoginGivesATokenThatValidatesWithTheUsersClaims) {
    ASSERT_TRUE(user_);
    const auto before = std::chrono::system_clock::now();

    const LoginResult login = client_.Login("DANA@example.com", kPassword, "192.0.2.10");

    ASSERT_EQ(login.outcome, Outcome::kOk);
    ASSERT_FALSE(login.token.empty());
    const std::optional<Claims> claims = client_.Validate(login.token);
    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->sub, user_->id);
    EXPECT_EQ(claims->username, "dana@example.com");
    EXPECT_FALSE(claims->admin);
    EXPECT_GE(claims->iat, std::chrono::system_clock::to_time_t(before) - 1);
    EXPECT_EQ(claims->exp - claims->iat, 24 * 3600);
    EXPECT_FALSE(claims->password_version.empty());
}

TEST_F(AuthServiceHttpTest, AdminFlagComesFromTheAccount) {
    ASSERT_TRUE(role_.Users().Add("root@example.com", auth::PasswordHasher::Hash(kPassword), true));

    const LoginResult login = client_.Login("root@example.com", kPassword, "192.0.2.10");

    ASSERT_EQ(login.outcome, Outcome::kOk);
    const auto claims = client_.Validate(login.token);
    ASSERT_TRUE(claims);
    EXPECT_TRUE(claims->admin);
}

TEST_F(AuthServiceHttpTest, WrongPasswordOrUnknownUserIsBadCredentials) {
    EXPECT_EQ(client_.Login("dana@example.com", "wrong password", "192.0.2.11").outcome,
              Outcome::kBadCredentials);
    EXPECT_EQ(client_.Login("nobody@example.com", kPassword, "192.0.2.12").outcome,
              Outcome::kBadCredentials);
    EXPECT_EQ(client_.Login("", "", "192.0.2.13").outcome, Outcome::kBadCredentials);
}

TEST_F(AuthServiceHttpTest, RepeatedFailuresForAnAccountAreThrottled) {
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(client_
                      .Login("dana@example.com", "guess " + std::to_string(i),
                             "198.51.100." + std::to_string(i))
                      .outcome,
                  Outcome::kBadCredentials);
    }

    const LoginResult throttled = client_.Login("dana@example.com", kPassword, "198.51.100.99");

    EXPECT_EQ(throttled.outcome, Outcome::kThrottled);
    EXPECT_GT(throttled.retry_after.count(), 0);
    EXPECT_LE(throttled.retry_after, std::chrono::minutes(15));
    EXPECT_TRUE(throttled.token.empty());
}

TEST_F(AuthServiceHttpTest, FailuresCountPerForwardedAddress) {
    // Three different unknown accounts from one end-user address: that address is blocked,
    // even for a right password, while another address still gets in. This only works when
    // the address the gateway saw reaches the auth service.
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(client_.Login("nobody" + std::to_string(i) + "@example.com", "x", "203.0.113.5")
                      .outcome,
                  Outcome::kBadCredentials);
    }

    const LoginResult blocked = client_.Login("dana@example.com", kPassword, "203.0.113.5");
    const LoginResult other = client_.Login("dana@example.com", kPassword, "203.0.113.6");

    EXPECT_EQ(blocked.outcome, Outcome::kThrottled);
    EXPECT_GT(blocked.retry_after.count(), 0);
    EXPECT_EQ(other.outcome, Outcome::kOk);
}

TEST_F(AuthServiceHttpTest, ARemovedUsersTokenStopsValidating) {
    const LoginResult login = client_.Login("dana@example.com", kPassword, "192.0.2.20");
    ASSERT_EQ(login.outcome, Outcome::kOk);
    ASSERT_TRUE(client_.Validate(login.token));

    ASSERT_TRUE(role_.Users().Remove("dana@example.com"));

    EXPECT_FALSE(client_.Validate(login.token));
}

TEST_F(AuthServiceHttpTest, ATokenFromBeforeAPasswordChangeStopsValidating) {
    const LoginResult old_login = client_.Login("dana@example.com", kPassword, "192.0.2.21");
    ASSERT_EQ(old_login.outcome, Outcome::kOk);

    ASSERT_TRUE(role_.Users().SetPasswordHash("dana@example.com",
                                              auth::PasswordHasher::Hash("a new password")));

    EXPECT_FALSE(client_.Validate(old_login.token));
    EXPECT_EQ(client_.Login("dana@example.com", kPassword, "192.0.2.21").outcome,
              Outcome::kBadCredentials);
    const LoginResult new_login = client_.Login("dana@example.com", "a new password", "192.0.2.21");
    ASSERT_EQ(new_login.outcome, Outcome::kOk);
    EXPECT_TRUE(client_.Validate(new_login.token));
}

TEST_F(AuthServiceHttpTest, ForgedAndMalformedTokensAreNothing) {
    const LoginResult login = client_.Login("dana@example.com", kPassword, "192.0.2.22");
    ASSERT_EQ(login.outcome, Outcome::kOk);
    std::string forged = login.token;
    forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';

    EXPECT_FALSE(client_.Validate(forged));
    EXPECT_FALSE(client_.Validate("not-a-token"));
    EXPECT_FALSE(client_.Validate(""));
    EXPECT_FALSE(client_.Validate(login.token + "\r\nX-Injected: 1"));
    EXPECT_TRUE(client_.Validate(login.token));
}

TEST_F(AuthServiceHttpTest, ManyGatewayThreadsShareOneClient) {
    const LoginResult login = client_.Login("dana@example.com", kPassword, "192.0.2.23");
    ASSERT_EQ(login.outcome, Outcome::kOk);
    std::atomic<int> valid{0};
    std::vector<std::jthread> threads;

    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                if (const auto claims = client_.Validate(login.token);
                    claims && claims->sub == user_->id) {
                    ++valid;
                }
            }
        });
    }
    threads.clear();

    EXPECT_EQ(valid.load(), 8 * 25);
}

TEST_F(AuthServiceHttpTest, ARestartedAuthServiceIsUsedWithoutAnError) {
    const LoginResult login = client_.Login("dana@example.com", kPassword, "192.0.2.24");
    ASSERT_EQ(login.outcome, Outcome::kOk);
    ASSERT_TRUE(client_.Validate(login.token));  // a keep-alive connection stays pooled
    const int port = server_->Port();

    // The same port, a new server. The old one closed the pooled connection as it stopped;
    // the client must notice (or let it expire) rather than fail a call on it.
    server_.reset();
    server_ = std::make_unique<RunningAuthServer>(role_.Auth(), role_.Users(), port);

    EXPECT_TRUE(client_.Validate(login.token));
    EXPECT_EQ(client_.Login("dana@example.com", kPassword, "192.0.2.24").outcome, Outcome::kOk);
}

// --- the internal HTTP API as such ---

TEST_F(AuthServiceHttpTest, AnswersAreWhatTheApiSays) {
    httplib::Client http("127.0.0.1", server_->Port());
    const std::string basic =
        "Basic " + video2mp3::testing::Base64("dana@example.com:" + kPassword);

    const auto token = http.Post("/login", {{"Authorization", basic}}, "", "text/plain");
    ASSERT_TRUE(token);
    EXPECT_EQ(token->status, 200);
    EXPECT_EQ(token->get_header_value("Content-Type"), "text/plain");

    const auto claims =
        http.Post("/validate", {{"Authorization", "Bearer " + token->body}}, "", "text/plain");
    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->status, 200);
    const Json json = Json::parse(claims->body);
    for (const char* key : {"sub", "username", "admin", "iat", "exp", "pwv"}) {
        EXPECT_TRUE(json.contains(key)) << key << " missing from " << claims->body;
    }

    const auto no_credentials = http.Post("/login", "", "text/plain");
    ASSERT_TRUE(no_credentials);
    EXPECT_EQ(no_credentials->status, 401);
    EXPECT_FALSE(Json::parse(no_credentials->body).at("error").get<std::string>().empty());

    const auto no_token = http.Post("/validate", "", "text/plain");
    ASSERT_TRUE(no_token);
    EXPECT_EQ(no_token->status, 401);
    EXPECT_TRUE(Json::parse(no_token->body).contains("error"));

    const auto health = http.Get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    const auto ready = http.Get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200);

    const auto wrong_method = http.Get("/login");
    ASSERT_TRUE(wrong_method);
    EXPECT_EQ(wrong_method->status, 405);
    EXPECT_EQ(wrong_method->get_header_value("Allow"), "POST");
    const auto unknown = http.Get("/upload");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404);
    EXPECT_TRUE(Json::parse(unknown->body).contains("error"));
}

TEST_F(AuthServiceHttpTest, ThrottledAnswerCarriesRetryAfter) {
    httplib::Client http("127.0.0.1", server_->Port());
    const std::string wrong = "Basic " + video2mp3::testing::Base64("dana@example.com:wrong");
    for (int i = 0; i < 5; ++i) {  // from five addresses: the account's limit
        const httplib::Headers headers = {{"Authorization", wrong},
                                          {"X-Forwarded-For", "192.0.2." + std::to_string(30 + i)}};
        const auto refused = http.Post("/login", headers, "", "text/plain");
        ASSERT_TRUE(refused);
        ASSERT_EQ(refused->status, 401);
    }

    const auto answer = http.Post(
        "/login", {{"Authorization", wrong}, {"X-Forwarded-For", "192.0.2.99"}}, "", "text/plain");

    ASSERT_TRUE(answer);

    EXPECT_EQ(answer->status, 429);
    EXPECT_GT(std::stoi(answer->get_header_value("Retry-After")), 0);
    EXPECT_TRUE(Json::parse(answer->body).contains("error"));
}

// --- the auth service or its database away ---

TEST(AuthServiceAwayTest, NothingListeningThrowsWithinTheConnectTimeout) {
    adapters::HttpAuthenticatorConfig config =
        ClientConfig("http://127.0.0.1:" + std::to_string(testing::UnusedPort()));
    adapters::HttpAuthenticator client(config);
    const auto started = Clock::now();

    const std::string message =
        UnavailableFailureOf([&] { client.Login("dana@example.com", kPassword, "192.0.2.1"); });
    UnavailableFailureOf([&] { client.Validate("a.b.c"); });

    EXPECT_LT(Clock::now() - started, 2 * (config.connect_timeout + 1s));
    EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
    EXPECT_EQ(message.find(kPassword), std::string::npos) << message;
}

TEST(AuthServiceAwayTest, AServiceThatNeverAnswersThrowsWithinTheReadTimeout) {
    SilentPort silent;
    adapters::HttpAuthenticatorConfig config =
        ClientConfig("http://127.0.0.1:" + std::to_string(silent.Port()));
    config.read_timeout = 1s;
    adapters::HttpAuthenticator client(config);
    const auto started = Clock::now();

    const std::string message =
        UnavailableFailureOf([&] { client.Login("dana@example.com", kPassword, "192.0.2.1"); });
    UnavailableFailureOf([&] { client.Validate("a.b.c"); });

    EXPECT_LT(Clock::now() - started, 2 * (config.connect_timeout + config.read_timeout + 1s));
    EXPECT_NE(message.find("no answer"), std::string::npos) << message;
}

TEST(AuthServiceAwayTest, MalformedBaseUrlsAreInvalidArguments) {
    for (const std::string url :
         {"", "auth:8081", "ftp://auth:21", "http://", "http://auth:8081/api", "http://a b"}) {
        EXPECT_THROW(adapters::HttpAuthenticator client(ClientConfig(url)), std::invalid_argument)
            << url;
    }
    EXPECT_NO_THROW(adapters::HttpAuthenticator client(ClientConfig("http://auth:8081/")));
}

TEST(AuthServiceDatabaseDownTest, PostgresStoppedMeans503ThenRecovers) {
    video2mp3::testing::TestServer postgres("postgres");
    AuthRole role(postgres.Url());
    ASSERT_TRUE(role.Users().Add("eve@example.com", auth::PasswordHasher::Hash(kPassword), false));
    RunningAuthServer server(role.Auth(), role.Users());
    adapters::HttpAuthenticator client(ClientConfig(server.Url()));
    const LoginResult before = client.Login("eve@example.com", kPassword, "192.0.2.40");
    ASSERT_EQ(before.outcome, Outcome::kOk);

    postgres.Stop();

    httplib::Client http("127.0.0.1", server.Port());
    const std::string basic = "Basic " + video2mp3::testing::Base64("eve@example.com:" + kPassword);
    const auto login = http.Post("/login", {{"Authorization", basic}}, "", "text/plain");
    ASSERT_TRUE(login);
    EXPECT_EQ(login->status, 503);
    EXPECT_TRUE(login->has_header("Retry-After"));
    EXPECT_NE(Json::parse(login->body).at("error").get<std::string>().find("unavailable"),
              std::string::npos)
        << login->body;
    const auto validate =
        http.Post("/validate", {{"Authorization", "Bearer " + before.token}}, "", "text/plain");
    ASSERT_TRUE(validate);
    EXPECT_EQ(validate->status, 503);
    EXPECT_EQ(http.Get("/readyz")->status, 503);
    EXPECT_EQ(http.Get("/healthz")->status, 200);
    UnavailableFailureOf([&] { client.Login("eve@example.com", kPassword, "192.0.2.40"); });
    UnavailableFailureOf([&] { client.Validate(before.token); });

    postgres.Start();

    EXPECT_EQ(http.Get("/readyz")->status, 200);
    EXPECT_TRUE(client.Validate(before.token));
    const LoginResult after = client.Login("eve@example.com", kPassword, "192.0.2.40");
    EXPECT_EQ(after.outcome, Outcome::kOk);
    EXPECT_TRUE(client.Validate(after.token));
}

// --- the gateway in front ---

/// A gateway on the embedded job store, queue and blob folder (as `serve` builds them),
/// authenticating through `auth`.
class RunningGateway {
 public:
    explicit RunningGateway(Authenticator& auth)
        : database_(dir_ / "video2mp3.db"),
          jobs_(database_),
          queue_(database_),
          blobs_(dir_ / "blobs"),
          gateway_(gateway::GatewayConfig{}, auth, blobs_, jobs_, queue_, metrics_) {
        port_ = gateway_.Bind("127.0.0.1", 0);
        thread_ = std::thread([this] {
            gateway_.Serve();
            ended_ = true;
        });
    }
    ~RunningGateway() {
        while (!ended_) {
            gateway_.Stop();
            std::this_thread::sleep_for(10ms);
        }
        thread_.join();
    }
    RunningGateway(const RunningGateway&) = delete;
    RunningGateway& operator=(const RunningGateway&) = delete;

    int Port() const { return port_; }

 private:
    video2mp3::testing::TempDir dir_;
    adapters::SqliteDatabase database_;
    adapters::SqliteJobStore jobs_;
    adapters::SqliteJobQueue queue_;
    adapters::FsBlobStore blobs_;
    gateway::Metrics metrics_;
    gateway::Gateway gateway_;
    int port_ = 0;
    std::atomic<bool> ended_{false};
    std::thread thread_;
};

TEST(GatewayWithAuthServiceAwayTest, LoginAndJobsAnswer503) {
    adapters::HttpAuthenticator auth(
        ClientConfig("http://127.0.0.1:" + std::to_string(testing::UnusedPort())));
    RunningGateway gateway(auth);
    video2mp3::testing::ApiClient api(gateway.Port());

    int status = 0;
    EXPECT_FALSE(api.Login("dana@example.com", kPassword, &status));
    EXPECT_EQ(status, 503);
    const auto login = api.Raw().Post(
        "/login", {{"Authorization", "Basic " + video2mp3::testing::Base64("dana@example.com:x")}},
        "", "text/plain");
    ASSERT_TRUE(login);
    EXPECT_EQ(login->status, 503);
    EXPECT_TRUE(login->has_header("Retry-After"));
    EXPECT_EQ(Json::parse(login->body).at("error"),
              "the auth service is unavailable, try again shortly");

    const auto jobs = api.Get("some.bearer.token", "/jobs");
    ASSERT_TRUE(jobs);
    EXPECT_EQ(jobs->status, 503);
    EXPECT_TRUE(jobs->has_header("Retry-After"));
    EXPECT_EQ(Json::parse(jobs->body).at("error"),
              "the auth service is unavailable, try again shortly");

    // Without a token there is nothing to ask the auth service: still 401.
    const auto anonymous = api.Raw().Get("/jobs");
    ASSERT_TRUE(anonymous);
    EXPECT_EQ(anonymous->status, 401);
}

TEST_F(AuthServiceHttpTest, TheGatewayLogsInAndServesJobsThroughTheAuthService) {
    RunningGateway gateway(client_);
    video2mp3::testing::ApiClient api(gateway.Port());

    const auto token = api.Login("dana@example.com", kPassword);
    ASSERT_TRUE(token);
    const auto jobs = api.Get(*token, "/jobs");
    ASSERT_TRUE(jobs);
    EXPECT_EQ(jobs->status, 200);
    EXPECT_TRUE(Json::parse(jobs->body).at("jobs").empty());

    int status = 0;
    EXPECT_FALSE(api.Login("dana@example.com", "wrong", &status));
    EXPECT_EQ(status, 401);
    const auto forged = api.Get(*token + "x", "/jobs");
    ASSERT_TRUE(forged);
    EXPECT_EQ(forged->status, 401);
}

}  // namespace
}  // namespace video2mp3
