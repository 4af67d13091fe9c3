#include "adapters/fs/fs_blob_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "adapters/fs/posix_file.h"
#include "adapters/sha256.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/media/file_byte_source.h"
#include "video2mp3/ports/errors.h"

namespace video2mp3::adapters {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kWriteBufferSize = std::size_t{1} << 20;
constexpr const char* kIncomingDir = ".incoming";
constexpr const char* kLockFile = ".lock";
constexpr const char* kMetadataSuffix = ".json";
constexpr mode_t kFileMode = 0644;
constexpr mode_t kDirMode = 0755;

// A full disk or a flaky device may recover; a missing folder or a permission problem will
// fail the same way on every retry.
bool IsTransientErrno(int code) {
    switch (code) {
        case ENOSPC:
        case EDQUOT:
        case EIO:
        case EAGAIN:
        case EINTR:
        case EMFILE:
        case ENFILE:
        case ENOMEM:
        case EBUSY:
            return true;
        default:
            return false;
    }
}

[[noreturn]] void ThrowIo(const fs::path& path, const std::string& action, int code) {
    throw StorageError(path.string() + ": " + action + ": " + std::strerror(code),
                       IsTransientErrno(code));
}

void RequireWellFormed(const std::string& name, const char* what) {
    if (!IsWellFormedId(name)) {
        throw std::invalid_argument(std::string("blob store: ") + what +
                                    " must be 1 to 64 of [0-9a-zA-Z_-]");
    }
}

using posix::OpenFile;
using posix::UniqueFd;

void WriteAll(int fd, const std::byte* data, std::size_t size, const fs::path& path) {
    if (const int code = posix::WriteAll(fd, data, size); code != 0) {
        ThrowIo(path, "write failed", code);
    }
}

void SyncFile(int fd, const fs::path& path) {
    if (::fsync(fd) != 0) {
        ThrowIo(path, "fsync failed", errno);
    }
}

void CloseFile(UniqueFd& file, const fs::path& path) {
    // On Linux the descriptor is released even when close reports EINTR.
    if (::close(file.Release()) != 0 && errno != EINTR) {
        ThrowIo(path, "close failed", errno);
    }
}

void SyncDir(const fs::path& dir) {
    if (const int code = posix::SyncDir(dir); code != 0) {
        ThrowIo(dir, "fsync of the folder failed", code);
    }
}

void MakeDir(const fs::path& dir) {
    if (::mkdir(dir.c_str(), kDirMode) != 0 && errno != EEXIST) {
        ThrowIo(dir, "cannot create folder", errno);
    }
}

void RenameFile(const fs::path& from, const fs::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) {
        ThrowIo(to, "cannot rename " + from.filename().string() + " into place", errno);
    }
}

/// True when `path` exists; throws on any failure other than "no such file".
bool Exists(const fs::path& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0) {
        return true;
    }
    if (errno == ENOENT || errno == ENOTDIR) {
        return false;
    }
    ThrowIo(path, "cannot stat", errno);
}

/// The whole of a small file, or nothing when it does not exist.
std::optional<std::string> ReadSmallFile(const fs::path& path) {
    UniqueFd fd = OpenFile(path, O_RDONLY);
    if (fd.Get() < 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        ThrowIo(path, "cannot open", errno);
    }

    std::string text;
    std::array<char, 4096> chunk{};
    while (true) {
        const ssize_t got = ::read(fd.Get(), chunk.data(), chunk.size());
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            ThrowIo(path, "read failed", errno);
        }
        if (got == 0) {
            return text;
        }
        text.append(chunk.data(), static_cast<std::size_t>(got));
    }
}

void RemoveIfPresent(const fs::path& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        ThrowIo(path, "cannot remove", errno);
    }
}

/// An flock(2) on <bucket>/.lock. Commit and Remove hold it exclusively while they change
/// the pair of files, Stat shares it while it reads them, so nobody sees new metadata next
/// to old content. flock also orders threads of one process, since each lock opens its own
/// file description.
class BucketLock {
 public:
    /// Nothing when the bucket folder does not exist.
    static std::optional<BucketLock> Acquire(const fs::path& bucket_dir, int operation) {
        const fs::path path = bucket_dir / kLockFile;
        UniqueFd fd = OpenFile(path, O_RDWR | O_CREAT, kFileMode);
        if (fd.Get() < 0) {
            if (errno == ENOENT) {
                return std::nullopt;
            }
            ThrowIo(path, "cannot open lock file", errno);
        }
        while (::flock(fd.Get(), operation) != 0) {
            if (errno != EINTR) {
                ThrowIo(path, "cannot lock", errno);
            }
        }
        return BucketLock(std::move(fd));
    }

