// What the roles read from their surroundings: the client's address behind proxies, and
// JSON log lines that stay valid whatever a message holds.

#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "app/environment.h"
#include "gateway/http_common.h"

namespace video2mp3 {
namespace {

httplib::Request RequestFrom(const std::string& peer,
                             std::initializer_list<std::string> forwarded) {
    httplib::Request request;
    request.remote_addr = peer;
    for (const std::string& header : forwarded) {
        request.headers.emplace("X-Forwarded-For", header);
    }
    return request;
}

TEST(ForwardedClient, WithoutTrustedProxiesThePeerIsTheClientWhateverTheHeaderSays) {
    EXPECT_EQ(gateway::ForwardedClient(RequestFrom("10.0.0.7", {"203.0.113.9"}), 0), "10.0.0.7");
    EXPECT_EQ(gateway::ForwardedClient(RequestFrom("10.0.0.7", {}), 1), "10.0.0.7");
}

TEST(ForwardedClient, OneProxyMeansTheLastEntryTheProxyWrote) {
    // The client forged the first entry; the Ingress appended what it saw.
    const auto request = RequestFrom("10.0.0.7", {"198.51.100.1, 203.0.113.9"});
    EXPECT_EQ(gateway::ForwardedClient(request, 1), "203.0.113.9");
    EXPECT_EQ(gateway::ForwardedClient(request, 2), "198.51.100.1");
}

TEST(ForwardedClient, SeveralHeadersAreOneListAndBlankEntriesDoNotCount) {
    const auto request = RequestFrom("10.0.0.7", {"198.51.100.1", " 203.0.113.9 ,, "});
    EXPECT_EQ(gateway::ForwardedClient(request, 1), "203.0.113.9");
    EXPECT_EQ(gateway::ForwardedClient(request, 2), "198.51.100.1");
    // More proxies configured than entries: the furthest entry there is.
    EXPECT_EQ(gateway::ForwardedClient(request, 5), "198.51.100.1");
    EXPECT_EQ(gateway::ForwardedClient(RequestFrom("10.0.0.7", {" , "}), 1), "10.0.0.7");
}

TEST(WildcardHost, OnlyTheAnyAddressesAreWildcards) {
    EXPECT_TRUE(app::IsWildcardHost("0.0.0.0"));
    EXPECT_TRUE(app::IsWildcardHost("::"));
    EXPECT_FALSE(app::IsWildcardHost("127.0.0.1"));
    EXPECT_FALSE(app::IsWildcardHost("gateway.example.org"));
}

TEST(MailFrom, SenderAddressesAreCheckedAtStart) {
    for (const char* good :
         {"video2mp3 <noreply@localhost>", "noreply@example.org",
          "\"Ops, video2mp3\" <ops@example.org>", "Évil Corp <ops@example.org>"}) {
        EXPECT_NO_THROW(app::RequireMailbox("VIDEO2MP3_MAIL_FROM", good)) << good;
    }
    for (const char* bad :
         {"Broken <>", "no-at-sign", "@example.org", "user@", "a@b@c", "x <a b@c>", "x <a@b",
          "ok@example.org\r\nBcc: victim@example.org", "<a@b.example> <c@d.example>",
          "\"unbalanced <a@b.example>", "x <a@b.example> trailing", "a@b;c", "a,b@c"}) {
        try {
            app::RequireMailbox("VIDEO2MP3_MAIL_FROM", bad);
            ADD_FAILURE() << "taken: " << bad;
        } catch (const app::ConfigError& error) {
            EXPECT_EQ(std::string(error.what()).rfind("VIDEO2MP3_MAIL_FROM: ", 0), 0u) << bad;
        }
    }
}

TEST(JsonLogs, EveryLineIsJsonEvenWhenTheMessageHoldsQuotesAndNewlines) {
    ::setenv("VIDEO2MP3_LOG_FORMAT", "json", 1);
    ::setenv("VIDEO2MP3_LOG_LEVEL", "info", 1);
    app::ConfigureLogging();
    std::ostringstream out;
    auto logger = std::make_shared<spdlog::logger>(
        "json-test", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
    spdlog::initialize_logger(logger);

    const std::string text =
        "connection to server at \"127.0.0.1\", port 5432 failed:\n\tConnection refused \\ é";
    logger->error("{}", text);
    logger->info("plain");
    logger->flush();

    std::istringstream lines(out.str());
    std::string line;
    std::vector<nlohmann::json> parsed;
    while (std::getline(lines, line)) {
        const auto json = nlohmann::json::parse(line, nullptr, false);
        ASSERT_FALSE(json.is_discarded()) << line;
        parsed.push_back(json);
    }
    ASSERT_EQ(parsed.size(), 2u) << out.str();
    EXPECT_EQ(parsed[0]["message"], text);
    EXPECT_EQ(parsed[0]["level"], "error");
    EXPECT_EQ(parsed[0]["logger"], "json-test");
    EXPECT_EQ(parsed[1]["message"], "plain");

    spdlog::drop("json-test");
    ::unsetenv("VIDEO2MP3_LOG_FORMAT");
    ::unsetenv("VIDEO2MP3_LOG_LEVEL");
}

TEST(JsonLogs, AnUnknownLevelIsRefusedWithTheValue) {
    ::setenv("VIDEO2MP3_LOG_LEVEL", "loud", 1);
    try {
        app::ConfigureLogging();
        ADD_FAILURE() << "a bad level was taken";
    } catch (const app::ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("got 'loud'"), std::string::npos) << error.what();
    }
    ::unsetenv("VIDEO2MP3_LOG_LEVEL");
}

}  // namespace
}  // namespace video2mp3
