#pragma once

#include <string>

#include "video2mp3/ports/job_queue.h"

namespace video2mp3::app {

/// Lets an installation give the `video` and `mp3` queues names of its own
/// (VIDEO2MP3_VIDEO_QUEUE, VIDEO2MP3_MP3_QUEUE) while the roles keep using the seed's names:
/// every call is passed on with the name translated, and deliveries come back under the
/// seed's name. Dead-letter queues follow (`<name>.dead`).
class RenamedJobQueue final : public JobQueue {
 public:
    RenamedJobQueue(JobQueue& inner, std::string video_queue, std::string mp3_queue);

    void Publish(const std::string& queue, const std::string& message_id,
                 const std::string& body) override;
    std::optional<Delivery> Take(const std::string& queue, std::chrono::milliseconds wait) override;
    void Ack(const Delivery& delivery) override;
    void Retry(const Delivery& delivery, std::chrono::milliseconds delay) override;
    void Release(const Delivery& delivery) override;
    void DeadLetter(const Delivery& delivery, const std::string& reason) override;
    void KeepAlive(const Delivery& delivery) override;
    std::size_t Depth(const std::string& queue) override;
    bool Ready() override;

 private:
    std::string Outer(const std::string& seed_name) const;
    std::string Seed(const std::string& outer_name) const;
    Delivery Translated(const Delivery& delivery) const;

    JobQueue& inner_;
    std::string video_queue_;
    std::string mp3_queue_;
};

}  // namespace video2mp3::app
