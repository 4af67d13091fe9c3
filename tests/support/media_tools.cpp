#include "support/media_tools.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

extern char** environ;

namespace video2mp3::testing {

TempDir::TempDir() {
    std::random_device random;
    const auto base = std::filesystem::temp_directory_path();
    path_ = base / ("video2mp3-test-" + std::to_string(random()) + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

CommandResult Run(const std::vector<std::string>& argv) {
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) {
        ADD_FAILURE() << "pipe failed";
        return {};
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    posix_spawn_file_actions_addclose(&actions, err_pipe[0]);

    std::vector<char*> args;
    for (const std::string& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);

    pid_t pid = 0;
    const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);

    CommandResult result;
    if (spawned != 0) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        ADD_FAILURE() << "cannot start " << argv[0];
        return result;
    }

    std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
    std::array<std::string*, 2> sinks{&result.out, &result.err};
    int open_pipes = 2;
    while (open_pipes > 0) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            break;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) {
                continue;
            }
            char buffer[4096];
            const ssize_t got = ::read(fds[i].fd, buffer, sizeof(buffer));
            if (got <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_pipes;
            } else {
                sinks[i]->append(buffer, static_cast<std::size_t>(got));
            }
        }
    }

    int status = 0;
    rusage usage{};
    ::wait4(pid, &status, 0, &usage);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.peak_rss_kib = usage.ru_maxrss;
    return result;
}

