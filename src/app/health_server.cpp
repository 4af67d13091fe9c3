#include "app/health_server.h"

#include <nlohmann/json.hpp>

#include "app/environment.h"
#include "gateway/http_common.h"

namespace video2mp3::app {

HealthServer::HealthServer(std::function<bool()> is_ready, gateway::Metrics& metrics)
    : ready_(std::move(is_ready)), metrics_(metrics) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(2); };
    server_.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
        response.set_content(R"({"status":"ok"})", "application/json");
    });
    server_.Get("/readyz", [this](const httplib::Request&, httplib::Response& response) {
        bool ready = false;
        try {
            ready = ready_();
        } catch (const std::exception&) {
            ready = false;
        }
        response.status = ready ? 200 : 503;
        response.set_content(nlohmann::json{{"ready", ready}}.dump(), "application/json");
    });
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
        response.set_content(metrics_.Render(), "text/plain; version=0.0.4");
    });
}

HealthServer::~HealthServer() {
    if (thread_.joinable()) {
        while (!server_.is_running()) {
            std::this_thread::yield();
        }
        server_.stop();
        thread_.join();
    }
}

int HealthServer::Start(const std::string& listen) {
    const auto [host, port] = ParseListen(listen, "VIDEO2MP3_HEALTH_LISTEN");
    gateway::ReuseAddressOnly(server_);
    int bound = 0;
    try {
        bound = gateway::BindServer(server_, host, port);
    } catch (const std::runtime_error& error) {
        throw ConfigError(std::string("VIDEO2MP3_HEALTH_LISTEN: ") + error.what());
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return bound;
}

}  // namespace video2mp3::app
