// PostgresUserStore against a real PostgreSQL: the shared server of the ctest run (a fresh
// database per test) and, for stop-and-start, a private one.

#include "adapters/postgres/postgres_user_store.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/postgres/postgres_url.h"
#include "support/test_servers.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// A database of its own on the shared server, with a way to look behind the store's back.
class ScratchDatabase : public testing::ScratchPostgresDatabase {
 public:
    using ScratchPostgresDatabase::ScratchPostgresDatabase;

    /// Runs one statement with its own connection.
    pqxx::result Query(const std::string& sql) const {
        pqxx::connection connection(Url());
        pqxx::nontransaction statement(connection);
        return statement.exec(sql);
    }
};

/// Expects `call` to throw a transient StorageError and returns its message.
template <typename Call>
std::string TransientFailureOf(Call&& call) {
    try {
        call();
    } catch (const StorageError& error) {
        EXPECT_TRUE(error.Transient()) << error.what();
        return error.what();
    }
    ADD_FAILURE() << "no StorageError";
    return "";
}

class PostgresUserStoreTest : public ::testing::Test {
 protected:
    PostgresConfig Config(int pool_size = 4) const {
        PostgresConfig config;
        config.url = database_->Url();
        config.pool_size = pool_size;
        return config;
    }

    std::unique_ptr<ScratchDatabase> database_ =
        std::make_unique<ScratchDatabase>(video2mp3::testing::SharedServerUrl("postgres"));
    PostgresUserStore users_{Config()};
};

// --- the accounts ---

TEST_F(PostgresUserStoreTest, AddReturnsTheNewUserWithALowerCaseEmail) {
    const auto before = std::chrono::system_clock::now();

    const std::optional<User> user = users_.Add("Alice@Example.COM", "argon-hash", true);

    ASSERT_TRUE(user);
    EXPECT_TRUE(IsWellFormedId(user->id));
    EXPECT_EQ(user->id.size(), 24u);
    EXPECT_EQ(user->email, "alice@example.com");
    EXPECT_EQ(user->password_hash, "argon-hash");
    EXPECT_TRUE(user->admin);
    const auto ms = [](auto time) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch())
            .count();
    };
    EXPECT_GE(user->created_at_ms, ms(before));
    EXPECT_LE(user->created_at_ms, ms(std::chrono::system_clock::now()));

    const std::optional<User> stored = users_.FindById(user->id);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->email, "alice@example.com");
    EXPECT_EQ(stored->password_hash, "argon-hash");
    EXPECT_TRUE(stored->admin);
    EXPECT_EQ(stored->created_at_ms, user->created_at_ms);
    // What another program reading the table sees.
    EXPECT_EQ(database_->Query("SELECT email FROM users")[0][0].as<std::string>(),
              "alice@example.com");
}

TEST_F(PostgresUserStoreTest, AddRefusesATakenEmailWhateverItsCase) {
    ASSERT_TRUE(users_.Add("bob@example.com", "one", false));

    EXPECT_FALSE(users_.Add("bob@example.com", "two", false));
    EXPECT_FALSE(users_.Add("BOB@Example.com", "three", true));

    ASSERT_EQ(users_.List().size(), 1u);
    EXPECT_EQ(users_.FindByEmail("bob@example.com")->password_hash, "one");
    EXPECT_FALSE(users_.FindByEmail("bob@example.com")->admin);
}

TEST_F(PostgresUserStoreTest, FindByEmailIgnoresCase) {
    const auto added = users_.Add("carol@example.com", "hash", false);
    ASSERT_TRUE(added);

    const auto found = users_.FindByEmail("CaRoL@EXAMPLE.com");

    ASSERT_TRUE(found);
    EXPECT_EQ(found->id, added->id);
    EXPECT_EQ(found->email, "carol@example.com");
    EXPECT_FALSE(users_.FindByEmail("dave@example.com"));
    EXPECT_FALSE(users_.FindById("no-such-id"));
    EXPECT_FALSE(users_.FindById(""));
    // Parameters, not SQL: a quote is just a character of an e-mail.
    EXPECT_FALSE(users_.FindByEmail("x' OR '1'='1"));
}

TEST_F(PostgresUserStoreTest, ListGivesEveryUserByEmail) {
    EXPECT_TRUE(users_.List().empty());
    ASSERT_TRUE(users_.Add("zed@example.com", "h", false));
    ASSERT_TRUE(users_.Add("amy@example.com", "h", true));
    ASSERT_TRUE(users_.Add("Max@example.com", "h", false));

    const std::vector<User> users = users_.List();

    ASSERT_EQ(users.size(), 3u);
    EXPECT_EQ(users[0].email, "amy@example.com");
    EXPECT_TRUE(users[0].admin);
    EXPECT_EQ(users[1].email, "max@example.com");
    EXPECT_FALSE(users[1].admin);
    EXPECT_EQ(users[2].email, "zed@example.com");
}

