// The API description (web/openapi.yaml, compiled into the binary) against the servers' own
// route tables: every route the gateway and the auth service answer is described, and every
// described operation is a route one of them answers. Also the YAML-to-JSON conversion
// behind /openapi.json. (tests/browser/openapi.test.mjs validates the document against the
// OpenAPI 3.1 schema and calls every operation of a running serve.)
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "adapters/fs/fs_blob_store.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_job_queue.h"
#include "adapters/sqlite/sqlite_job_store.h"
#include "adapters/sqlite/sqlite_user_store.h"
#include "app/auth_server.h"
#include "gateway/gateway.h"
#include "gateway/metrics.h"
#include "gateway/web_assets.h"
#include "support/media_tools.h"
#include "video2mp3/auth/auth_service.h"
#include "video2mp3/auth/login_throttle.h"
#include "video2mp3/auth/token_service.h"

namespace video2mp3 {
namespace {

using Operation = std::pair<std::string, std::string>;  // METHOD, path

std::string Upper(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return text;
}

/// The operations of the description; `auth_only`: those served by the auth service alone
/// (a path-level `servers`), or else those the gateway serves.
std::set<Operation> Described(bool auth_only) {
    std::set<Operation> operations;
    for (const auto& [path, item] : gateway::OpenApiDocument().at("paths").items()) {
        if (item.contains("servers") != auth_only) {
            continue;
        }
        for (const char* method : {"get", "post", "put", "patch", "delete"}) {
            if (item.contains(method)) {
                operations.insert({Upper(method), path});
            }
        }
    }
    return operations;
}

/// The auth service's operations: its own (/validate) and those tagged "auth service".
std::set<Operation> DescribedForAuthService() {
    std::set<Operation> operations = Described(true);
    for (const auto& [path, item] : gateway::OpenApiDocument().at("paths").items()) {
        for (const auto& [method, operation] : item.items()) {
            if (operation.is_object() && operation.contains("tags")) {
                const auto& tags = operation.at("tags");
                if (std::find(tags.begin(), tags.end(), "auth service") != tags.end()) {
                    operations.insert({Upper(method), path});
                }
            }
        }
    }
    return operations;
}

template <typename Routes>
std::set<Operation> AsSet(const Routes& routes) {
    std::set<Operation> operations;
    for (const auto& route : routes) {
        operations.insert({route.method, route.path});
    }
    return operations;
}

/// The serve wiring, on a temporary data folder.
class GatewayRoutesTest : public ::testing::Test {
 protected:
    GatewayRoutesTest()
        : database_(dir_.Path() / "video2mp3.db"),
          users_(database_),
          jobs_(database_),
          queue_(database_),
          blobs_(dir_.Path() / "blobs"),
          tokens_(auth::TokenConfig{std::string(40, 'k')}),
          auth_(users_, tokens_, throttle_),
          gateway_(gateway::GatewayConfig{}, auth_, blobs_, jobs_, queue_, metrics_) {}

