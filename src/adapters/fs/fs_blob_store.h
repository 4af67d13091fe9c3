#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "video2mp3/ports/blob_store.h"

namespace video2mp3::adapters {

/// BlobStore over a local data folder, for a single machine (any number of processes).
///
/// Layout, with bucket names and ids that pass IsWellFormedId (so nothing on disk is ever
/// named from user input):
///   <root>/<bucket>/<id>                      the content; its presence means "committed"
///   <root>/<bucket>/<id>.json                 size, sha256, filename, content_type,
///                                             created_at_ms
///   <root>/<bucket>/.incoming/<id>.<random>   a writer's data until Commit
///   <root>/<bucket>/.lock                     flock(2) that orders commits, Stat and Remove
///
/// A crash leaves either the old state or files under .incoming that SweepIncomplete
/// removes once they are older than its grace period. Thread-safe, and safe across
/// processes sharing the folder. Bad bucket names or ids throw std::invalid_argument; I/O
/// failures throw StorageError carrying strerror's text (transient for ENOSPC, EDQUOT, EIO
/// and resource exhaustion, permanent otherwise).
class FsBlobStore final : public BlobStore {
 public:
    /// Creates `root` (and its parents) when missing; throws StorageError when it cannot.
    explicit FsBlobStore(std::filesystem::path root);

    /// The writer streams through a buffer of at most 1 MiB and hashes with SHA-256 as it
    /// goes. It is used by one thread at a time and must not outlive the store's folder.
    std::unique_ptr<BlobWriter> Create(const std::string& bucket, const std::string& id,
                                       const std::string& filename,
                                       const std::string& content_type) override;

    /// A media::FileByteSource over the committed content, or nullptr.
    std::unique_ptr<media::ByteSource> Open(const std::string& bucket,
                                            const std::string& id) override;

    std::optional<BlobInfo> Stat(const std::string& bucket, const std::string& id) override;

    bool Remove(const std::string& bucket, const std::string& id) override;

    /// Removes .incoming files whose last write is older than `grace`, and metadata left
    /// without content by a crash in the middle of Commit. A live writer touches its file
    /// at least once per MiB, so `grace` must exceed the longest pause between writes.
    int SweepIncomplete(std::chrono::seconds grace) override;

    /// True when the root is a folder this process can write to.
    bool Ready() override;

    const std::filesystem::path& Root() const { return root_; }

 private:
    std::filesystem::path BucketDir(const std::string& bucket) const;

    std::filesystem::path root_;
};

}  // namespace video2mp3::adapters