TEST_F(PostgresUserStoreTest, SetPasswordHashChangesOnlyThatUser) {
    ASSERT_TRUE(users_.Add("erin@example.com", "old", false));
    ASSERT_TRUE(users_.Add("frank@example.com", "other", false));

    EXPECT_TRUE(users_.SetPasswordHash("ERIN@example.com", "new"));
    EXPECT_FALSE(users_.SetPasswordHash("nobody@example.com", "new"));

    EXPECT_EQ(users_.FindByEmail("erin@example.com")->password_hash, "new");
    EXPECT_EQ(users_.FindByEmail("frank@example.com")->password_hash, "other");
}

TEST_F(PostgresUserStoreTest, RemoveDeletesTheUserOnce) {
    const auto user = users_.Add("gina@example.com", "h", false);
    ASSERT_TRUE(user);

    EXPECT_TRUE(users_.Remove("Gina@Example.com"));
    EXPECT_FALSE(users_.Remove("gina@example.com"));

    EXPECT_FALSE(users_.FindByEmail("gina@example.com"));
    EXPECT_FALSE(users_.FindById(user->id));
    const auto again = users_.Add("gina@example.com", "again", false);
    ASSERT_TRUE(again);
    EXPECT_NE(again->id, user->id);
}

TEST_F(PostgresUserStoreTest, ManyThreadsShareASmallPool) {
    PostgresUserStore users(Config(2));
    constexpr int kThreads = 8;
    constexpr int kUsersEach = 10;
    std::atomic<int> wrong{0};
    std::vector<std::jthread> threads;

    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&users, &wrong, t] {
            for (int i = 0; i < kUsersEach; ++i) {
                const std::string email =
                    "t" + std::to_string(t) + "-" + std::to_string(i) + "@example.com";
                const auto added = users.Add(email, "hash-" + email, false);
                const auto found = users.FindByEmail(email);
                if (!added || !found || found->id != added->id ||
                    found->password_hash != "hash-" + email) {
                    ++wrong;
                }
            }
        });
    }
    threads.clear();

    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(users.List().size(), static_cast<std::size_t>(kThreads * kUsersEach));
}

TEST_F(PostgresUserStoreTest, ReadyWhileTheDatabaseAnswers) {
    EXPECT_TRUE(users_.Ready());
}

// --- the schema ---

TEST_F(PostgresUserStoreTest, StartingAgainKeepsTheDataAndMigratesNothing) {
    ASSERT_TRUE(users_.Add("kept@example.com", "h", true));

    PostgresUserStore again(Config());
    PostgresUserStore and_again(Config());

    EXPECT_TRUE(and_again.FindByEmail("kept@example.com"));
    const pqxx::result versions = database_->Query("SELECT version FROM schema_migrations");
    ASSERT_EQ(versions.size(), 1u);
    EXPECT_EQ(versions[0][0].as<int>(), PostgresUserStore::SchemaVersion());
}

TEST_F(PostgresUserStoreTest, StoresStartingTogetherOnAnEmptyDatabaseDoNotRace) {
    // A database nobody has touched, and several processes' worth of stores starting on it
    // at the same moment (as replicas of the auth role do after a deploy).
    ScratchDatabase empty(video2mp3::testing::SharedServerUrl("postgres"));
    constexpr int kStores = 6;
    std::barrier start(kStores);
    std::atomic<int> failures{0};
    std::vector<std::unique_ptr<PostgresUserStore>> stores(kStores);
    std::vector<std::jthread> threads;

    for (int i = 0; i < kStores; ++i) {
        threads.emplace_back([&, i] {
            PostgresConfig config;
            config.url = empty.Url();
            config.pool_size = 1;
            start.arrive_and_wait();
            try {
                stores[i] = std::make_unique<PostgresUserStore>(config);
            } catch (const std::exception& error) {
                ADD_FAILURE() << "store " << i << ": " << error.what();
                ++failures;
            }
        });
    }
    threads.clear();

    ASSERT_EQ(failures.load(), 0);
    ASSERT_TRUE(stores[0]->Add("first@example.com", "h", false));
    EXPECT_TRUE(stores[kStores - 1]->FindByEmail("first@example.com"));
    EXPECT_EQ(empty.Query("SELECT version FROM schema_migrations").size(), 1u);
}

TEST_F(PostgresUserStoreTest, RefusesASchemaFromANewerProgram) {
    database_->Query("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (999, 0)");

    try {
        PostgresUserStore newer(Config());
        FAIL() << "a store opened a database of schema version 999";
    } catch (const StorageError& error) {
        EXPECT_FALSE(error.Transient());
        EXPECT_NE(std::string(error.what()).find("999"), std::string::npos) << error.what();
    }
}

// --- configuration and connection trouble ---

TEST(PostgresUserStoreConfigTest, MalformedUrlsAreInvalidArguments) {
    for (const std::string url : {
             "",
             "mysql://user@127.0.0.1/db",
             "127.0.0.1:5432/db",
             "postgresql://user:secret-pw@127.0.0.1:port/db",
             "postgresql://user:secret-pw@127.0.0.1:70000/db",
             "postgresql://user:secret-pw@127.0.0.1:5432/db?colour=blue",
             "postgresql://user:secret-pw@127.0.0.1:5432/db?connect_timeout=soon",
             "postgresql://user:secret-pw@127.0.0.1:5432/db?sslmode",
             "postgresql://user:secret-pw%zz@127.0.0.1:5432/db",
             "postgresql://user:secret pw@127.0.0.1:5432/db",
         }) {
        PostgresConfig config;
        config.url = url;
        try {
            PostgresUserStore users(config);
            ADD_FAILURE() << "accepted " << url;
        } catch (const std::invalid_argument& error) {
            EXPECT_EQ(std::string(error.what()).find("secret"), std::string::npos)
                << "the message shows the password: " << error.what();
        }
    }
}

