#include "app/renamed_job_queue.h"

namespace video2mp3::app {

namespace {

constexpr std::string_view kDeadSuffix = ".dead";

/// `name` without its ".dead" suffix, and whether it had one.
std::pair<std::string, bool> SplitDead(const std::string& name) {
    if (name.size() > kDeadSuffix.size() &&
        name.compare(name.size() - kDeadSuffix.size(), kDeadSuffix.size(), kDeadSuffix) == 0) {
        return {name.substr(0, name.size() - kDeadSuffix.size()), true};
    }
    return {name, false};
}

}  // namespace

RenamedJobQueue::RenamedJobQueue(JobQueue& inner, std::string video_queue, std::string mp3_queue)
    : inner_(inner), video_queue_(std::move(video_queue)), mp3_queue_(std::move(mp3_queue)) {}

std::string RenamedJobQueue::Outer(const std::string& seed_name) const {
    auto [base, dead] = SplitDead(seed_name);
    if (base == kVideoQueue) {
        base = video_queue_;
    } else if (base == kMp3Queue) {
        base = mp3_queue_;
    }
    return dead ? base + std::string(kDeadSuffix) : base;
}

std::string RenamedJobQueue::Seed(const std::string& outer_name) const {
    auto [base, dead] = SplitDead(outer_name);
    if (base == video_queue_) {
        base = kVideoQueue;
    } else if (base == mp3_queue_) {
        base = kMp3Queue;
    }
    return dead ? base + std::string(kDeadSuffix) : base;
}

Delivery RenamedJobQueue::Translated(const Delivery& delivery) const {
    Delivery inner = delivery;
    inner.queue = Outer(delivery.queue);
    return inner;
}

void RenamedJobQueue::Publish(const std::string& queue, const std::string& message_id,
                              const std::string& body) {
    inner_.Publish(Outer(queue), message_id, body);
}

std::optional<Delivery> RenamedJobQueue::Take(const std::string& queue,
                                              std::chrono::milliseconds wait) {
    auto delivery = inner_.Take(Outer(queue), wait);
    if (delivery) {
        delivery->queue = Seed(delivery->queue);
    }
    return delivery;
}

void RenamedJobQueue::Ack(const Delivery& delivery) {
    inner_.Ack(Translated(delivery));
}

void RenamedJobQueue::Retry(const Delivery& delivery, std::chrono::milliseconds delay) {
    inner_.Retry(Translated(delivery), delay);
}

void RenamedJobQueue::Release(const Delivery& delivery) {
    inner_.Release(Translated(delivery));
}

void RenamedJobQueue::DeadLetter(const Delivery& delivery, const std::string& reason) {
    inner_.DeadLetter(Translated(delivery), reason);
}

void RenamedJobQueue::KeepAlive(const Delivery& delivery) {
    inner_.KeepAlive(Translated(delivery));
}

std::size_t RenamedJobQueue::Depth(const std::string& queue) {
    return inner_.Depth(Outer(queue));
}

bool RenamedJobQueue::Ready() {
    return inner_.Ready();
}

}  // namespace video2mp3::app
