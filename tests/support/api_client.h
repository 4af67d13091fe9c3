#pragma once

// A thin HTTP client for end-to-end tests: the gateway's endpoints with a token.

#include <httplib.h>
#include <sodium.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

namespace video2mp3::testing {

inline std::string Base64(const std::string& text) {
    std::string out(sodium_base64_ENCODED_LEN(text.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()),
                      text.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}

class ApiClient {
 public:
    explicit ApiClient(int port) : client_("127.0.0.1", port) {
        client_.set_read_timeout(std::chrono::seconds(60));
        client_.set_write_timeout(std::chrono::seconds(60));
    }

    httplib::Client& Raw() { return client_; }

    /// POST /login with Basic auth; the token, or nothing (status in `status`).
    std::optional<std::string> Login(const std::string& email, const std::string& password,
                                     int* status = nullptr) {
        httplib::Headers headers = {{"Authorization", "Basic " + Base64(email + ":" + password)}};
        auto result = client_.Post("/login", headers, "", "text/plain");
        if (status != nullptr) {
            *status = result ? result->status : -1;
        }
        if (!result || result->status != 200) {
            return std::nullopt;
        }
        return result->body;
    }

    httplib::Headers Bearer(const std::string& token) const {
        return {{"Authorization", "Bearer " + token}};
    }

    httplib::Result Upload(const std::string& token, const std::string& filename,
                           const std::string& content) {
        httplib::MultipartFormDataItems items = {{"file", content, filename, "video/mp4"}};
        return client_.Post("/upload", Bearer(token), items);
    }

    httplib::Result Get(const std::string& token, const std::string& path) {
        return client_.Get(path.c_str(), Bearer(token));
    }

    /// Polls GET /jobs/{id} until the job is done or failed.
    nlohmann::json WaitForJob(const std::string& token, const std::string& id,
                              std::chrono::seconds limit = std::chrono::seconds(90)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        nlohmann::json job;
        while (std::chrono::steady_clock::now() < deadline) {
            auto result = Get(token, "/jobs/" + id);
            if (result && result->status == 200) {
                job = nlohmann::json::parse(result->body);
                if (job["status"] == "done" || job["status"] == "failed") {
                    return job;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return job;
    }

 private:
    httplib::Client client_;
};

}  // namespace video2mp3::testing
