#pragma once

#include <mongoc/mongoc.h>

#include <memory>
#include <utility>

namespace video2mp3::adapters {

/// Owners for libmongoc and libbson handles, so none leaks on an exception path.
struct MongoHandleDeleter {
    void operator()(mongoc_uri_t* uri) const { mongoc_uri_destroy(uri); }
    void operator()(mongoc_client_pool_t* pool) const { mongoc_client_pool_destroy(pool); }
    void operator()(mongoc_collection_t* collection) const {
        mongoc_collection_destroy(collection);
    }
    void operator()(mongoc_database_t* database) const { mongoc_database_destroy(database); }
    void operator()(mongoc_cursor_t* cursor) const { mongoc_cursor_destroy(cursor); }
};

using MongoUriPtr = std::unique_ptr<mongoc_uri_t, MongoHandleDeleter>;
using MongoPoolPtr = std::unique_ptr<mongoc_client_pool_t, MongoHandleDeleter>;
using MongoCollectionPtr = std::unique_ptr<mongoc_collection_t, MongoHandleDeleter>;
using MongoDatabasePtr = std::unique_ptr<mongoc_database_t, MongoHandleDeleter>;
using MongoCursorPtr = std::unique_ptr<mongoc_cursor_t, MongoHandleDeleter>;

/// Owns a BSON document made with bson_new() or BCON_NEW(). (Not a std::unique_ptr:
/// bson_t carries an alignment attribute that a template argument would drop.)
class BsonPtr {
 public:
    explicit BsonPtr(bson_t* document) : document_(document) {}
    ~BsonPtr() {
        if (document_ != nullptr) {
            bson_destroy(document_);
        }
    }
    BsonPtr(BsonPtr&& other) noexcept : document_(std::exchange(other.document_, nullptr)) {}
    BsonPtr& operator=(BsonPtr&& other) noexcept {
        std::swap(document_, other.document_);
        return *this;
    }
    BsonPtr(const BsonPtr&) = delete;
    BsonPtr& operator=(const BsonPtr&) = delete;

    bson_t* get() const { return document_; }
    bson_t& operator*() const { return *document_; }

 private:
    bson_t* document_;
};

/// A reply document that libmongoc fills in (it initialises it even on failure), destroyed
/// on scope exit.
class BsonReply {
 public:
    BsonReply() { bson_init(&document_); }
    ~BsonReply() { bson_destroy(&document_); }
    BsonReply(const BsonReply&) = delete;
    BsonReply& operator=(const BsonReply&) = delete;

    bson_t* Get() { return &document_; }
    const bson_t* Get() const { return &document_; }

 private:
    bson_t document_;
};

}  // namespace video2mp3::adapters
