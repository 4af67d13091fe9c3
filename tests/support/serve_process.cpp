#include "support/serve_process.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "support/media_tools.h"

namespace video2mp3::testing {

ServeProcess::ServeProcess(std::filesystem::path data_dir, std::map<std::string, std::string> env)
    : data_dir_(std::move(data_dir)) {
    std::filesystem::create_directories(data_dir_);
    std::vector<std::string> argv = {VIDEO2MP3_BINARY,   "serve",     "--data-dir",
                                     data_dir_.string(), "--workers", "1"};
    if (env.count("VIDEO2MP3_LISTEN") == 0) {
        argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
    }
    process_ = std::make_unique<ChildProcess>(
        argv, env, data_dir_.parent_path() / (data_dir_.filename().string() + ".serve.log"));
    const std::string line =
        process_->WaitForLine("listening on http://", std::chrono::seconds(60));
    if (line.empty()) {
        ADD_FAILURE() << "serve did not start; log:\n" << Log();
        return;
    }
    port_ = std::stoi(line.substr(line.rfind(':') + 1));
}

ServeProcess::~ServeProcess() = default;

bool ServeProcess::Running() const {
    return process_->Running();
}

void ServeProcess::Kill() {
    process_->Kill();
}

int ServeProcess::Terminate() {
    return process_->Terminate();
}

long ServeProcess::RssKib() const {
    return process_->RssKib();
}

std::string ServeProcess::Log() const {
    return process_->Log();
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
