#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace video2mp3::auth {

/// Slows down password guessing: after too many failed logins within a window, for one
/// account or from one address, further attempts are refused until the window has passed.
/// In memory, per process. Thread-safe.
class LoginThrottle {
 public:
    using Clock = std::chrono::steady_clock;

    LoginThrottle(int failures_per_account = 5, int failures_per_address = 20,
                  std::chrono::seconds window = std::chrono::minutes(15));

    /// How long to wait before trying again, or nothing when an attempt is allowed now.
    std::optional<std::chrono::seconds> Blocked(const std::string& account,
                                                const std::string& address);
    void RecordFailure(const std::string& account, const std::string& address);
    /// A successful login clears the account's failures (not the address's).
    void RecordSuccess(const std::string& account);

 private:
    struct Window {
        int failures = 0;
        Clock::time_point started;
    };

    std::optional<std::chrono::seconds> Check(std::map<std::string, Window>& windows,
                                              const std::string& key, int limit,
                                              Clock::time_point now);
    void Count(std::map<std::string, Window>& windows, const std::string& key,
               Clock::time_point now);

    int failures_per_account_;
    int failures_per_address_;
    std::chrono::seconds window_;
    std::mutex mutex_;
    std::map<std::string, Window> accounts_;
    std::map<std::string, Window> addresses_;
};

}  // namespace video2mp3::auth
