// Confirmed publishes per second: video2mp3::adapters::AmqpJobQueue (RabbitMQ quorum queue,
// Publish returns after the broker's confirm) against the baseline SqliteJobQueue (serve's
// durable queue, a fresh database in a temporary folder), with 1 and with several publishing
// threads sharing one queue object, as the gateway's request threads do.
//
// Usage: amqp_publish_bench --amqp-url URL [--ca-file PEM] [--messages N] [--threads 1,8]
//        (an amqps:// URL with --ca-file measures the same over TLS)
//
// Every run publishes N messages of about 300 bytes of JSON to a queue of its own (a unique
// name, so each RabbitMQ run starts on a fresh quorum queue); the RabbitMQ queues and their
// `.dead` companions are deleted at the end. Prints one row per run, then the ratios.

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/amqp/amqp_connection.h"
#include "adapters/amqp/amqp_job_queue.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_job_queue.h"
#include "video2mp3/domain/random_id.h"
#include "video2mp3/ports/job_queue.h"

namespace {

using Clock = std::chrono::steady_clock;
using video2mp3::JobQueue;

struct Options {
    std::string amqp_url;
    std::string ca_file;  ///< amqps: the CAs to trust
    int messages = 5000;
    std::vector<int> threads = {1, 8};
};

struct Result {
    std::string backend;
    int threads = 0;
    int messages = 0;
    double seconds = 0;
    double p50_ms = 0;
    double p99_ms = 0;

    double PerSecond() const { return seconds > 0 ? messages / seconds : 0; }
};

[[noreturn]] void Usage(const std::string& problem) {
    std::cerr << "amqp_publish_bench: " << problem << "\n"
              << "usage: amqp_publish_bench --amqp-url URL [--ca-file PEM] [--messages N] "
                 "[--threads 1,8]\n";
    std::exit(64);
}

int PositiveInt(const std::string& text, const std::string& what) {
    try {
        std::size_t used = 0;
        const int value = std::stoi(text, &used);
        if (used == text.size() && value > 0) {
            return value;
        }
    } catch (const std::exception&) {
    }
    Usage(what + " must be a positive integer, not '" + text + "'");
}

Options ParseOptions(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (i + 1 >= argc) {
            Usage("missing value after " + flag);
        }
        const std::string value = argv[++i];
        if (flag == "--amqp-url") {
            options.amqp_url = value;
        } else if (flag == "--ca-file") {
            options.ca_file = value;
        } else if (flag == "--messages") {
            options.messages = PositiveInt(value, "--messages");
        } else if (flag == "--threads") {
            options.threads.clear();
            std::stringstream list(value);
            for (std::string item; std::getline(list, item, ',');) {
                options.threads.push_back(PositiveInt(item, "--threads"));
            }
        } else {
            Usage("unknown option " + flag);
        }
    }
    if (options.amqp_url.empty()) {
        Usage("--amqp-url is required");
    }
    if (options.threads.empty()) {
        Usage("--threads needs at least one count");
    }
    return options;
}

/// A message body shaped like the gateway's job message, padded to about 300 bytes.
std::string Body(const std::string& id) {
    const nlohmann::json body = {
        {"job_id", id},
        {"video_fid", video2mp3::RandomId()},
        {"mp3_fid", nullptr},
        {"username", "bench-publisher@example.com"},
        {"filename", "holiday_video_2026_recorded_on_a_phone_in_portrait_mode.mp4"},
        {"note", std::string(120, 'x')},
    };
    return body.dump();
}

double Percentile(std::vector<double>& values, double fraction) {
    if (values.empty()) {
        return 0;
    }
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
    return values[index];
}