 private:
    explicit BucketLock(UniqueFd fd) : fd_(std::move(fd)) {}

    UniqueFd fd_;  // closing it releases the lock
};

fs::path MetadataPath(const fs::path& bucket_dir, const std::string& id) {
    return bucket_dir / (id + kMetadataSuffix);
}

std::int64_t NowMs() {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
}

class FsBlobWriter final : public BlobWriter {
 public:
    FsBlobWriter(fs::path bucket_dir, std::string id, std::string filename,
                 std::string content_type)
        : bucket_dir_(std::move(bucket_dir)),
          id_(std::move(id)),
          filename_(std::move(filename)),
          content_type_(std::move(content_type)) {
        incoming_path_ = bucket_dir_ / kIncomingDir / (id_ + "." + RandomId());
        fd_ = OpenFile(incoming_path_, O_WRONLY | O_CREAT | O_EXCL, kFileMode);
        if (fd_.Get() < 0) {
            ThrowIo(incoming_path_, "cannot create", errno);
        }
    }

    ~FsBlobWriter() override {
        if (state_ != State::kCommitted) {
            Discard();
        }
    }

    FsBlobWriter(const FsBlobWriter&) = delete;
    FsBlobWriter& operator=(const FsBlobWriter&) = delete;

    void Write(std::span<const std::byte> bytes) override {
        RequireOpen();

        try {
            hash_.Update(bytes);
            size_ += bytes.size();

            if (buffer_.size() + bytes.size() > kWriteBufferSize) {
                Flush();
            }
            if (bytes.size() >= kWriteBufferSize) {
                WriteAll(fd_.Get(), bytes.data(), bytes.size(), incoming_path_);
                return;
            }
            if (buffer_.capacity() < kWriteBufferSize) {
                buffer_.reserve(kWriteBufferSize);
            }
            buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
        } catch (...) {
            state_ = State::kFailed;
            throw;
        }
    }

    BlobInfo Commit() override {
        RequireOpen();

        try {
            BlobInfo info = Finish();
            state_ = State::kCommitted;
            return info;
        } catch (...) {
            state_ = State::kFailed;
            throw;
        }
    }

    std::uint64_t Size() const override { return size_; }

 private:
    enum class State { kOpen, kFailed, kCommitted };

    void RequireOpen() const {
        if (state_ == State::kCommitted) {
            throw std::logic_error("blob writer: already committed");
        }
        if (state_ == State::kFailed) {
            throw StorageError(incoming_path_.string() + ": an earlier write failed", false);
        }
    }

    void Flush() {
        WriteAll(fd_.Get(), buffer_.data(), buffer_.size(), incoming_path_);
        buffer_.clear();
    }

    BlobInfo Finish() {
        Flush();
        SyncFile(fd_.Get(), incoming_path_);
        CloseFile(fd_, incoming_path_);

        BlobInfo info{id_, size_, hash_.HexDigest(), filename_, content_type_};
        WriteMetadata(info);

        const fs::path content_path = bucket_dir_ / id_;
        {
            const std::optional<BucketLock> lock = BucketLock::Acquire(bucket_dir_, LOCK_EX);
            if (!lock) {
                ThrowIo(bucket_dir_, "cannot commit", ENOENT);
            }
            // A sweep may have taken the data of a writer that paused too long; checking
            // first keeps its metadata from landing beside an older blob's content.
            if (!Exists(incoming_path_)) {
                ThrowIo(incoming_path_, "removed before commit", ENOENT);
            }
            // Metadata first: content present means committed, so a crash in between leaves
            // metadata that Stat ignores and the sweep removes.
            RenameFile(metadata_temp_path_, MetadataPath(bucket_dir_, id_));
            RenameFile(incoming_path_, content_path);
            SyncDir(bucket_dir_);
        }
        return info;
    }