TEST(PostgresUserStoreConfigTest, ConnectTimeoutIsFiveSecondsUnlessTheUrlSetsOne) {
    const PostgresUrl plain = ParsePostgresUrl("postgresql://app:secret-pw@db.internal:6432/users");
    const PostgresUrl given =
        ParsePostgresUrl("postgres://app@db.internal/users?connect_timeout=30&sslmode=require");

    EXPECT_NE(plain.conninfo.find("connect_timeout='5'"), std::string::npos) << plain.conninfo;
    for (const char* setting : {"host='db.internal'", "port='6432'", "dbname='users'", "user='app'",
                                "password='secret-pw'"}) {
        EXPECT_NE(plain.conninfo.find(setting), std::string::npos) << plain.conninfo;
    }
    EXPECT_EQ(plain.display, "postgresql://app@db.internal:6432/users");
    EXPECT_NE(given.conninfo.find("connect_timeout='30'"), std::string::npos) << given.conninfo;
    EXPECT_EQ(given.conninfo.find("connect_timeout='5'"), std::string::npos) << given.conninfo;
    EXPECT_NE(given.conninfo.find("sslmode='require'"), std::string::npos) << given.conninfo;
}

TEST(PostgresUserStoreConfigTest, APoolWithoutConnectionsIsAnInvalidArgument) {
    PostgresConfig config;
    config.url = "postgresql://user@127.0.0.1:5432/db";
    config.pool_size = 0;

    EXPECT_THROW(PostgresUserStore users(config), std::invalid_argument);
}

TEST(PostgresUserStoreConfigTest, NoServerAtStartIsATransientErrorSayingWhere) {
    const int port = testing::UnusedPort();
    PostgresConfig config;
    config.url = "postgresql://video2mp3:secret-pw@127.0.0.1:" + std::to_string(port) + "/db";

    const std::string message = TransientFailureOf([&] { PostgresUserStore users(config); });

    EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;
    EXPECT_NE(message.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << message;
    EXPECT_EQ(message.find("secret-pw"), std::string::npos) << message;
}

class PostgresRestartTest : public ::testing::Test {
 protected:
    PostgresConfig Config() const {
        PostgresConfig config;
        config.url = server_.Url();
        config.pool_size = 3;
        return config;
    }

    video2mp3::testing::TestServer server_{"postgres"};
};

TEST_F(PostgresRestartTest, CallsFailWhileTheServerIsDownAndWorkOnceItIsBack) {
    PostgresUserStore users(Config());
    ASSERT_TRUE(users.Add("ivy@example.com", "h", false));

    server_.Stop();

    // Not hanging: each call gives up within the connect timeout (5 s), with room to spare.
    const auto started = Clock::now();
    const std::string message = TransientFailureOf([&] { users.FindByEmail("ivy@example.com"); });
    TransientFailureOf([&] { users.Add("jay@example.com", "h", false); });
    TransientFailureOf([&] { users.List(); });
    TransientFailureOf([&] { users.SetPasswordHash("ivy@example.com", "new"); });
    TransientFailureOf([&] { users.Remove("ivy@example.com"); });
    EXPECT_FALSE(users.Ready());
    EXPECT_LT(Clock::now() - started, 30s);
    EXPECT_NE(message.find("127.0.0.1:" + std::to_string(server_.Port())), std::string::npos)
        << message;

    server_.Start();

    EXPECT_TRUE(users.Ready());
    const auto found = users.FindByEmail("ivy@example.com");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->password_hash, "h");
    EXPECT_TRUE(users.Add("jay@example.com", "h", false));
    EXPECT_EQ(users.List().size(), 2u);
}

TEST_F(PostgresRestartTest, ARestartBetweenCallsGoesUnnoticed) {
    PostgresUserStore users(Config());
    ASSERT_TRUE(users.Add("kim@example.com", "h", false));
    ASSERT_TRUE(users.FindByEmail("kim@example.com"));  // leaves an idle connection pooled

    server_.Stop();
    server_.Start();

    // The pooled connection died with the old server; the store notices before using it.
    EXPECT_TRUE(users.FindByEmail("kim@example.com"));
    EXPECT_TRUE(users.Add("lee@example.com", "h", false));
}

TEST_F(PostgresRestartTest, AStoreMadeWhileTheServerIsDownFailsUntilItIsUp) {
    server_.Stop();
    PostgresConfig config = Config();

    const std::string message = TransientFailureOf([&] { PostgresUserStore users(config); });
    EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;

    server_.Start();
    PostgresUserStore users(config);
    EXPECT_TRUE(users.Ready());
}

}  // namespace
}  // namespace video2mp3::adapters
