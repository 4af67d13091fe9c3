#pragma once

#include <signal.h>

#include <chrono>
#include <optional>

namespace video2mp3::app {

/// Blocks SIGINT and SIGTERM in the calling thread and every thread started after it, so
/// that they can be waited for here instead of interrupting whatever runs. Make one first
/// thing in a role's Run function.
class ShutdownSignal {
 public:
    ShutdownSignal() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    }

    /// Waits for SIGINT or SIGTERM and returns which.
    int Wait() {
        int signal = 0;
        sigwait(&set_, &signal);
        return signal;
    }

    /// Waits up to `timeout`; the signal, or nothing when none came.
    std::optional<int> WaitFor(std::chrono::milliseconds timeout) {
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
        const timespec wait{static_cast<time_t>(seconds.count()),
                            static_cast<long>((timeout - seconds).count() * 1000000)};
        const int signal = sigtimedwait(&set_, nullptr, &wait);
        if (signal < 0) {
            return std::nullopt;
        }
        return signal;
    }

    static const char* Name(int signal) { return signal == SIGINT ? "SIGINT" : "SIGTERM"; }

 private:
    sigset_t set_{};
};

}  // namespace video2mp3::app
