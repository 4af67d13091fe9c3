#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/metrics.h"
#include "video2mp3/ports/authenticator.h"
#include "video2mp3/ports/blob_store.h"
#include "video2mp3/ports/job_queue.h"
#include "video2mp3/ports/job_store.h"

namespace video2mp3::gateway {

/// A route the server answers: the method and the path as the API description writes it
/// (`/jobs/{id}` for a path with a parameter).
struct Route {
    std::string method;
    std::string path;

    bool operator==(const Route&) const = default;
};

struct GatewayConfig {
    std::uint64_t max_upload_bytes = 2ULL << 30;  ///< VIDEO2MP3_MAX_UPLOAD_BYTES
    std::string public_url;  ///< base for download_url; empty: from each request's Host
    /// Proxies of our own in front of the gateway (a Kubernetes Ingress: 1), whose
    /// X-Forwarded-For entries name the client for login throttling. 0: the peer's address.
    int trusted_proxy_hops = 0;
};

/// The public HTTP API: login, upload, jobs, download, health and metrics, plus the web page
/// (`/`) and the API description (`/openapi.yaml`, `/docs`). Every request but /login,
/// /limits, /healthz, /readyz, /metrics and the page's files needs a bearer token; every
/// object is checked
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

    /// Every route this server answers, in the order they were registered; the API
    /// description (web/openapi.yaml) lists exactly these.
    const std::vector<Route>& Routes() const { return routes_; }

 private:
    void Login(const httplib::Request& request, httplib::Response& response);
    void Upload(const httplib::Request& request, httplib::Response& response,
                const httplib::ContentReader& reader);
    void ListJobs(const httplib::Request& request, httplib::Response& response);
    void GetJob(const httplib::Request& request, httplib::Response& response);
    void DeleteJob(const httplib::Request& request, httplib::Response& response);
    void Download(const httplib::Request& request, httplib::Response& response);
    void Ready(const httplib::Request& request, httplib::Response& response);
    void Limits(const httplib::Request& request, httplib::Response& response);

    using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
    /// Records METHOD PATH in Routes() (Handle does it; Upload registers by hand).
    void Record(const std::string& method, const std::string& path);
    /// Registers `handler` for METHOD PATH (PATH as in the API description) and records it.
    void Handle(const std::string& method, const std::string& path, Handler handler);
    /// Serves the embedded web file `name` at PATH.
    void ServeWebFile(const std::string& path, std::string_view name);
    /// The methods PATH answers ("GET, DELETE"), for 405 replies; empty for an unknown path.
    std::string AllowedMethods(const std::string& path) const;
    /// The route PATH belongs to, as a low-cardinality metrics label ("other" for none).
    std::string RouteOf(const std::string& path) const;

    /// The caller's claims, or nothing after answering 401 (or 503 when the auth service
    /// cannot be asked).
    std::optional<Claims> Authenticate(const httplib::Request& request,
                                       httplib::Response& response);

    /// The job when the caller may see it; otherwise nothing, after answering 404.
    std::optional<Job> OwnedJob(const Claims& claims, const std::string& id,
                                httplib::Response& response);

    nlohmann::json JobJson(const Job& job, const httplib::Request& request) const;

    GatewayConfig config_;
    Authenticator& auth_;
    BlobStore& blobs_;
    JobStore& jobs_;
    JobQueue& queue_;
    Metrics& metrics_;
    std::atomic<bool> draining_{false};
    std::vector<Route> routes_;
    std::vector<std::regex> route_patterns_;  ///< routes_[i]'s path as a regex
    httplib::Server server_;
};

}  // namespace video2mp3::gateway
