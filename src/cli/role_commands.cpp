#include "cli/role_commands.h"

#include <iostream>
#include <memory>

#include "app/environment.h"
#include "app/role_apps.h"
#include "cli/exit_codes.h"

namespace video2mp3::cli {

namespace {

/// Runs one role: its settings are read and checked, then it runs until a signal. A
/// setting it cannot use exits 78 with the variable's name.
int RunRole(const std::string& role, const std::function<int()>& run) {
    try {
        app::ConfigureLogging();
        return run();
    } catch (const app::ConfigError& error) {
        app::PrintLine(std::cerr, "video2mp3 " + role + ": " + error.what());
        return kExitConfig;
    } catch (const std::exception& error) {
        app::PrintLine(std::cerr, "video2mp3 " + role + ": " + error.what());
        return kExitSoftware;
    }
}

app::Listen ListenFlag(const std::string& text) {
    const auto [host, port] = app::ParseListen(text, "--listen");
    return app::Listen{host, port};
}

}  // namespace

void AddRoleCommands(CLI::App& app, int& exit_code) {
    auto listen = std::make_shared<std::string>();
    auto workers = std::make_shared<int>(0);

    CLI::App* gateway = app.add_subcommand(
        "gateway", "Distributed mode: the public HTTP API (login, upload, jobs, download)");
    gateway->add_option("--listen", *listen, "HOST:PORT (default VIDEO2MP3_LISTEN, 0.0.0.0:8080)");
    gateway->callback([=, &exit_code] {
        exit_code = RunRole("gateway", [&] {
            auto config = app::LoadGatewayRoleConfig();
            if (!listen->empty()) {
                config.listen = ListenFlag(*listen);
            }
            return app::RunGatewayRole(config);
        });
    });

    CLI::App* auth = app.add_subcommand(
        "auth", "Distributed mode: the auth service (POST /login, POST /validate), on PostgreSQL");
    auth->add_option("--listen", *listen, "HOST:PORT (default VIDEO2MP3_LISTEN, 0.0.0.0:8081)");
    auth->callback([=, &exit_code] {
        exit_code = RunRole("auth", [&] {
            auto config = app::LoadAuthRoleConfig();
            if (!listen->empty()) {
                config.listen = ListenFlag(*listen);
            }
            return app::RunAuthRole(config);
        });
    });

    CLI::App* converter = app.add_subcommand(
        "converter", "Distributed mode: convert jobs from the video queue into MP3s");
    converter
        ->add_option("--workers", *workers, "Conversions at once (default VIDEO2MP3_WORKERS, 1)")
        ->check(CLI::Range(1, 256));
    converter->callback([=, &exit_code] {
        exit_code = RunRole("converter", [&] {
            auto config = app::LoadConverterRoleConfig();
            if (*workers > 0) {
                config.workers = *workers;
            }
            return app::RunConverterRole(config);
        });
    });

    CLI::App* notifier = app.add_subcommand(
        "notifier", "Distributed mode: e-mail owners when their MP3 is ready or failed");
    notifier->callback([&exit_code] {
        exit_code =
            RunRole("notifier", [] { return app::RunNotifierRole(app::LoadNotifierRoleConfig()); });
    });
}

}  // namespace video2mp3::cli
