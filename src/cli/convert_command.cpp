#include "cli/convert_command.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <stop_token>
#include <thread>

#include "cli/exit_codes.h"
#include "video2mp3/media/converter.h"
#include "video2mp3/media/file_byte_source.h"
#include "video2mp3/media/report_json.h"

namespace video2mp3::cli {

namespace {

struct ConvertArguments {
    std::string input;
    std::string output;
    int quality = 2;
    std::string bitrate;
    bool json = false;
    bool reencode = false;
    bool progress = false;
};

/// "128k", "128K" or "128" to 128.
int ParseBitrate(const std::string& text) {
    std::string digits = text;
    if (!digits.empty() && (digits.back() == 'k' || digits.back() == 'K')) {
        digits.pop_back();
    }
    std::size_t used = 0;
    int value = 0;
    try {
        value = std::stoi(digits, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (digits.empty() || used != digits.size()) {
        throw CLI::ValidationError("--bitrate",
                                   "expected a bitrate such as 192k, got '" + text + "'");
    }
    return value;
}

std::filesystem::path DefaultOutput(const std::filesystem::path& input) {
    std::filesystem::path output = input.filename();
    output.replace_extension(".mp3");
    return output;
}

/// Turns SIGINT and SIGTERM into a stop request while alive. The signals are blocked in
/// every thread and taken by one waiting thread, so nothing runs in a signal handler.
class SignalStop {
 public:
    SignalStop() {
        sigemptyset(&signals_);
        sigaddset(&signals_, SIGINT);
        sigaddset(&signals_, SIGTERM);
        sigaddset(&signals_, SIGUSR1);  // used only to wake the waiter at the end
        pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
        waiter_ = std::thread([this] {
            int signal = 0;
            sigwait(&signals_, &signal);
            if (signal != SIGUSR1) {
                received_ = signal;
                stop_.request_stop();
            }
        });
    }

    ~SignalStop() {
        if (received_ == 0) {
            pthread_kill(waiter_.native_handle(), SIGUSR1);
        }
        waiter_.join();
        pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    }

    SignalStop(const SignalStop&) = delete;
    SignalStop& operator=(const SignalStop&) = delete;

    std::stop_token Token() const { return stop_.get_token(); }
    int Received() const { return received_; }

 private:
    sigset_t signals_{};
    sigset_t previous_{};
    std::stop_source stop_;
    std::atomic<int> received_{0};
    std::thread waiter_;
};

int ExitCodeFor(media::MediaErrorKind kind) {
    switch (kind) {
        case media::MediaErrorKind::kReadFailed:
            return kExitIoError;
        case media::MediaErrorKind::kWriteFailed:
            return kExitCannotCreate;
        default:
            return kExitDataError;
    }
}

int RunConvert(const ConvertArguments& arguments, CLI::App& command) {
    media::ConvertOptions options;
    options.vbr_quality = arguments.quality;
    if (!arguments.bitrate.empty()) {
        options.bitrate_kbps = ParseBitrate(arguments.bitrate);
    }
    // An explicit encoding setting asks for re-encoding; otherwise MP3 audio is copied.
    options.allow_stream_copy =
        !arguments.reencode && command.count("--quality") == 0 && command.count("--bitrate") == 0;
    try {
        media::ValidateOptions(options);
    } catch (const std::invalid_argument& error) {
        std::cerr << "video2mp3: " << error.what() << "\n";
        return kExitUsage;
    }

    const std::filesystem::path input = arguments.input;
    const std::filesystem::path output =
        arguments.output.empty() ? DefaultOutput(input) : std::filesystem::path(arguments.output);
    std::error_code ignored;
    if (std::filesystem::equivalent(input, output, ignored)) {
        std::cerr << "video2mp3: " << input.string() << ": the output would overwrite the input\n";
        return kExitUsage;
    }

    const auto print_json = [&](const media::ConvertReport& report, nlohmann::json error) {
        if (arguments.json) {
            nlohmann::json json = media::ToJson(report);
            json["error"] = std::move(error);
            // File names and tags need not be UTF-8; replace what is not.
            std::cout << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        }
    };

    media::ConvertReport report;
    report.input_name = input.string();
    std::unique_ptr<media::FileByteSource> source;
    try {
        source = std::make_unique<media::FileByteSource>(input);
    } catch (const media::ByteSourceError& error) {
        std::cerr << "video2mp3: " << error.what() << "\n";
        print_json(report, {{"kind", "cannot_open"}, {"message", error.what()}});
        return kExitNoInput;
    }

    media::ProgressCallback progress;
    if (arguments.progress) {
        progress = [](double percent) { std::fprintf(stderr, "progress %3.0f%%\n", percent); };
    }

    // Ctrl-C or SIGTERM stops the conversion cleanly: no partial MP3 is left behind.
    SignalStop signals;
    int status = kExitOk;
    nlohmann::json error_json;
    try {
        media::Convert(*source, output, options, report, progress, signals.Token());
    } catch (const media::MediaError& error) {
        if (error.Kind() == media::MediaErrorKind::kCancelled) {
            return 128 + signals.Received();
        }
        std::cerr << "video2mp3: " << input.string() << ": " << error.what() << "\n";
        status = ExitCodeFor(error.Kind());
        error_json = {{"kind", media::ErrorKindName(error.Kind())}, {"message", error.what()}};
    }

    print_json(report, error_json);
    if (status == kExitOk && !arguments.json) {
        for (const std::string& warning : report.warnings) {
            std::cerr << "video2mp3: " << input.string() << ": warning: " << warning << "\n";
        }
    }
    return status;
}

}  // namespace

void AddConvertCommand(CLI::App& app, int& exit_code) {
    auto arguments = std::make_shared<ConvertArguments>();
    CLI::App* command =
        app.add_subcommand("convert", "Extract the audio of a video (or audio) file as an MP3");

    command->add_option("INPUT", arguments->input, "Video or audio file to convert")->required();
    command->add_option("-o,--output", arguments->output,
                        "Where to write the MP3 (default: INPUT's name with .mp3, here)");
    auto* quality = command
                        ->add_option("-q,--quality", arguments->quality,
                                     "LAME variable-bitrate quality, 0 (best) to 9 (default 2)")
                        ->check(CLI::Range(0, 9));
    command
        ->add_option("-b,--bitrate", arguments->bitrate,
                     "Constant bitrate from 64k to 320k instead of variable bitrate")
        ->excludes(quality);
    command->add_flag("--json", arguments->json, "Print a machine-readable report on stdout");
    command->add_flag("--reencode", arguments->reencode,
                      "Re-encode MP3 audio instead of copying it unchanged");
    command->add_flag("--progress", arguments->progress, "Print progress to stderr");

    command->callback(
        [arguments, command, &exit_code] { exit_code = RunConvert(*arguments, *command); });
}

}  // namespace video2mp3::cli
