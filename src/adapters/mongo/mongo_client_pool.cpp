#include "adapters/mongo/mongo_client_pool.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <stdexcept>

#include "adapters/mongo/mongo_error.h"

namespace video2mp3::adapters {

namespace {

constexpr const char* kAppName = "video2mp3";

std::shared_ptr<spdlog::logger> MongoLogger() {
    static const std::shared_ptr<spdlog::logger> logger = [] {
        auto existing = spdlog::get("mongo");
        return existing ? existing : spdlog::stderr_color_mt("mongo");
    }();
    return logger;
}

// libmongoc's own messages (connection trouble, deprecations) go to the "mongo" logger
// instead of straight to stderr.
void ForwardMongocLog(mongoc_log_level_t level, const char* domain, const char* message,
                      void* /*user_data*/) {
    try {
        switch (level) {
            case MONGOC_LOG_LEVEL_ERROR:
            case MONGOC_LOG_LEVEL_CRITICAL:
                MongoLogger()->error("libmongoc {}: {}", domain, message);
                break;
            case MONGOC_LOG_LEVEL_WARNING:
                MongoLogger()->warn("libmongoc {}: {}", domain, message);
                break;
            default:
                MongoLogger()->debug("libmongoc {}: {}", domain, message);
                break;
        }
    } catch (...) {
        // Logging never throws into libmongoc's C frames.
    }
}

void InitMongocOnce() {
    static std::once_flag once;
    std::call_once(once, [] {
        MongoLogger();
        mongoc_log_set_handler(&ForwardMongocLog, nullptr);
        mongoc_init();
    });
}

}  // namespace

PooledMongoClient::PooledMongoClient(MongoClientPool& pool)
    : pool_(pool), client_(mongoc_client_pool_pop(pool.pool_.get())) {}

PooledMongoClient::~PooledMongoClient() {
    mongoc_client_pool_push(pool_.pool_.get(), client_);
}

MongoCollectionPtr PooledMongoClient::Collection(const std::string& name) const {
    return MongoCollectionPtr(
        mongoc_client_get_collection(client_, pool_.DatabaseName().c_str(), name.c_str()));
}

MongoDatabasePtr PooledMongoClient::Database() const {
    return MongoDatabasePtr(mongoc_client_get_database(client_, pool_.DatabaseName().c_str()));
}

MongoClientPool::MongoClientPool(const std::string& uri_text) {
    InitMongocOnce();

    bson_error_t error;
    MongoUriPtr uri(mongoc_uri_new_with_error(uri_text.c_str(), &error));
    if (!uri) {
        throw std::invalid_argument(std::string("MongoDB URI: ") + error.message);
    }

    const char* database = mongoc_uri_get_database(uri.get());
    database_ = database != nullptr && *database != '\0' ? database : kDefaultDatabase;

    if (!mongoc_uri_has_option(uri.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS)) {
        mongoc_uri_set_option_as_int32(uri.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                       kDefaultServerSelectionTimeoutMs);
    }
    if (mongoc_uri_get_appname(uri.get()) == nullptr) {
        mongoc_uri_set_appname(uri.get(), kAppName);
    }

    pool_.reset(mongoc_client_pool_new_with_error(uri.get(), &error));
    if (!pool_) {
        throw std::invalid_argument(std::string("MongoDB URI: ") + error.message);
    }
    mongoc_client_pool_set_error_api(pool_.get(), MONGOC_ERROR_API_VERSION_2);

    std::string hosts;
    for (const mongoc_host_list_t* host = mongoc_uri_get_hosts(uri.get()); host != nullptr;
         host = host->next) {
        hosts += (hosts.empty() ? "" : ",") + std::string(host->host_and_port);
    }
    MongoLogger()->info("mongo: client pool for database {} on {}", database_,
                        hosts.empty() ? "a DNS seed list" : hosts);
}

MongoClientPool::~MongoClientPool() = default;

void MongoClientPool::Ping() {
    const PooledMongoClient client = Pop();
    BsonPtr command(BCON_NEW("ping", BCON_INT32(1)));
    BsonReply reply;
    bson_error_t error;

    if (!mongoc_client_command_simple(client.Get(), "admin", command.get(), nullptr, reply.Get(),
                                      &error)) {
        ThrowMongoError("ping", error, reply.Get());
    }
}

bool MongoClientPool::Ready() {
    try {
        Ping();
        return true;
    } catch (const std::exception& error) {
        MongoLogger()->debug("mongo: not ready: {}", error.what());
        return false;
    }
}

}  // namespace video2mp3::adapters
