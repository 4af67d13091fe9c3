#include "video2mp3/auth/login_throttle.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstddef>
#include <stdexcept>

namespace video2mp3::auth {
namespace {

// Below this many keys a map is too small to be worth sweeping.
constexpr std::size_t kSweepFrom = 1024;

}  // namespace

LoginThrottle::LoginThrottle(int failures_per_account, int failures_per_address,
                             std::chrono::seconds window)
    : failures_per_account_(failures_per_account),
      failures_per_address_(failures_per_address),
      window_(window) {
    if (failures_per_account_ < 1 || failures_per_address_ < 1) {
        throw std::invalid_argument("login throttle limits must be at least 1");
    }
    if (window_.count() <= 0) {
        throw std::invalid_argument("login throttle window must be positive");
    }
}

std::optional<std::chrono::seconds> LoginThrottle::Blocked(const std::string& account,
                                                           const std::string& address) {
    const std::lock_guard lock(mutex_);
    const Clock::time_point now = Clock::now();

    const std::optional<std::chrono::seconds> by_account =
        Check(accounts_, account, failures_per_account_, now);
    const std::optional<std::chrono::seconds> by_address =
        Check(addresses_, address, failures_per_address_, now);

    if (by_account && by_address) {
        return std::max(*by_account, *by_address);
    }
    return by_account ? by_account : by_address;
}

void LoginThrottle::RecordFailure(const std::string& account, const std::string& address) {
    const std::lock_guard lock(mutex_);
    const Clock::time_point now = Clock::now();

    Count(accounts_, account, now);
    Count(addresses_, address, now);
}

void LoginThrottle::RecordSuccess(const std::string& account) {
    const std::lock_guard lock(mutex_);

    accounts_.erase(account);
}

std::optional<std::chrono::seconds> LoginThrottle::Check(std::map<std::string, Window>& windows,
                                                         const std::string& key, int limit,
                                                         Clock::time_point now) {
    const auto entry = windows.find(key);
    if (entry == windows.end()) {
        return std::nullopt;
    }

    const Clock::duration elapsed = now - entry->second.started;
    if (elapsed >= window_) {
        windows.erase(entry);
        return std::nullopt;
    }
    if (entry->second.failures < limit) {
        return std::nullopt;
    }

    // Rounded up, so that waiting the whole answer always reaches the end of the window.
    const auto remaining = std::chrono::ceil<std::chrono::seconds>(window_ - elapsed);
    return std::max(remaining, std::chrono::seconds(1));
}

void LoginThrottle::Count(std::map<std::string, Window>& windows, const std::string& key,
                          Clock::time_point now) {
    const auto entry = windows.find(key);
    if (entry != windows.end() && now - entry->second.started < window_) {
        if (entry->second.failures < INT_MAX) {
            ++entry->second.failures;
        }
        return;
    }

    windows.insert_or_assign(key, Window{1, now});

    // Sweeping whenever a new key takes the map to a power of two keeps the cost amortised
    // O(1) per failure while the map holds little more than the keys still in a window.
    if (windows.size() >= kSweepFrom && std::has_single_bit(windows.size())) {
        std::erase_if(windows,
                      [&](const auto& item) { return now - item.second.started >= window_; });
    }
}

}  // namespace video2mp3::auth
