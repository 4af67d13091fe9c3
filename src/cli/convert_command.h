#pragma once

#include <CLI/CLI.hpp>

namespace video2mp3::cli {

/// Registers `video2mp3 convert INPUT [-o OUTPUT.mp3]` on the application. The subcommand
/// stores its exit status in `exit_code` when it runs.
void AddConvertCommand(CLI::App& app, int& exit_code);

}  // namespace video2mp3::cli