/// Publishes `messages` messages to `queue` from `thread_count` threads sharing `job_queue`
/// (one warm-up publish first, not counted: it declares the queue).
Result Measure(const std::string& backend, JobQueue& job_queue, const std::string& queue,
               int messages, int thread_count) {
    job_queue.Publish(queue, video2mp3::RandomId(), Body("warm-up"));

    std::vector<std::pair<std::string, std::string>> prepared;
    prepared.reserve(static_cast<std::size_t>(messages));
    for (int i = 0; i < messages; ++i) {
        std::string id = video2mp3::RandomId();
        std::string body = Body(id);
        prepared.emplace_back(std::move(id), std::move(body));
    }

    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(thread_count));
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(thread_count));
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int t = 0; t < thread_count; ++t) {
        threads.emplace_back([&, t] {
            auto& mine = latencies[static_cast<std::size_t>(t)];
            try {
                for (int i = t; i < messages; i += thread_count) {
                    const auto& [id, body] = prepared[static_cast<std::size_t>(i)];
                    const auto before = Clock::now();
                    job_queue.Publish(queue, id, body);
                    mine.push_back(
                        std::chrono::duration<double, std::milli>(Clock::now() - before).count());
                }
            } catch (...) {
                errors[static_cast<std::size_t>(t)] = std::current_exception();
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (const auto& error : errors) {
        if (error) {
            std::rethrow_exception(error);
        }
    }

    std::vector<double> all;
    for (const auto& mine : latencies) {
        all.insert(all.end(), mine.begin(), mine.end());
    }
    Result result;
    result.backend = backend;
    result.threads = thread_count;
    result.messages = messages;
    result.seconds = seconds;
    result.p50_ms = Percentile(all, 0.50);
    result.p99_ms = Percentile(all, 0.99);
    return result;
}

/// Deletes queues on the broker with a connection of its own (AmqpJobQueue never deletes).
void DeleteQueues(const std::string& url, const std::string& ca_file,
                  const std::vector<std::string>& queues) {
    const auto endpoint = video2mp3::adapters::ParseAmqpUrl(url);
    amqp_connection_state_t state = amqp_new_connection();
    std::unique_ptr<amqp_connection_state_t_, void (*)(amqp_connection_state_t)> owner(
        state, [](amqp_connection_state_t s) { amqp_destroy_connection(s); });
    amqp_socket_t* socket = endpoint.tls ? amqp_ssl_socket_new(state) : amqp_tcp_socket_new(state);
    if (socket != nullptr && endpoint.tls && !ca_file.empty()) {
        amqp_ssl_socket_set_cacert(socket, ca_file.c_str());
    }
    if (socket == nullptr || amqp_socket_open(socket, endpoint.host.c_str(), endpoint.port) != 0) {
        throw std::runtime_error("cannot connect to " + endpoint.Describe());
    }
    const amqp_rpc_reply_t login =
        amqp_login(state, endpoint.vhost.c_str(), 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                   endpoint.user.c_str(), endpoint.password.c_str());
    if (login.reply_type != AMQP_RESPONSE_NORMAL) {
        throw std::runtime_error("cannot log in to " + endpoint.Describe());
    }
    amqp_channel_open(state, 1);
    if (amqp_get_rpc_reply(state).reply_type != AMQP_RESPONSE_NORMAL) {
        throw std::runtime_error("cannot open a channel on " + endpoint.Describe());
    }
    for (const auto& queue : queues) {
        amqp_queue_delete(state, 1, amqp_cstring_bytes(queue.c_str()), 0, 0);
        if (amqp_get_rpc_reply(state).reply_type != AMQP_RESPONSE_NORMAL) {
            throw std::runtime_error("cannot delete queue " + queue);
        }
    }
    amqp_channel_close(state, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state, AMQP_REPLY_SUCCESS);
}

void PrintRow(const Result& r) {
    std::printf("%-34s %7d %8d %8.2f %10.0f %8.2f %8.2f\n", r.backend.c_str(), r.threads,
                r.messages, r.seconds, r.PerSecond(), r.p50_ms, r.p99_ms);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = ParseOptions(argc, argv);
    spdlog::set_level(spdlog::level::warn);

    const std::string tag = video2mp3::RandomId().substr(0, 12);
    std::vector<std::string> amqp_queues;
    std::map<int, Result> amqp;
    std::map<int, Result> sqlite;

    std::printf("%-34s %7s %8s %8s %10s %8s %8s\n", "queue", "threads", "messages", "seconds",
                "msgs_per_s", "p50_ms", "p99_ms");
    int status = 0;
    try {
        {
            video2mp3::adapters::AmqpConfig config;
            config.url = options.amqp_url;
            config.ca_file = options.ca_file;
            config.connection_name = "amqp_publish_bench";
            config.publish_timeout = std::chrono::seconds(60);
            video2mp3::adapters::AmqpJobQueue queue(config);
            for (const int threads : options.threads) {
                const std::string name = "bench-publish-" + tag + "-t" + std::to_string(threads);
                amqp_queues.push_back(name);
                amqp_queues.push_back(name + ".dead");
                amqp[threads] = Measure("RabbitMQ quorum (AmqpJobQueue)", queue, name,
                                        options.messages, threads);
                PrintRow(amqp[threads]);
            }
        }

        char pattern[] = "/tmp/amqp_publish_bench.XXXXXX";
        if (::mkdtemp(pattern) == nullptr) {
            throw std::runtime_error("cannot create a temporary folder");
        }
        const std::filesystem::path folder = pattern;
        try {
            for (const int threads : options.threads) {
                const auto path = folder / ("queue-t" + std::to_string(threads) + ".db");
                video2mp3::adapters::SqliteDatabase database(path);
                video2mp3::adapters::SqliteJobQueue queue(database);
                sqlite[threads] = Measure("SQLite (SqliteJobQueue, baseline)", queue, "video",
                                          options.messages, threads);
                PrintRow(sqlite[threads]);
            }
        } catch (...) {
            std::filesystem::remove_all(folder);
            throw;
        }
        std::filesystem::remove_all(folder);
    } catch (const std::exception& error) {
        std::cerr << "amqp_publish_bench: " << error.what() << "\n";
        status = 1;
    }

    try {
        if (!amqp_queues.empty()) {
            DeleteQueues(options.amqp_url, options.ca_file, amqp_queues);
        }
    } catch (const std::exception& error) {
        std::cerr << "amqp_publish_bench: cleaning up: " << error.what() << "\n";
        status = 1;
    }
    if (status != 0) {
        return status;
    }

    std::printf("\n");
    for (const int threads : options.threads) {
        const double a = amqp[threads].PerSecond();
        const double s = sqlite[threads].PerSecond();
        std::printf(
            "confirmed publishes, %d thread%s: RabbitMQ %.0f/s, SQLite (baseline) %.0f/s, "
            "ratio %.2f\n",
            threads, threads == 1 ? "" : "s", a, s, s > 0 ? a / s : 0.0);
    }
    return 0;
}
