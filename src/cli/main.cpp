#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/convert_command.h"
#include "cli/exit_codes.h"
#include "cli/role_commands.h"
#include "cli/serve_command.h"

namespace {

void ConfigureLogging() {
    // Logs go to stderr: stdout carries results (reports, tokens, the listening address).
    spdlog::set_default_logger(spdlog::stderr_color_mt("video2mp3"));
    const char* level = std::getenv("VIDEO2MP3_LOG_LEVEL");
    spdlog::set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::warn);
}

}  // namespace

int main(int argc, char** argv) {
    ConfigureLogging();

    CLI::App app{"video2mp3: turn videos into MP3s"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "video2mp3 0.1.0");

    int exit_code = video2mp3::cli::kExitOk;
    video2mp3::cli::AddConvertCommand(app, exit_code);
    video2mp3::cli::AddServeCommand(app, exit_code);
    video2mp3::cli::AddUserCommand(app, exit_code);
    video2mp3::cli::AddRoleCommands(app, exit_code);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int status = app.exit(error);
        return status == 0 ? 0 : video2mp3::cli::kExitUsage;
    } catch (const std::exception& error) {
        std::cerr << "video2mp3: " << error.what() << "\n";
        return video2mp3::cli::kExitSoftware;
    }
    return exit_code;
}
