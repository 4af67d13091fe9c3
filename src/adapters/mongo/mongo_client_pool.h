#pragma once

#include <mongoc/mongoc.h>

#include <string>

#include "adapters/mongo/mongo_handles.h"

namespace video2mp3::adapters {

class MongoClientPool;

/// One client taken from the pool for the length of one operation, given back by the
/// destructor. Used by one thread at a time.
class PooledMongoClient {
 public:
    explicit PooledMongoClient(MongoClientPool& pool);
    ~PooledMongoClient();
    PooledMongoClient(const PooledMongoClient&) = delete;
    PooledMongoClient& operator=(const PooledMongoClient&) = delete;

    mongoc_client_t* Get() const { return client_; }

    /// A collection of the pool's database; valid while this client is held.
    MongoCollectionPtr Collection(const std::string& name) const;

    /// The pool's database; valid while this client is held.
    MongoDatabasePtr Database() const;

 private:
    MongoClientPool& pool_;
    mongoc_client_t* client_;
};

/// A libmongoc client pool for one database, shared by the MongoDB adapters of a process.
///
/// The URI is a standard MongoDB connection string; its path names the database
/// ("video2mp3" when it names none). The pool sets the application name "video2mp3" and,
/// unless the URI sets one, a server selection timeout of 5 seconds, so an operation
/// against a server that is down fails with a transient StorageError within seconds
/// instead of waiting for it. Durability is the URI's business: add
/// `w=majority&journal=true` for writes that survive a failover.
///
/// Thread-safe: every operation pops a client and pushes it back when done, so one pool
/// serves any number of threads (libmongoc's default of at most 100 connections per
/// server). libmongoc is initialised once per process and never cleaned up.
class MongoClientPool {
 public:
    static constexpr const char* kDefaultDatabase = "video2mp3";
    static constexpr int kDefaultServerSelectionTimeoutMs = 5000;

    /// Throws std::invalid_argument naming the problem when the URI is malformed (the
    /// message never repeats the URI, which may hold a password).
    explicit MongoClientPool(const std::string& uri);
    ~MongoClientPool();
    MongoClientPool(const MongoClientPool&) = delete;
    MongoClientPool& operator=(const MongoClientPool&) = delete;

    const std::string& DatabaseName() const { return database_; }

    /// A client for one operation. Blocks while every pooled client is in use.
    PooledMongoClient Pop() { return PooledMongoClient(*this); }

    /// Sends `ping`; throws StorageError when the server does not answer.
    void Ping();

    /// True when the server answers a ping (for /readyz).
    bool Ready();

 private:
    friend class PooledMongoClient;

    MongoPoolPtr pool_;
    std::string database_;
};

}  // namespace video2mp3::adapters
