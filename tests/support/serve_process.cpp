#include "support/serve_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "support/media_tools.h"

extern char** environ;

namespace video2mp3::testing {

namespace {

/// Reads one line from `fd`, waiting at most `timeout`.
std::string ReadLine(int fd, std::chrono::milliseconds timeout) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd entry{fd, POLLIN, 0};
        if (::poll(&entry, 1, 100) <= 0) {
            continue;
        }
        char c = 0;
        if (::read(fd, &c, 1) != 1) {
            break;
        }
        if (c == '\n') {
            return line;
        }
        line += c;
    }
    return line;
}

}  // namespace

ServeProcess::ServeProcess(std::filesystem::path data_dir, std::map<std::string, std::string> env)
    : data_dir_(std::move(data_dir)) {
    std::filesystem::create_directories(data_dir_);
    log_path_ = data_dir_.parent_path() / (data_dir_.filename().string() + ".serve.log");

    int out[2];
    if (::pipe(out) != 0) {
        ADD_FAILURE() << "pipe failed";
        return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);

    std::vector<std::string> variables;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string variable = *entry;
        const std::string name = variable.substr(0, variable.find('='));
        if (env.count(name) == 0 && name.rfind("VIDEO2MP3_", 0) != 0) {
            variables.push_back(variable);
        }
    }
    for (const auto& [name, value] : env) {
        variables.push_back(name + "=" + value);
    }
    std::vector<char*> envp;
    for (std::string& variable : variables) {
        envp.push_back(variable.data());
    }
    envp.push_back(nullptr);

    std::vector<std::string> args = {VIDEO2MP3_BINARY,   "serve",    "--data-dir",
                                     data_dir_.string(), "--listen", "127.0.0.1:0",
                                     "--workers",        "1"};
    std::vector<char*> argv;
    for (std::string& arg : args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);

    const int spawned = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (spawned != 0) {
        ::close(out[0]);
        ADD_FAILURE() << "cannot start serve";
        pid_ = -1;
        return;
    }

    std::string line;
    for (int i = 0; i < 20 && line.find("listening on http://") == std::string::npos; ++i) {
        line = ReadLine(out[0], std::chrono::seconds(20));
    }
    ::close(out[0]);
    const auto at = line.rfind(':');
    if (line.find("listening on http://") == std::string::npos || at == std::string::npos) {
        ADD_FAILURE() << "serve did not start; said '" << line << "'; log:\n" << Log();
        return;
    }
    port_ = std::stoi(line.substr(at + 1));
}

ServeProcess::~ServeProcess() {
    if (Running()) {
        Terminate();
    }
}

bool ServeProcess::Running() const {
    return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0;
}

void ServeProcess::Kill() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
}

int ServeProcess::Terminate() {
    if (pid_ <= 0) {
        return -1;
    }
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

long ServeProcess::RssKib() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::stol(line.substr(6));
        }
    }
    return -1;
}

std::string ServeProcess::Log() const {
    std::ifstream file(log_path_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

void AddUser(const std::filesystem::path& data_dir, const std::string& email,
             const std::string& password, bool admin) {
    const std::string command = "printf '%s\\n' '" + password +
                                "' | '" VIDEO2MP3_BINARY "' user add '" + email + "' --data-dir '" +
                                data_dir.string() + "'" + (admin ? " --admin" : "");
    const CommandResult result = Run({"sh", "-c", command});
    ASSERT_EQ(result.exit_code, 0) << result.err;
}

}  // namespace video2mp3::testing
