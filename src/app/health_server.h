#pragma once

#include <httplib.h>

#include <functional>
#include <string>
#include <thread>

#include "gateway/metrics.h"

namespace video2mp3::app {

/// The small HTTP side door of the roles that have no API of their own (converter,
/// notifier), for Kubernetes probes and Prometheus: `GET /healthz` answers 200 while the
/// process runs (liveness must not depend on RabbitMQ or MongoDB, or one outage restarts
/// every pod), `GET /readyz` 200 or 503 from `ready`, `GET /metrics` the role's counters.
class HealthServer {
 public:
    HealthServer(std::function<bool()> ready, gateway::Metrics& metrics);
    ~HealthServer();
    HealthServer(const HealthServer&) = delete;
    HealthServer& operator=(const HealthServer&) = delete;

    /// Binds HOST:PORT (throws ConfigError naming VIDEO2MP3_HEALTH_LISTEN when it cannot)
    /// and serves on a thread of its own until destroyed. Returns the bound port.
    int Start(const std::string& listen);

 private:
    std::function<bool()> ready_;
    gateway::Metrics& metrics_;
    httplib::Server server_;
    std::thread thread_;
};

}  // namespace video2mp3::app
