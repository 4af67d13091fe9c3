#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "gateway/metrics.h"
#include "video2mp3/ports/authenticator.h"
#include "video2mp3/ports/blob_store.h"
#include "video2mp3/ports/job_queue.h"
#include "video2mp3/ports/job_store.h"

namespace video2mp3::gateway {

struct GatewayConfig {
    std::uint64_t max_upload_bytes = 2ULL << 30;  ///< VIDEO2MP3_MAX_UPLOAD_BYTES
    std::string public_url;                       ///< base for download_url; empty: relative
};

/// The public HTTP API: login, upload, jobs, download, health and metrics. Every request
/// but /login, /healthz, /readyz and /metrics needs a bearer token; every object is checked
/// against its owner, and another user's object answers exactly as a missing one does.
/// Errors are JSON `{"error": "..."}` with a reason a person can read.
///
/// Uploads are streamed into the blob store as they arrive (memory does not grow with the
/// upload), and a job is accepted (202) only once its message is safely on the queue.
class Gateway {
 public:
    Gateway(GatewayConfig config, Authenticator& auth, BlobStore& blobs, JobStore& jobs,
            JobQueue& queue, Metrics& metrics);

    /// Binds the listening socket; port 0 picks a free one. Returns the port. Throws
    /// std::runtime_error when the address cannot be bound.
    int Bind(const std::string& host, int port);

    /// The base of download links, once the bound port is known.
    void SetPublicUrl(std::string url);

    /// Serves until Stop(); requests in flight are finished first.
    void Serve();

    /// Stops taking connections; thread-safe, may be called from any thread.
    void Stop();

    /// From now on /readyz answers 503 ("draining"), so load balancers stop sending new
    /// requests while those in flight finish. Thread-safe.
    void SetDraining() { draining_ = true; }

 private:
    void Login(const httplib::Request& request, httplib::Response& response);
    void Upload(const httplib::Request& request, httplib::Response& response,
                const httplib::ContentReader& reader);
    void ListJobs(const httplib::Request& request, httplib::Response& response);
    void GetJob(const httplib::Request& request, httplib::Response& response);
    void DeleteJob(const httplib::Request& request, httplib::Response& response);
    void Download(const httplib::Request& request, httplib::Response& response);
    void Ready(const httplib::Request& request, httplib::Response& response);

    /// The caller's claims, or nothing after answering 401 (or 503 when the auth service
    /// cannot be asked).
    std::optional<Claims> Authenticate(const httplib::Request& request,
                                       httplib::Response& response);

    /// The job when the caller may see it; otherwise nothing, after answering 404.
    std::optional<Job> OwnedJob(const Claims& claims, const std::string& id,
                                httplib::Response& response);

    nlohmann::json JobJson(const Job& job) const;

    GatewayConfig config_;
    Authenticator& auth_;
    BlobStore& blobs_;
    JobStore& jobs_;
    JobQueue& queue_;
    Metrics& metrics_;
    std::atomic<bool> draining_{false};
    httplib::Server server_;
};

}  // namespace video2mp3::gateway
