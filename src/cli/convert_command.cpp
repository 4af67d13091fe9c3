#include "cli/convert_command.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

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

    std::unique_ptr<media::FileByteSource> source;
    try {
        source = std::make_unique<media::FileByteSource>(input);
    } catch (const media::ByteSourceError& error) {
        std::cerr << "video2mp3: " << error.what() << "\n";
        return kExitNoInput;
    }

    media::ProgressCallback progress;
    if (arguments.progress) {
        progress = [](double percent) { std::fprintf(stderr, "progress %3.0f%%\n", percent); };
    }

    media::ConvertReport report;
    int status = kExitOk;
    nlohmann::json error_json;
    try {
        media::Convert(*source, output, options, report, progress);
    } catch (const media::MediaError& error) {
        std::cerr << "video2mp3: " << input.string() << ": " << error.what() << "\n";
        status = ExitCodeFor(error.Kind());
        error_json = {{"kind", media::ErrorKindName(error.Kind())}, {"message", error.what()}};
    }

    if (arguments.json) {
        nlohmann::json json = media::ToJson(report);
        json["error"] = error_json;
        std::cout << json.dump(2) << "\n";
    } else if (status == kExitOk) {
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

    command->add_option("INPUT", arguments->input, "Video or audio file to convert")
        ->required()
        ->check(CLI::ExistingFile);
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