    video2mp3::testing::TempDir dir_;
    adapters::SqliteDatabase database_;
    adapters::SqliteUserStore users_;
    adapters::SqliteJobStore jobs_;
    adapters::SqliteJobQueue queue_;
    adapters::FsBlobStore blobs_;
    auth::TokenService tokens_;
    auth::LoginThrottle throttle_;
    auth::AuthService auth_;
    gateway::Metrics metrics_;
    gateway::Gateway gateway_;
};

TEST_F(GatewayRoutesTest, EveryRouteTheGatewayAnswersIsDescribedAndNoMore) {
    const std::set<Operation> answered = AsSet(gateway_.Routes());
    const std::set<Operation> described = Described(false);

    for (const auto& [method, path] : answered) {
        EXPECT_TRUE(described.count({method, path}))
            << method << " " << path << " is answered but not described";
    }
    for (const auto& [method, path] : described) {
        EXPECT_TRUE(answered.count({method, path}))
            << method << " " << path << " is described but not answered";
    }
    // The seed's three calls and the page are among them.
    EXPECT_TRUE(answered.count({"POST", "/login"}));
    EXPECT_TRUE(answered.count({"POST", "/upload"}));
    EXPECT_TRUE(answered.count({"GET", "/download"}));
    EXPECT_TRUE(answered.count({"GET", "/"}));
}

TEST_F(GatewayRoutesTest, EveryEmbeddedWebFileIsAnsweredAtItsPath) {
    const std::set<Operation> answered = AsSet(gateway_.Routes());
    for (const gateway::WebFile& file : gateway::EmbeddedWebFiles()) {
        const std::string name(file.name);
        const std::string path = name == "index.html"  ? "/"
                                 : name == "docs.html" ? "/docs"
                                                       : "/" + name;
        EXPECT_TRUE(answered.count({"GET", path})) << name;
        EXPECT_FALSE(file.content.empty()) << name;
    }
}

TEST(AuthServerRoutesTest, EveryRouteTheAuthServiceAnswersIsDescribedAndNoMore) {
    const std::set<Operation> answered = AsSet(app::AuthServer::Routes());
    EXPECT_EQ(answered, DescribedForAuthService());
}

TEST(AuthServerRoutesTest, TheAuthServiceAnswersEachOfItsRoutesAndNothingElse) {
    video2mp3::testing::TempDir dir;
    adapters::SqliteDatabase database(dir.Path() / "users.db");
    adapters::SqliteUserStore users(database);
    const auth::TokenService tokens(auth::TokenConfig{std::string(40, 'k')});
    auth::LoginThrottle throttle;
    auth::AuthService auth(users, tokens, throttle);
    app::AuthServer server(app::AuthServerConfig{}, auth, users);
    const int port = server.Bind("127.0.0.1", 0);
    std::thread serving([&] { server.Serve(); });

    httplib::Client client("127.0.0.1", port);
    for (const auto& route : app::AuthServer::Routes()) {
        const auto answer = route.method == "GET" ? client.Get(route.path)
                                                  : client.Post(route.path, "", "text/plain");
        ASSERT_TRUE(answer) << route.method << " " << route.path;
        EXPECT_NE(answer->status, 404) << route.method << " " << route.path << ": " << answer->body;
        EXPECT_NE(answer->status, 405) << route.method << " " << route.path << ": " << answer->body;
    }
    const auto unknown = client.Get("/upload");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404);

    server.Stop();
    serving.join();
}

TEST(OpenApiDocumentTest, IsOpenApi31WithAnswersForEveryOperation) {
    const auto& document = gateway::OpenApiDocument();
    EXPECT_EQ(document.at("openapi"), "3.1.0");
    for (const auto& [path, item] : document.at("paths").items()) {
        for (const auto& [method, operation] : item.items()) {
            if (!operation.is_object() || !operation.contains("responses")) {
                continue;
            }
            for (const auto& [status, answer] : operation.at("responses").items()) {
                // Status codes are strings of three digits, as OpenAPI wants them.
                EXPECT_EQ(status.size(), 3U) << method << " " << path;
                EXPECT_TRUE(answer.contains("description") || answer.contains("$ref"))
                    << method << " " << path << " " << status;
            }
        }
    }
    // A protected operation describes the 401 a person gets without a token.
    EXPECT_TRUE(document.at("paths").at("/jobs").at("get").at("responses").contains("401"));
}

TEST(YamlToJsonTest, PlainScalarsTakeTheirTypesAndQuotedOnesStayStrings) {
    const auto json = gateway::YamlToJson(R"(
count: 12
negative: -3
ratio: 0.5
big: 123456789012345678901234567890
yes: true
no: False
nothing: null
tilde: ~
quoted: "200"
single: 'true'
text: hello world
block: |
  two
  lines
list: [1, "2", three]
nested: {a: {b: [x]}}
)");
    EXPECT_EQ(json.at("count"), 12);
    EXPECT_EQ(json.at("negative"), -3);
    EXPECT_DOUBLE_EQ(json.at("ratio").get<double>(), 0.5);
    EXPECT_EQ(json.at("big"), "123456789012345678901234567890");
    EXPECT_EQ(json.at("yes"), true);
    EXPECT_EQ(json.at("no"), false);
    EXPECT_TRUE(json.at("nothing").is_null());
    EXPECT_TRUE(json.at("tilde").is_null());
    EXPECT_EQ(json.at("quoted"), "200");
    EXPECT_EQ(json.at("single"), "true");
    EXPECT_EQ(json.at("text"), "hello world");
    EXPECT_EQ(json.at("block"), "two\nlines\n");
    EXPECT_EQ(json.at("list"), nlohmann::json::parse(R"([1, "2", "three"])"));
    EXPECT_EQ(json.at("nested").at("a").at("b").at(0), "x");
}

TEST(YamlToJsonTest, TextThatIsNotYamlThrowsWithThePlace) {
    try {
        gateway::YamlToJson("key: [unclosed\nother: 1\n");
        FAIL() << "no exception";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find("not YAML"), std::string::npos) << error.what();
        EXPECT_NE(std::string(error.what()).find("line"), std::string::npos) << error.what();
    }
}

}  // namespace
}  // namespace video2mp3
