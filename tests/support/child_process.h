#pragma once

// Starting the video2mp3 binary as a child for end-to-end tests: its stdout on a pipe we
// read, its stderr (the log) in a file, and an environment without the caller's VIDEO2MP3_*
// variables except those given.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace video2mp3::testing {

class ChildProcess {
 public:
    /// Starts argv; fails the current test when it cannot.
    ChildProcess(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env,
                 const std::filesystem::path& log_path);
    /// SIGTERM and wait, if still running.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    /// Reads stdout lines until one contains `wanted`; that line, or "" when none came within
    /// `timeout` or the child closed its stdout. Closes the pipe afterwards.
    std::string WaitForLine(const std::string& wanted, std::chrono::milliseconds timeout);

    pid_t Pid() const { return pid_; }
    bool Running() const;
    /// SIGKILL, as a crash or an OOM kill would; waits until it is gone.
    void Kill();
    /// SIGTERM; waits and returns the exit status (128 + signal when killed by one).
    int Terminate();
    /// Sends `signal` and returns at once.
    void Signal(int signal);
    /// Waits for the child to end; its exit status as Terminate gives it.
    int Wait();
    /// Everything it wrote to stderr so far.
    std::string Log() const;
    /// Resident memory now, from /proc; -1 when gone.
    long RssKib() const;

 private:
    std::filesystem::path log_path_;
    pid_t pid_ = -1;
    int stdout_fd_ = -1;
};

}  // namespace video2mp3::testing
