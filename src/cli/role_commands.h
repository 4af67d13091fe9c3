#pragma once

#include <CLI/CLI.hpp>

namespace video2mp3::cli {

/// `video2mp3 gateway|auth|converter|notifier`: one role of distributed mode each, set up
/// by VIDEO2MP3_* variables (see README, "Distributed mode"); --listen and --workers
/// override the variables.
void AddRoleCommands(CLI::App& app, int& exit_code);

}  // namespace video2mp3::cli