    void WriteMetadata(const BlobInfo& info) {
        const nlohmann::json metadata = {
            {"size", info.size},         {"sha256", info.sha256},
            {"filename", info.filename}, {"content_type", info.content_type},
            {"created_at_ms", NowMs()},
        };
        // The filename comes from an upload and may not be valid UTF-8.
        const std::string text =
            metadata.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";

        metadata_temp_path_ = incoming_path_;
        metadata_temp_path_ += kMetadataSuffix;
        UniqueFd fd = OpenFile(metadata_temp_path_, O_WRONLY | O_CREAT | O_EXCL, kFileMode);
        if (fd.Get() < 0) {
            ThrowIo(metadata_temp_path_, "cannot create", errno);
        }
        WriteAll(fd.Get(), reinterpret_cast<const std::byte*>(text.data()), text.size(),
                 metadata_temp_path_);
        SyncFile(fd.Get(), metadata_temp_path_);
        CloseFile(fd, metadata_temp_path_);
    }

    void Discard() noexcept {
        fd_.Reset();
        ::unlink(incoming_path_.c_str());
        if (!metadata_temp_path_.empty()) {
            ::unlink(metadata_temp_path_.c_str());
        }
    }

    fs::path bucket_dir_;
    std::string id_;
    std::string filename_;
    std::string content_type_;
    fs::path incoming_path_;
    fs::path metadata_temp_path_;
    UniqueFd fd_;
    std::vector<std::byte> buffer_;
    Sha256 hash_;
    std::uint64_t size_ = 0;
    State state_ = State::kOpen;
};

BlobInfo ParseMetadata(const std::string& id, const std::string& text, const fs::path& path) {
    const nlohmann::json metadata = nlohmann::json::parse(text, nullptr, false);
    if (metadata.is_discarded() || !metadata.is_object()) {
        throw StorageError(path.string() + ": metadata is not a JSON object", false);
    }
    try {
        return BlobInfo{id, metadata.at("size").get<std::uint64_t>(),
                        metadata.at("sha256").get<std::string>(),
                        metadata.value("filename", std::string()),
                        metadata.value("content_type", std::string())};
    } catch (const nlohmann::json::exception& error) {
        throw StorageError(path.string() + ": bad metadata: " + error.what(), false);
    }
}

/// Removes the regular files directly in `dir` last written before `cutoff`.
int RemoveOlderThan(const fs::path& dir, fs::file_time_type cutoff) {
    int removed = 0;
    std::error_code error;
    fs::directory_iterator entries(dir, error);
    if (error == std::errc::no_such_file_or_directory) {
        return 0;
    }
    for (; !error && entries != fs::directory_iterator(); entries.increment(error)) {
        const fs::path& path = entries->path();
        std::error_code stat_error;
        const fs::file_time_type written = fs::last_write_time(path, stat_error);
        if (stat_error || written >= cutoff) {
            continue;  // gone already, or still young
        }
        if (::unlink(path.c_str()) == 0) {
            ++removed;
        } else if (errno != ENOENT) {
            ThrowIo(path, "cannot remove", errno);
        }
    }
    if (error) {
        ThrowIo(dir, "cannot list", error.value());
    }
    return removed;
}

/// Removes <id>.json files with no content beside them: a crash between the two renames of
/// Commit. `cutoff` keeps clear of a commit in progress.
int RemoveOrphanMetadata(const fs::path& bucket_dir, fs::file_time_type cutoff) {
    const std::optional<BucketLock> lock = BucketLock::Acquire(bucket_dir, LOCK_EX);
    if (!lock) {
        return 0;
    }

    int removed = 0;
    std::error_code error;
    fs::directory_iterator entries(bucket_dir, error);
    for (; !error && entries != fs::directory_iterator(); entries.increment(error)) {
        const fs::path& path = entries->path();
        if (path.extension() != kMetadataSuffix || !IsWellFormedId(path.stem().string())) {
            continue;
        }
        std::error_code stat_error;
        const fs::file_time_type written = fs::last_write_time(path, stat_error);
        if (stat_error || written >= cutoff || Exists(bucket_dir / path.stem())) {
            continue;
        }
        if (::unlink(path.c_str()) == 0) {
            ++removed;
        } else if (errno != ENOENT) {
            ThrowIo(path, "cannot remove", errno);
        }
    }
    if (error) {
        ThrowIo(bucket_dir, "cannot list", error.value());
    }
    return removed;
}

}  // namespace

