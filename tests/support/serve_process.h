#pragma once

// Runs `video2mp3 serve` as a child process on a private port and data folder, for
// end-to-end tests over real HTTP.

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "support/child_process.h"

namespace video2mp3::testing {

class ServeProcess {
 public:
    /// Starts serve on 127.0.0.1 with a free port (unless `env` gives VIDEO2MP3_LISTEN), one
    /// converter worker and `env` added to the environment; returns once it says it is
    /// listening. Fails the test otherwise.
    ServeProcess(std::filesystem::path data_dir, std::map<std::string, std::string> env = {});

    /// Stops it with SIGTERM (if still running) and waits.
    ~ServeProcess();

    ServeProcess(const ServeProcess&) = delete;
    ServeProcess& operator=(const ServeProcess&) = delete;

    int Port() const { return port_; }
    std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

    /// SIGKILL, as a crash or an OOM kill would; waits for the process to be gone.
    void Kill();

    /// SIGTERM and wait; returns the exit status.
    int Terminate();

    /// Resident memory now, from /proc.
    long RssKib() const;

    bool Running() const;

    /// Everything it wrote to stderr so far (its log).
    std::string Log() const;

 private:
    std::filesystem::path data_dir_;
    std::unique_ptr<ChildProcess> process_;
    int port_ = 0;
};

/// Adds a user to a data folder with `video2mp3 user add` (password on stdin).
void AddUser(const std::filesystem::path& data_dir, const std::string& email,
             const std::string& password, bool admin = false);

}  // namespace video2mp3::testing
