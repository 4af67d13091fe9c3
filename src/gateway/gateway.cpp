#include "gateway/gateway.h"

#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <span>
#include <stdexcept>
#include <string_view>

#include "gateway/http_common.h"
#include "gateway/web_assets.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/errors.h"
#include "workers/job_message.h"

namespace video2mp3::gateway {

namespace {

constexpr std::size_t kMaxFormFieldBytes = 64 * 1024;
constexpr std::size_t kMaxMultipartOverhead = 1024 * 1024;
constexpr int kDefaultPage = 20;
constexpr int kMaxPage = 100;
constexpr std::size_t kHttpThreads = 64;
constexpr int kAuthRetryAfterSeconds = 5;

/// The client's file name as metadata: no folders, no control characters, at most 255
/// bytes. Never used to name anything on disk.
std::string CleanFilename(std::string name) {
    const auto slash = name.find_last_of("/\\");
    if (slash != std::string::npos) {
        name.erase(0, slash + 1);
    }
    std::string clean;
    for (char c : name) {
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) {
            clean += c;
        }
    }
    if (clean.size() > 255) {
        // Keep the extension; cut the rest at a UTF-8 character boundary.
        const auto dot = clean.rfind('.');
        const std::string extension =
            dot != std::string::npos && clean.size() - dot <= 16 ? clean.substr(dot) : "";
        std::size_t cut = 255 - extension.size();
        while (cut > 0 && (static_cast<unsigned char>(clean[cut]) & 0xC0) == 0x80) {
            --cut;
        }
        clean = clean.substr(0, cut) + extension;
    }
    if (clean == "." || clean == "..") {
        clean.clear();
    }
    return clean;
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` for a name with .mp3.
std::string ContentDisposition(const std::string& original) {
    std::filesystem::path name = original.empty() ? "audio" : original;
    name.replace_extension(".mp3");
    const std::string full = name.filename().string();

    std::string ascii;
    std::string encoded;
    for (unsigned char c : full) {
        ascii += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? static_cast<char>(c) : '_';
        if (std::isalnum(c) || c == '.' || c == '-' || c == '_') {
            encoded += static_cast<char>(c);
        } else {
            encoded += fmt::format("%{:02X}", c);
        }
    }
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

/// A path of the API description as a regex: each `{name}` matches one path segment, every
/// other character only itself (so `/app.js` is not also `/appXjs`).
std::string PathRegex(const std::string& path) {
    std::string regex;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '{') {
            const auto close = path.find('}', i);
            if (close != std::string::npos) {
                regex += "([^/]+)";
                i = close;
                continue;
            }
        }
        if (std::string_view(R"(\^$.|?*+()[]{})").find(path[i]) != std::string_view::npos) {
            regex += '\\';
        }
        regex += path[i];
    }
    return regex;
}

/// A multipart file name as browsers send it: the WHATWG form encoding writes `"`, CR and LF
/// as %22, %0D and %0A (and nothing else), so those three are read back.
std::string FormFilename(const std::string& sent) {
    std::string name;
    for (std::size_t i = 0; i < sent.size(); ++i) {
        if (sent[i] == '%' && i + 2 < sent.size()) {
            const std::string code = sent.substr(i + 1, 2);
            if (code == "22" || code == "0D" || code == "0d" || code == "0A" || code == "0a") {
                name += static_cast<char>(std::stoi(code, nullptr, 16));
                i += 2;
                continue;
            }
        }
        name += sent[i];
    }
    return name;
}

/// Headers for the page's files: they load nothing from elsewhere and run no inline code,
/// and no other site may frame them.
void SetPageHeaders(httplib::Response& response) {
    response.set_header("Content-Security-Policy",
                        "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    response.set_header("Referrer-Policy", "no-referrer");
    response.set_header("Cache-Control", "no-cache");
}

/// The auth service (or the user store behind it) failed: the client may try again soon.
void ReplyAuthUnavailable(const httplib::Request& request, httplib::Response& response,
                          const PortError& error) {
    spdlog::error("gateway: {} {}: {}", request.method, request.path, error.what());
    response.set_header("Retry-After", std::to_string(kAuthRetryAfterSeconds));
    ReplyError(response, 503, "the auth service is unavailable, try again shortly");
}

int ParseInt(const std::string& text, int fallback) {
    try {
        std::size_t used = 0;
        const int value = std::stoi(text, &used);
        return used == text.size() ? value : fallback;
    } catch (const std::exception&) {
        return fallback;
    }
}

}  // namespace

Gateway::Gateway(GatewayConfig config, Authenticator& auth, BlobStore& blobs, JobStore& jobs,
                 JobQueue& queue, Metrics& metrics)
    : config_(std::move(config)),
      auth_(auth),
      blobs_(blobs),
      jobs_(jobs),
      queue_(queue),
      metrics_(metrics) {
    while (!config_.public_url.empty() && config_.public_url.back() == '/') {
        config_.public_url.pop_back();
    }

    // A body larger than the limit plus room for multipart headers is refused before it
    // is read; the upload handler counts the file's own bytes exactly.
    server_.set_payload_max_length(config_.max_upload_bytes + kMaxMultipartOverhead);
    server_.set_read_timeout(std::chrono::seconds(15));
    server_.set_write_timeout(std::chrono::seconds(30));
    server_.set_keep_alive_timeout(5);
    // Every answer, JSON and MP3s included, is taken as the type it says it is.
    server_.set_default_headers({{"X-Content-Type-Options", "nosniff"}});
    // httplib's default pool has 8 threads, so 8 idle or slow connections would stall
    // everyone; uploads and downloads hold a thread for their whole transfer.
    server_.new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
    // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which lets a second
    // server bind the same port and silently share its connections.
    ReuseAddressOnly(server_);

    // Answered before the body is read: the seed's `curl -X POST -u EMAIL:PASSWORD .../login`
    // sends neither a body nor a Content-Length, which httplib would otherwise refuse.
    server_.set_pre_routing_handler([this](const auto& rq, auto& rs) {
        // httplib would cut any answer to the request's Range after the handler: only
        // /download serves ranges (it settles them itself); everywhere else they are ignored,
        // as RFC 9110 allows, so a JSON answer is never cut. The Request is httplib's own
        // mutable object, handed to handlers as const.
        if (rq.path != "/download") {
            const_cast<httplib::Request&>(rq).ranges.clear();
        }
        if (rq.path == "/login" && rq.method == "POST") {
            Login(rq, rs);
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    Handle("POST", "/login", [this](const auto& rq, auto& rs) { Login(rq, rs); });
    // Streamed: the body goes into the blob store as it arrives.
    Record("POST", "/upload");
    server_.Post("/upload",
                 [this](const auto& rq, auto& rs, const auto& reader) { Upload(rq, rs, reader); });
    Handle("GET", "/jobs", [this](const auto& rq, auto& rs) { ListJobs(rq, rs); });
    Handle("GET", "/jobs/{id}", [this](const auto& rq, auto& rs) { GetJob(rq, rs); });
    Handle("DELETE", "/jobs/{id}", [this](const auto& rq, auto& rs) { DeleteJob(rq, rs); });
    Handle("GET", "/download", [this](const auto& rq, auto& rs) { Download(rq, rs); });
    Handle("GET", "/limits", [this](const auto& rq, auto& rs) { Limits(rq, rs); });
    Handle("GET", "/healthz", [](const auto&, auto& rs) { rs.set_content("ok\n", "text/plain"); });
    Handle("GET", "/readyz", [this](const auto& rq, auto& rs) { Ready(rq, rs); });
    Handle("GET", "/metrics", [this](const auto&, auto& rs) {
        rs.set_content(metrics_.Render(), "text/plain; version=0.0.4");
    });

    // The web page and the API description, from the files compiled into the binary.
    for (const WebFile& file : EmbeddedWebFiles()) {
        const std::string name(file.name);
        if (name == "index.html") {
            ServeWebFile("/", name);
        } else if (name == "docs.html") {
            ServeWebFile("/docs", name);
        } else {
            ServeWebFile("/" + name, name);
        }
    }
    Handle("GET", "/openapi.json", [](const auto&, auto& rs) {
        rs.set_content(OpenApiDocument().dump(2), "application/json");
    });

    server_.set_error_handler([this](const httplib::Request& request, httplib::Response& response) {
        const std::string allowed = AllowedMethods(request.path);
        if (response.body.empty() && !allowed.empty() &&
            allowed.find(request.method) == std::string::npos) {
            response.set_header("Allow", allowed);
            ReplyError(response, 405, request.method + " is not allowed here; use " + allowed);
            return;
        }
        if (response.body.empty()) {
            const std::string reason = response.status == 404   ? "no such endpoint"
                                       : response.status == 413 ? "the upload is too large"
                                       : response.status == 416 ? "the range cannot be served"
                                                                : "bad request";
            ReplyError(response, response.status,
                       reason + (response.status == 404 ? ": " + request.path : ""));
        }
    });
    server_.set_exception_handler([](const httplib::Request& request, httplib::Response& response,
                                     std::exception_ptr failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const PortError& error) {
            spdlog::error("gateway: {} {}: {}", request.method, request.path, error.what());
            if (error.Transient()) {
                ReplyError(response, 503, "storage is unavailable, please try again shortly");
                return;
            }
        } catch (const std::exception& error) {
            spdlog::error("gateway: {} {}: {}", request.method, request.path, error.what());
        } catch (...) {
            spdlog::error("gateway: {} {}: unknown exception", request.method, request.path);
        }
        ReplyError(response, 500, "internal error");
    });
    server_.set_logger([this](const httplib::Request& request, const httplib::Response& response) {
        metrics_.CountRequest(RouteOf(request.path), response.status);
        spdlog::debug("gateway: {} {} -> {}", request.method, request.path, response.status);
    });
}

void Gateway::Record(const std::string& method, const std::string& path) {
    routes_.push_back({method, path});
    route_patterns_.emplace_back(PathRegex(path));
}

void Gateway::Handle(const std::string& method, const std::string& path, Handler handler) {
    Record(method, path);
    const std::string pattern = PathRegex(path);
    if (method == "GET") {
        server_.Get(pattern, std::move(handler));
    } else if (method == "POST") {
        server_.Post(pattern, std::move(handler));
    } else if (method == "DELETE") {
        server_.Delete(pattern, std::move(handler));
    } else {
        throw std::logic_error("Gateway::Handle: no method " + method);
    }
}

void Gateway::ServeWebFile(const std::string& path, std::string_view name) {
    const std::string content_type = ContentTypeOf(name);
    const std::string_view content = FindWebFile(name)->content;
    Handle("GET", path, [content_type, content](const auto&, auto& rs) {
        SetPageHeaders(rs);
        rs.set_content(content.data(), content.size(), content_type);
    });
}

std::string Gateway::AllowedMethods(const std::string& path) const {
    std::string allowed;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        if (std::regex_match(path, route_patterns_[i]) &&
            allowed.find(routes_[i].method) == std::string::npos) {
            allowed += (allowed.empty() ? "" : ", ") + routes_[i].method;
        }
    }
    return allowed;
}

std::string Gateway::RouteOf(const std::string& path) const {
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        if (std::regex_match(path, route_patterns_[i])) {
            return routes_[i].path;
        }
    }
    return "other";
}

int Gateway::Bind(const std::string& host, int port) {
    return BindServer(server_, host, port);
}

void Gateway::SetPublicUrl(std::string url) {
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    config_.public_url = std::move(url);
}

void Gateway::Serve() {
    server_.listen_after_bind();
}

void Gateway::Stop() {
    server_.stop();
}

std::optional<Claims> Gateway::Authenticate(const httplib::Request& request,
                                            httplib::Response& response) {
    const std::optional<std::string> token = ParseBearer(request.get_header_value("Authorization"));
    if (token) {
        std::optional<Claims> claims;
        try {
            claims = auth_.Validate(*token);
        } catch (const PortError& error) {
            ReplyAuthUnavailable(request, response, error);
            return std::nullopt;
        }
        if (claims) {
            return claims;
        }
        response.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
        ReplyError(response, 401, "the token is invalid or expired; log in again");
        return std::nullopt;
    }
    response.set_header("WWW-Authenticate", "Bearer");
    ReplyError(response, 401, "missing bearer token: send 'Authorization: Bearer TOKEN'");
    return std::nullopt;
}

std::optional<Job> Gateway::OwnedJob(const Claims& claims, const std::string& id,
                                     httplib::Response& response) {
    std::optional<Job> job;
    if (IsWellFormedId(id)) {
        job = jobs_.Get(id);
    }
    if (!job || (job->owner_id != claims.sub && !claims.admin)) {
        ReplyError(response, 404, "no such job or file");
        return std::nullopt;
    }
    return job;
}

void Gateway::Login(const httplib::Request& request, httplib::Response& response) {
    const auto credentials = ParseBasicAuth(request.get_header_value("Authorization"));
    if (!credentials) {
        response.set_header("WWW-Authenticate", "Basic realm=\"video2mp3\"");
        ReplyError(response, 401, "send your e-mail and password with HTTP Basic auth");
        return;
    }

    LoginResult result;
    try {
        result = auth_.Login(credentials->first, credentials->second,
                             ForwardedClient(request, config_.trusted_proxy_hops));
    } catch (const PortError& error) {
        ReplyAuthUnavailable(request, response, error);
        return;
    }
    switch (result.outcome) {
        case LoginResult::Outcome::kOk:
            response.set_content(result.token, "text/plain");
            return;
        case LoginResult::Outcome::kThrottled:
            response.set_header("Retry-After", std::to_string(result.retry_after.count()));
            ReplyError(response, 429,
                       "too many failed logins; try again in " +
                           std::to_string(result.retry_after.count()) + " seconds");
            return;
        case LoginResult::Outcome::kBadCredentials:
            // A script (the web page) asks without the challenge, which would make the
            // browser open a password dialog of its own over the page.
            if (request.get_header_value("X-Requested-With") != "XMLHttpRequest") {
                response.set_header("WWW-Authenticate", "Basic realm=\"video2mp3\"");
            }
            ReplyError(response, 401, "wrong e-mail or password");
            return;
    }
}

void Gateway::Upload(const httplib::Request& request, httplib::Response& response,
                     const httplib::ContentReader& reader) {
    const auto claims = Authenticate(request, response);
    if (!claims) {
        return;
    }

    const bool chunked =
        request.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
    if (!request.has_header("Content-Length") && !chunked) {
        ReplyError(response, 411, "send the file with a Content-Length or chunked encoding");
        return;
    }

    std::unique_ptr<BlobWriter> writer;
    std::string filename;
    int file_parts = 0;
    bool in_file = false;
    std::size_t field_bytes = 0;
    int refusal_status = 0;
    std::string refusal;
    const auto refuse = [&](int status, std::string reason) {
        refusal_status = status;
        refusal = std::move(reason);
        return false;
    };
    const auto receive = [&](const char* data, std::size_t length) {
        if (writer->Size() + length > config_.max_upload_bytes) {
            return refuse(413, "the upload is larger than the limit of " +
                                   std::to_string(config_.max_upload_bytes) + " bytes");
        }
        writer->Write(std::span(reinterpret_cast<const std::byte*>(data), length));
        return true;
    };

    bool complete = false;
    if (request.is_multipart_form_data()) {
        complete = reader(
            [&](const httplib::MultipartFormData& part) {
                in_file = !part.filename.empty();
                if (!in_file) {
                    return true;  // an ordinary form field: read and ignored
                }
                if (++file_parts > 1) {
                    return refuse(400, "send exactly one file per upload");
                }
                filename = CleanFilename(FormFilename(part.filename));
                writer = blobs_.Create(kVideoBucket, "", filename, part.content_type);
                return true;
            },
            [&](const char* data, std::size_t length) {
                if (in_file) {
                    return receive(data, length);
                }
                field_bytes += length;
                return field_bytes <= kMaxFormFieldBytes ||
                       refuse(400, "a form field is too large");
            });
    } else {
        filename = CleanFilename(request.get_header_value("X-Filename"));
        writer =
            blobs_.Create(kVideoBucket, "", filename, request.get_header_value("Content-Type"));
        file_parts = 1;
        complete = reader(receive);
    }

    // An unfinished writer removes what it wrote when it goes out of scope.
    if (!complete) {
        if (refusal_status != 0) {
            ReplyError(response, refusal_status, refusal);
        } else if (response.status == 413) {
            ReplyError(response, 413, "the upload is larger than the limit");
        } else {
            ReplyError(response, 400, "the upload body is malformed or was cut off");
        }
        return;
    }
    if (file_parts == 0 || !writer) {
        ReplyError(response, 400, "no file in the upload: send one file as a form part");
        return;
    }
    if (writer->Size() == 0) {
        ReplyError(response, 400, "the file is empty");
        return;
    }

    const BlobInfo video = writer->Commit();
    metrics_.AddUploadBytes(video.size);

    Job job;
    job.id = RandomId();
    job.owner_id = claims->sub;
    job.owner_email = claims->username;
    job.filename = filename;
    job.video_fid = video.id;
    job.video_bytes = video.size;
    try {
        jobs_.Create(job);
    } catch (const std::exception&) {
        // No job, no file: the upload is refused as a whole (503 from the handler below).
        try {
            blobs_.Remove(kVideoBucket, video.id);
        } catch (const std::exception& error) {
            spdlog::warn("gateway: upload {} kept after a failed job insert: {}", video.id,
                         error.what());
        }
        throw;
    }

    workers::JobMessage message;
    message.job_id = job.id;
    message.video_fid = video.id;
    message.username = claims->username;
    try {
        queue_.Publish(kVideoQueue, job.id, message.ToJson());
    } catch (const std::exception& error) {
        // Not queued means not accepted: take back everything this upload created.
        spdlog::error("gateway: cannot queue job {}: {}", job.id, error.what());
        jobs_.Remove(job.id);
        blobs_.Remove(kVideoBucket, video.id);
        ReplyError(response, 503, "the job queue is unavailable, please try again shortly");
        return;
    }

    spdlog::info("gateway: job {} queued: {} bytes from {}", job.id, video.size, claims->sub);
    Reply(response, 202, {{"job_id", job.id}, {"video_fid", video.id}, {"status", "queued"}});
}

nlohmann::json Gateway::JobJson(const Job& job, const httplib::Request& request) const {
    nlohmann::json json = {
        {"job_id", job.id},
        {"status", ToString(job.status)},
        {"progress", job.progress},
        {"filename", job.filename},
        {"video_fid", job.video_fid},
        {"video_bytes", job.video_bytes},
        {"created_at_ms", job.created_at_ms},
        {"updated_at_ms", job.updated_at_ms},
    };
    if (job.status == JobStatus::kDone) {
        json["mp3_fid"] = job.mp3_fid;
        json["mp3_bytes"] = job.mp3_bytes;
        json["duration_s"] = job.duration_s;
        json["conversion_s"] = job.conversion_s;
        // Without a configured address, the one the client used to reach us.
        const std::string host = request.get_header_value("Host");
        const std::string base = !config_.public_url.empty()
                                     ? config_.public_url
                                     : (host.empty() ? "" : "http://" + host);
        json["download_url"] = base + "/download?fid=" + job.mp3_fid;
    }
    if (job.status == JobStatus::kFailed) {
        json["error"] = job.error;
    }
    if (job.notified) {
        json["notified"] = "sent";
    } else if (!job.notify_error.empty()) {
        json["notified"] = "failed: " + job.notify_error;
    }
    return json;
}

void Gateway::ListJobs(const httplib::Request& request, httplib::Response& response) {
    const auto claims = Authenticate(request, response);
    if (!claims) {
        return;
    }
    const int limit =
        std::clamp(ParseInt(request.get_param_value("limit"), kDefaultPage), 1, kMaxPage);
    const int offset = std::max(ParseInt(request.get_param_value("offset"), 0), 0);
    const bool everyone = claims->admin && request.get_param_value("all") == "true";

    nlohmann::json jobs = nlohmann::json::array();
    for (const Job& job : jobs_.List(everyone ? "" : claims->sub, limit, offset)) {
        jobs.push_back(JobJson(job, request));
    }
    Reply(response, 200, {{"jobs", jobs}, {"limit", limit}, {"offset", offset}});
}

void Gateway::GetJob(const httplib::Request& request, httplib::Response& response) {
    const auto claims = Authenticate(request, response);
    if (!claims) {
        return;
    }
    if (const auto job = OwnedJob(*claims, request.matches[1], response)) {
        Reply(response, 200, JobJson(*job, request));
    }
}

void Gateway::DeleteJob(const httplib::Request& request, httplib::Response& response) {
    const auto claims = Authenticate(request, response);
    if (!claims) {
        return;
    }
    const auto job = OwnedJob(*claims, request.matches[1], response);
    if (!job) {
        return;
    }
    jobs_.Remove(job->id);
    blobs_.Remove(kVideoBucket, job->video_fid);
    if (!job->mp3_fid.empty()) {
        blobs_.Remove(kMp3Bucket, job->mp3_fid);
    }
    spdlog::info("gateway: job {} deleted", job->id);
    response.status = 204;
}

void Gateway::Download(const httplib::Request& request, httplib::Response& response) {
    // Held back until the MP3 is found, so that no error answer is cut to the range.
    auto& request_ranges = const_cast<httplib::Request&>(request).ranges;
    httplib::Ranges asked;
    asked.swap(request_ranges);
    const auto claims = Authenticate(request, response);
    if (!claims) {
        return;
    }
    const std::string fid = request.get_param_value("fid");
    if (fid.empty()) {
        ReplyError(response, 400, "say which file: /download?fid=MP3_FID");
        return;
    }

    // An MP3's file id is its job's id, so ownership is the job's.
    const auto job = OwnedJob(*claims, fid, response);
    if (!job) {
        return;
    }
    if (job->status != JobStatus::kDone) {
        Reply(response, 409,
              {{"error", job->status == JobStatus::kFailed ? "the conversion failed: " + job->error
                                                           : "the MP3 is not ready yet"},
               {"status", ToString(job->status)}});
        return;
    }
    const auto info = blobs_.Stat(kMp3Bucket, job->mp3_fid);
    std::shared_ptr<media::ByteSource> source = blobs_.Open(kMp3Bucket, job->mp3_fid);
    if (!info || !source) {
        ReplyError(response, 404, "no such job or file");
        return;
    }

    // httplib 0.11 cuts the answer to request.ranges after this handler, whatever its status,
    // and trusts the ranges: an end past the file makes it promise bytes that do not exist,
    // and on an error it cuts the JSON body. So the ranges are settled here: an end past the
    // file is the file's end (RFC 9110 section 14.1.2); an unsatisfiable range is a 416 with
    // the ranges dropped; several ranges get the whole file, as the RFC allows, since
    // httplib numbers their parts against the wrong total.
    request_ranges.swap(asked);
    auto& ranges = request_ranges;
    if (ranges.size() > 1) {
        ranges.clear();
    }
    const auto size = static_cast<ssize_t>(info->size);
    for (auto& [first, last] : ranges) {
        const bool suffix = first < 0;
        if ((suffix && last <= 0) || (!suffix && first >= size) ||
            (!suffix && last >= 0 && last < first)) {
            ranges.clear();
            response.set_header("Content-Range", "bytes */" + std::to_string(info->size));
            ReplyError(response, 416,
                       "the range is outside the file's " + std::to_string(info->size) + " bytes");
            return;
        }
        if (!suffix && last >= size) {
            last = size - 1;
        }
    }

    response.set_header("Content-Disposition", ContentDisposition(job->filename));
    response.set_header("Accept-Ranges", "bytes");
    response.set_content_provider(
        info->size, "audio/mpeg",
        [source](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
            std::array<std::byte, 64 * 1024> buffer{};
            source->Seek(offset);
            const std::size_t got =
                source->Read(std::span(buffer.data(), std::min(length, buffer.size())));
            return got > 0 && sink.write(reinterpret_cast<const char*>(buffer.data()), got);
        });
}

void Gateway::Limits(const httplib::Request&, httplib::Response& response) {
    Reply(response, 200, {{"max_upload_bytes", config_.max_upload_bytes}});
}

void Gateway::Ready(const httplib::Request&, httplib::Response& response) {
    if (draining_) {
        Reply(response, 503, {{"draining", true}});
        return;
    }
    const bool blobs = blobs_.Ready();
    const bool jobs = jobs_.Ready();
    const bool queue = queue_.Ready();
    Reply(response, blobs && jobs && queue ? 200 : 503,
          {{"blob_store", blobs}, {"job_store", jobs}, {"queue", queue}});
}

}  // namespace video2mp3::gateway
