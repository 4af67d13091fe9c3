#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace video2mp3::gateway {

/// Counters for `GET /metrics`, in Prometheus' text format. Thread-safe.
class Metrics {
 public:
    void CountRequest(const std::string& route, int status);
    void AddUploadBytes(std::uint64_t bytes) { upload_bytes_ += bytes; }
    void ObserveConversion(double seconds, bool succeeded);

    /// Gauges read at scrape time (jobs by state, queue depth), as name{labels} -> value.
    using GaugeReader = std::function<std::map<std::string, double>()>;
    void SetGaugeReader(GaugeReader reader);

    std::string Render();

 private:
    std::mutex mutex_;
    std::map<std::pair<std::string, int>, std::uint64_t> requests_;
    std::atomic<std::uint64_t> upload_bytes_{0};
    double conversion_seconds_sum_ = 0;
    std::uint64_t conversions_ok_ = 0;
    std::uint64_t conversions_failed_ = 0;
    GaugeReader gauges_;
};

}  // namespace video2mp3::gateway
