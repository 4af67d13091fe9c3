#include "support/test_servers.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>

#include "support/media_tools.h"
#include "video2mp3/domain/random_id.h"

namespace video2mp3::testing {

namespace {

const char* const kHarness = VIDEO2MP3_SOURCE_DIR "/tests/support/test_servers.py";

std::string UpperCase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return text;
}

std::string ReadTrimmed(const std::filesystem::path& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    std::string value = text.str();
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
        value.pop_back();
    }
    return value;
}

}  // namespace

std::string SharedServerUrl(const std::string& kind) {
    if (const char* given = std::getenv(("VIDEO2MP3_TEST_" + UpperCase(kind) + "_URL").c_str());
        given != nullptr && *given != '\0') {
        return given;
    }
    const std::filesystem::path env_file =
        std::filesystem::path(VIDEO2MP3_TEST_SERVERS_DIR) / "servers.env";
    std::ifstream file(env_file);
    std::string line;
    while (std::getline(file, line)) {
        if (line.rfind(kind + "=", 0) == 0) {
            return line.substr(kind.size() + 1);
        }
    }
    ADD_FAILURE() << "no shared " << kind << " server: run the tests through ctest (its "
                  << "test_servers_up fixture starts them into " << VIDEO2MP3_TEST_SERVERS_DIR
                  << ") or set VIDEO2MP3_TEST_" << UpperCase(kind) << "_URL";
    return "";
}

std::vector<std::string> MongoUrisUnderTest() {
    std::vector<std::string> uris;
    const std::string congodb = SharedServerUrl("congodb");
    if (!congodb.empty()) {
        uris.push_back(congodb);
    }
    if (const char* real = std::getenv("VIDEO2MP3_TEST_MONGODB_URI");
        real != nullptr && *real != '\0') {
        uris.emplace_back(real);
    }
    return uris;
}

std::string WithDatabase(const std::string& url, const std::string& database) {
    const auto scheme = url.find("://");
    const std::size_t from = scheme == std::string::npos ? 0 : scheme + 3;
    const std::size_t query = std::min(url.find('?', from), url.size());
    const std::size_t slash = std::min(url.find('/', from), query);
    return url.substr(0, slash) + "/" + database + url.substr(query);
}

int UnusedPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

ScratchPostgresDatabase::ScratchPostgresDatabase(std::string server_url)
    : server_url_(std::move(server_url)), name_("v2m_" + RandomId()) {
    pqxx::connection connection(server_url_);
    pqxx::nontransaction statement(connection);
    statement.exec0("CREATE DATABASE " + name_);
    url_ = WithDatabase(server_url_, name_);
}

ScratchPostgresDatabase::~ScratchPostgresDatabase() {
    try {
        pqxx::connection connection(server_url_);
        pqxx::nontransaction statement(connection);
        statement.exec0("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& error) {
        ADD_FAILURE() << "cannot drop " << name_ << ": " << error.what();
    }
}

TestServer::TestServer(std::string kind) : kind_(std::move(kind)) {
    char pattern[] = "/tmp/video2mp3-server-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    if (made == nullptr) {
        ADD_FAILURE() << "cannot make a folder for a " << kind_ << " server";
        return;
    }
    dir_ = made;
    Start();
    port_ = std::atoi(ReadTrimmed(dir_ / "port").c_str());
}

TestServer::~TestServer() {
    if (!dir_.empty()) {
        Run({"/usr/bin/python3", kHarness, "stop", "--dir", dir_.string(), "--remove"});
    }
}

void TestServer::Start() {
    Invoke({"start", kind_, "--dir", dir_.string()});
    url_ = ReadTrimmed(dir_ / "url");
}

void TestServer::Stop() {
    Invoke({"stop", "--dir", dir_.string()});
}

void TestServer::Kill() {
    Invoke({"stop", "--kill", "--dir", dir_.string()});
}

void TestServer::Invoke(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv = {"/usr/bin/python3", kHarness};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    const CommandResult result = Run(argv);
    if (result.exit_code != 0) {
        ADD_FAILURE() << "test_servers.py " << arguments.front() << " " << kind_ << " failed (exit "
                      << result.exit_code << "):\n"
                      << result.out << result.err;
    }
}

}  // namespace video2mp3::testing
