#include "gateway/metrics.h"

#include <fmt/format.h>

namespace video2mp3::gateway {

void Metrics::CountRequest(const std::string& route, int status) {
    const std::lock_guard lock(mutex_);
    ++requests_[{route, status}];
}

void Metrics::ObserveConversion(double seconds, bool succeeded) {
    const std::lock_guard lock(mutex_);
    conversion_seconds_sum_ += seconds;
    ++(succeeded ? conversions_ok_ : conversions_failed_);
}

void Metrics::SetGaugeReader(GaugeReader reader) {
    const std::lock_guard lock(mutex_);
    gauges_ = std::move(reader);
}

std::string Metrics::Render() {
    GaugeReader gauges;
    std::string text;
    {
        const std::lock_guard lock(mutex_);
        text += "# HELP video2mp3_http_requests_total HTTP requests by route and status.\n";
        text += "# TYPE video2mp3_http_requests_total counter\n";
        for (const auto& [key, count] : requests_) {
            text += fmt::format("video2mp3_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                                key.first, key.second, count);
        }
        text += "# HELP video2mp3_upload_bytes_total Bytes of video received.\n";
        text += "# TYPE video2mp3_upload_bytes_total counter\n";
        text += fmt::format("video2mp3_upload_bytes_total {}\n", upload_bytes_.load());
        text += "# HELP video2mp3_conversion_seconds Time spent converting.\n";
        text += "# TYPE video2mp3_conversion_seconds summary\n";
        text += fmt::format("video2mp3_conversion_seconds_sum {}\n", conversion_seconds_sum_);
        text += fmt::format("video2mp3_conversion_seconds_count {}\n",
                            conversions_ok_ + conversions_failed_);
        text += "# HELP video2mp3_conversions_total Conversions by outcome.\n";
        text += "# TYPE video2mp3_conversions_total counter\n";
        text +=
            fmt::format("video2mp3_conversions_total{{outcome=\"done\"}} {}\n", conversions_ok_);
        text += fmt::format("video2mp3_conversions_total{{outcome=\"failed\"}} {}\n",
                            conversions_failed_);
        gauges = gauges_;
    }
    if (gauges) {
        // Read outside the lock: it asks the stores.
        std::string last_name;
        for (const auto& [series, value] : gauges()) {
            const std::string name = series.substr(0, series.find('{'));
            if (name != last_name) {
                text += "# TYPE " + name + " gauge\n";
                last_name = name;
            }
            text += fmt::format("{} {}\n", series, value);
        }
    }
    return text;
}

}  // namespace video2mp3::gateway