void Ffmpeg(const std::vector<std::string>& args, const std::filesystem::path& output) {
    std::vector<std::string> argv = {"ffmpeg", "-nostdin", "-y", "-v", "error"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(output.string());
    const CommandResult result = Run(argv);
    ASSERT_EQ(result.exit_code, 0) << "ffmpeg failed making " << output << ": " << result.err;
}

std::vector<std::byte> ReadBytes(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
    std::vector<std::byte> bytes(chars.size());
    std::memcpy(bytes.data(), chars.data(), chars.size());
    return bytes;
}

void WriteBytes(const std::filesystem::path& path, const std::vector<std::byte>& bytes) {
    std::ofstream file(path, std::ios::binary);
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(file.good()) << "cannot write " << path;
}

std::string ReadText(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream file(path, std::ios::binary);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(file.good()) << "cannot write " << path;
}

std::optional<std::filesystem::path> SharedMediaDir() {
    if (const char* dir = std::getenv("VIDEO2MP3_MEDIA_DIR")) {
        return std::filesystem::path(dir);
    }
    const auto beside = std::filesystem::path(VIDEO2MP3_SOURCE_DIR) / ".." / "shared" / "media";
    if (std::filesystem::exists(beside / "MANIFEST.tsv")) {
        return std::filesystem::canonical(beside);
    }
    return std::nullopt;
}

namespace {

constexpr std::array<int, 16> kMpeg1Layer3Kbps = {0,   32,  40,  48,  56,  64,  80,  96,
                                                  112, 128, 160, 192, 224, 256, 320, 0};
constexpr std::array<int, 4> kMpeg1Rates = {44100, 48000, 32000, 0};

/// Walks the MPEG audio frames after the ID3 tag. Every frame must be MPEG-1 Layer III.
void CheckFrames(const std::vector<std::byte>& bytes, Mp3Facts& facts) {
    std::size_t offset = 0;
    if (bytes.size() >= 10 && std::memcmp(bytes.data(), "ID3", 3) == 0) {
        facts.id3v23 = std::to_integer<int>(bytes[3]) == 3;
        const auto b = [&](std::size_t i) { return std::to_integer<std::size_t>(bytes[i]); };
        offset = 10 + ((b(6) << 21) | (b(7) << 14) | (b(8) << 7) | b(9));
    }

    std::size_t frames = 0;
    bool all_mpeg1_layer3 = true;
    while (offset + 4 <= bytes.size()) {
        const auto h1 = std::to_integer<unsigned>(bytes[offset + 1]);
        const auto h2 = std::to_integer<unsigned>(bytes[offset + 2]);
        if (std::to_integer<unsigned>(bytes[offset]) != 0xFF || (h1 & 0xE0) != 0xE0) {
            break;  // end of the audio (an ID3v1 tag or trailing bytes)
        }
        const bool mpeg1 = ((h1 >> 3) & 3) == 3;
        const bool layer3 = ((h1 >> 1) & 3) == 1;
        const int kbps = kMpeg1Layer3Kbps[(h2 >> 4) & 15];
        const int rate = kMpeg1Rates[(h2 >> 2) & 3];
        if (!mpeg1 || !layer3 || kbps == 0 || rate == 0) {
            all_mpeg1_layer3 = false;
            break;
        }
        const std::size_t length = 144 * kbps * 1000 / rate + ((h2 >> 1) & 1);
        if (frames == 0) {
            const auto first = std::string(reinterpret_cast<const char*>(bytes.data()) + offset,
                                           std::min(length, bytes.size() - offset));
            facts.has_xing =
                first.find("Xing") != std::string::npos || first.find("Info") != std::string::npos;
        }
        ++frames;
        offset += length;
    }
    facts.mpeg1_layer3 = all_mpeg1_layer3 && frames > 0;
}

void Decode(const std::filesystem::path& path, Mp3Facts& facts) {
    AVFormatContext* format = nullptr;
    ASSERT_EQ(avformat_open_input(&format, path.c_str(), nullptr, nullptr), 0) << path;
    ASSERT_GE(avformat_find_stream_info(format, nullptr), 0);
    const int index = av_find_best_stream(format, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    ASSERT_GE(index, 0);
    const AVCodec* codec = avcodec_find_decoder(format->streams[index]->codecpar->codec_id);
    AVCodecContext* decoder = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(decoder, format->streams[index]->codecpar);
    decoder->pkt_timebase = format->streams[index]->time_base;
    decoder->request_sample_fmt = AV_SAMPLE_FMT_FLTP;
    ASSERT_EQ(avcodec_open2(decoder, codec, nullptr), 0);

    std::int64_t samples = 0;
    std::vector<double> squares;
    AVPacket* packet = av_packet_alloc();
    AVFrame* frame = av_frame_alloc();
    const auto drain = [&] {
        while (avcodec_receive_frame(decoder, frame) == 0) {
            const int channels = frame->ch_layout.nb_channels;
            squares.resize(static_cast<std::size_t>(channels), 0.0);
            if (frame->format == AV_SAMPLE_FMT_FLTP) {
                for (int c = 0; c < channels; ++c) {
                    const auto* data = reinterpret_cast<const float*>(frame->extended_data[c]);
                    for (int i = 0; i < frame->nb_samples; ++i) {
                        squares[static_cast<std::size_t>(c)] += double(data[i]) * data[i];
                    }
                }
            }
            samples += frame->nb_samples;
            facts.channels = channels;
            facts.sample_rate = frame->sample_rate;
            av_frame_unref(frame);
        }
    };
    while (av_read_frame(format, packet) >= 0) {
        if (packet->stream_index == index && avcodec_send_packet(decoder, packet) >= 0) {
            drain();
        }
        av_packet_unref(packet);
    }
    avcodec_send_packet(decoder, nullptr);
    drain();

    if (facts.sample_rate > 0) {
        facts.decoded_duration_s = static_cast<double>(samples) / facts.sample_rate;
    }
    for (double sum : squares) {
        facts.channel_rms.push_back(samples > 0 ? std::sqrt(sum / static_cast<double>(samples))
                                                : 0.0);
    }
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&decoder);
    avformat_close_input(&format);
}

}  // namespace

Mp3Facts InspectMp3(const std::filesystem::path& path) {
    Mp3Facts facts;
    const std::vector<std::byte> bytes = ReadBytes(path);
    EXPECT_FALSE(bytes.empty()) << path << " is empty";
    CheckFrames(bytes, facts);

    const CommandResult probe =
        Run({"ffprobe", "-v", "error", "-show_entries", "format=format_name,duration:format_tags",
             "-of", "json", path.string()});
    EXPECT_EQ(probe.exit_code, 0) << probe.err;
    const auto json = nlohmann::json::parse(probe.out, nullptr, false);
    if (json.contains("format")) {
        const auto& format = json["format"];
        EXPECT_EQ(format.value("format_name", ""), "mp3");
        facts.header_duration_s = std::stod(format.value("duration", "0"));
        if (format.contains("tags")) {
            for (const auto& [key, value] : format["tags"].items()) {
                std::string lower = key;
                for (char& c : lower) {
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                }
                facts.tags[lower] = value.get<std::string>();
            }
        }
    }
    Decode(path, facts);
    return facts;
}

}  // namespace video2mp3::testing