FsBlobStore::FsBlobStore(std::filesystem::path root) : root_(std::move(root)) {
    if (root_.empty()) {
        throw std::invalid_argument("blob store: the data folder path is empty");
    }
    if (sodium_init() < 0) {
        throw StorageError("libsodium could not be initialised", false);
    }

    std::error_code error;
    fs::create_directories(root_, error);
    if (error) {
        ThrowIo(root_, "cannot create folder", error.value());
    }
}

std::unique_ptr<BlobWriter> FsBlobStore::Create(const std::string& bucket, const std::string& id,
                                                const std::string& filename,
                                                const std::string& content_type) {
    RequireWellFormed(bucket, "bucket name");
    if (!id.empty()) {
        RequireWellFormed(id, "blob id");
    }
    const std::string blob_id = id.empty() ? RandomId() : id;

    const fs::path bucket_dir = BucketDir(bucket);
    MakeDir(bucket_dir);
    MakeDir(bucket_dir / kIncomingDir);

    return std::make_unique<FsBlobWriter>(bucket_dir, blob_id, filename, content_type);
}

std::unique_ptr<media::ByteSource> FsBlobStore::Open(const std::string& bucket,
                                                     const std::string& id) {
    RequireWellFormed(bucket, "bucket name");
    RequireWellFormed(id, "blob id");
    const fs::path path = BucketDir(bucket) / id;

    if (!Exists(path)) {
        return nullptr;
    }

    try {
        return std::make_unique<media::FileByteSource>(path);
    } catch (const media::ByteSourceError& error) {
        if (!Exists(path)) {
            return nullptr;  // removed between the check and the open
        }
        throw StorageError(error.what());
    }
}

std::optional<BlobInfo> FsBlobStore::Stat(const std::string& bucket, const std::string& id) {
    RequireWellFormed(bucket, "bucket name");
    RequireWellFormed(id, "blob id");
    const fs::path bucket_dir = BucketDir(bucket);

    const std::optional<BucketLock> lock = BucketLock::Acquire(bucket_dir, LOCK_SH);
    if (!lock || !Exists(bucket_dir / id)) {
        return std::nullopt;
    }

    const fs::path metadata_path = MetadataPath(bucket_dir, id);
    const std::optional<std::string> text = ReadSmallFile(metadata_path);
    if (!text) {
        throw StorageError(metadata_path.string() + ": metadata missing for committed content",
                           false);
    }
    return ParseMetadata(id, *text, metadata_path);
}

bool FsBlobStore::Remove(const std::string& bucket, const std::string& id) {
    RequireWellFormed(bucket, "bucket name");
    RequireWellFormed(id, "blob id");
    const fs::path bucket_dir = BucketDir(bucket);

    const std::optional<BucketLock> lock = BucketLock::Acquire(bucket_dir, LOCK_EX);
    if (!lock) {
        return false;
    }

    // Content first: without it the blob is gone, and stray metadata is harmless.
    const fs::path content_path = bucket_dir / id;
    bool existed = true;
    if (::unlink(content_path.c_str()) != 0) {
        if (errno != ENOENT) {
            ThrowIo(content_path, "cannot remove", errno);
        }
        existed = false;
    }
    RemoveIfPresent(MetadataPath(bucket_dir, id));
    return existed;
}

int FsBlobStore::SweepIncomplete(std::chrono::seconds grace) {
    if (grace.count() < 0) {
        throw std::invalid_argument("blob store: sweep grace period is negative");
    }
    const fs::file_time_type cutoff = fs::file_time_type::clock::now() - grace;

    int removed = 0;
    std::error_code error;
    fs::directory_iterator buckets(root_, error);
    for (; !error && buckets != fs::directory_iterator(); buckets.increment(error)) {
        const fs::path& bucket_dir = buckets->path();
        std::error_code type_error;
        if (!IsWellFormedId(bucket_dir.filename().string()) || !buckets->is_directory(type_error)) {
            continue;
        }
        removed += RemoveOlderThan(bucket_dir / kIncomingDir, cutoff);
        removed += RemoveOrphanMetadata(bucket_dir, cutoff);
    }
    if (error) {
        ThrowIo(root_, "cannot list", error.value());
    }
    return removed;
}

bool FsBlobStore::Ready() {
    struct stat info {};
    if (::stat(root_.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
        return false;
    }
    return ::access(root_.c_str(), W_OK | X_OK) == 0;
}

std::filesystem::path FsBlobStore::BucketDir(const std::string& bucket) const {
    return root_ / bucket;
}

}  // namespace video2mp3::adapters
