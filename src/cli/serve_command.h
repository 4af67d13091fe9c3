#pragma once

#include <CLI/CLI.hpp>

namespace video2mp3::cli {

/// `video2mp3 serve [--data-dir DIR] [--listen HOST:PORT] [--workers N]`.
void AddServeCommand(CLI::App& app, int& exit_code);

/// `video2mp3 user add|list|passwd|remove` on a data folder or, with --postgres-url or
/// VIDEO2MP3_POSTGRES_URL, on the auth service's PostgreSQL.
void AddUserCommand(CLI::App& app, int& exit_code);

}  // namespace video2mp3::cli
