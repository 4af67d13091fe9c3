#include "cli/serve_command.h"

#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "adapters/postgres/postgres_user_store.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_user_store.h"
#include "app/environment.h"
#include "app/serve_app.h"
#include "cli/exit_codes.h"
#include "video2mp3/auth/password_hasher.h"

namespace video2mp3::cli {

namespace {

constexpr const char* kDefaultDataDir = "video2mp3-data";

struct ServeArguments {
    std::string data_dir = kDefaultDataDir;
    std::string listen = "127.0.0.1:8080";
    int workers = 0;
};

int RunServeCommand(const ServeArguments& arguments, const CLI::App& command) {
    try {
        app::ConfigureLogging();
        app::ServeConfig config;
        config.data_dir = arguments.data_dir;
        const std::string listen =
            command.count("--listen") > 0
                ? arguments.listen
                : app::EnvString("VIDEO2MP3_LISTEN").value_or(arguments.listen);
        std::tie(config.host, config.port) = app::ParseListen(
            listen, command.count("--listen") > 0 ? "--listen" : "VIDEO2MP3_LISTEN");
        config.workers = command.count("--workers") > 0
                             ? arguments.workers
                             : static_cast<int>(app::EnvInteger("VIDEO2MP3_WORKERS", 0, 0, 256));
        config.max_upload_bytes = static_cast<std::uint64_t>(
            app::EnvInteger("VIDEO2MP3_MAX_UPLOAD_BYTES", 2LL << 30, 1, std::int64_t{1} << 50));
        config.public_url = app::EnvString("VIDEO2MP3_PUBLIC_URL").value_or("");
        if (!config.public_url.empty() && config.public_url.rfind("http://", 0) != 0 &&
            config.public_url.rfind("https://", 0) != 0) {
            throw app::ConfigError(
                "VIDEO2MP3_PUBLIC_URL: expected an http:// or https:// URL, got '" +
                config.public_url + "'");
        }
        config.trusted_proxy_hops =
            static_cast<int>(app::EnvInteger("VIDEO2MP3_TRUSTED_PROXY_HOPS", 0, 0, 10));
        config.jwt_secret = app::EnvString("VIDEO2MP3_JWT_SECRET").value_or("");
        config.smtp_url = app::EnvString("VIDEO2MP3_SMTP_URL").value_or("");
        config.smtp_username = app::EnvString("VIDEO2MP3_SMTP_USER").value_or("");
        config.smtp_password = app::EnvString("VIDEO2MP3_SMTP_PASSWORD").value_or("");
        config.smtp_tls = app::EnvBool("VIDEO2MP3_SMTP_TLS", true);
        config.mail_from = app::EnvString("VIDEO2MP3_MAIL_FROM").value_or(config.mail_from);
        app::RequireMailbox("VIDEO2MP3_MAIL_FROM", config.mail_from);
        return app::RunServe(config);
    } catch (const app::ConfigError& error) {
        app::PrintLine(std::cerr, std::string("video2mp3 serve: ") + error.what());
        return kExitConfig;
    }
}

/// A password from standard input: one line, without echo when it is a terminal.
std::string ReadPassword(const std::string& prompt) {
    termios saved{};
    const bool terminal = ::isatty(STDIN_FILENO) != 0 && ::tcgetattr(STDIN_FILENO, &saved) == 0;
    if (terminal) {
        std::cerr << prompt << std::flush;
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string password;
    std::getline(std::cin, password);
    if (terminal) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        std::cerr << "\n";
    }
    if (!password.empty() && password.back() == '\r') {
        password.pop_back();
    }
    return password;
}

bool CheckPassword(const std::string& password) {
    if (password.size() < 8) {
        std::cerr << "video2mp3 user: the password must be at least 8 characters\n";
        return false;
    }
    return true;
}

}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
    auto arguments = std::make_shared<ServeArguments>();
    CLI::App* command = app.add_subcommand(
        "serve", "Run the whole service in one process: gateway, auth, converters, notifier");
    command->add_option("--data-dir", arguments->data_dir,
                        "Folder for the database, files and mail (default ./video2mp3-data)");
    command->add_option("--listen", arguments->listen,
                        "Address for the HTTP API (default 127.0.0.1:8080; env VIDEO2MP3_LISTEN)");
    command
        ->add_option("--workers", arguments->workers,
                     "Converter threads (default one per core; env VIDEO2MP3_WORKERS)")
        ->check(CLI::Range(1, 256));
    command->callback(
        [arguments, command, &exit_code] { exit_code = RunServeCommand(*arguments, *command); });
}

void AddUserCommand(CLI::App& app, int& exit_code) {
    auto data_dir = std::make_shared<std::string>(kDefaultDataDir);
    auto postgres_url = std::make_shared<std::string>();
    auto email = std::make_shared<std::string>();
    auto admin = std::make_shared<bool>(false);
    CLI::App* user = app.add_subcommand(
        "user", "Manage accounts: of a serve data folder, or in PostgreSQL (distributed mode)");
    user->require_subcommand(1);
    user->add_option("--data-dir", *data_dir, "The data folder of `serve`")->capture_default_str();
    user->add_option("--postgres-url", *postgres_url,
                     "The auth service's PostgreSQL (default: VIDEO2MP3_POSTGRES_URL); when "
                     "given, --data-dir is not used");

    const auto with_store = [data_dir, postgres_url, &exit_code](
                                const std::function<int(UserStore&)>& action, bool create = false) {
        try {
            const std::string postgres =
                !postgres_url->empty() ? *postgres_url
                                       : app::EnvString("VIDEO2MP3_POSTGRES_URL").value_or("");
            if (!postgres.empty()) {
                adapters::PostgresConfig config;
                config.url = postgres;
                config.pool_size = 1;
                adapters::PostgresUserStore users(config);
                exit_code = action(users);
                return;
            }
            const auto database_path = std::filesystem::path(*data_dir) / "video2mp3.db";
            if (!create && !std::filesystem::exists(database_path)) {
                std::cerr << "video2mp3 user: " << *data_dir
                          << " holds no video2mp3 data (wrong --data-dir?)\n";
                exit_code = kExitUsage;
                return;
            }
            std::filesystem::create_directories(*data_dir);
            adapters::SqliteDatabase database(std::filesystem::path(*data_dir) / "video2mp3.db");
            adapters::SqliteUserStore users(database);
            exit_code = action(users);
        } catch (const std::exception& error) {
            std::cerr << "video2mp3 user: " << error.what() << "\n";
            exit_code = kExitSoftware;
        }
    };

    CLI::App* add = user->add_subcommand("add", "Add a user; the password is read from stdin");
    add->fallthrough();
    add->add_option("EMAIL", *email, "The user's e-mail, used to log in")->required();
    add->add_flag("--admin", *admin, "May read every user's jobs");
    add->callback([=] {
        with_store(
            [&](UserStore& users) {
                if (email->find('@') == std::string::npos) {
                    std::cerr << "video2mp3 user: '" << *email << "' is not an e-mail address\n";
                    return kExitUsage;
                }
                // HTTP Basic ends the name at the first ':', so such a user could never log in.
                if (email->find_first_of(": \t\r\n") != std::string::npos) {
                    std::cerr << "video2mp3 user: '" << *email
                              << "' cannot be a login name (no ':' and no spaces)\n";
                    return kExitUsage;
                }
                const std::string password = ReadPassword("Password for " + *email + ": ");
                if (!CheckPassword(password)) {
                    return kExitUsage;
                }
                if (!users.Add(*email, auth::PasswordHasher::Hash(password), *admin)) {
                    std::cerr << "video2mp3 user: " << *email << " already exists\n";
                    return kExitUsage;
                }
                std::cout << "added " << *email << (*admin ? " (admin)" : "") << "\n";
                return kExitOk;
            },
            true);
    });

    CLI::App* list = user->add_subcommand("list", "List users");
    list->fallthrough();
    list->callback([=] {
        with_store([](UserStore& users) {
            for (const User& user_entry : users.List()) {
                std::cout << user_entry.email << (user_entry.admin ? "\tadmin" : "\tuser") << "\n";
            }
            return kExitOk;
        });
    });

    CLI::App* passwd = user->add_subcommand("passwd", "Set a user's password (read from stdin)");
    passwd->fallthrough();
    passwd->add_option("EMAIL", *email)->required();
    passwd->callback([=] {
        with_store([&](UserStore& users) {
            const std::string password = ReadPassword("New password for " + *email + ": ");
            if (!CheckPassword(password)) {
                return kExitUsage;
            }
            if (!users.SetPasswordHash(*email, auth::PasswordHasher::Hash(password))) {
                std::cerr << "video2mp3 user: no user " << *email << "\n";
                return kExitUsage;
            }
            std::cout << "password changed for " << *email << "\n";
            return kExitOk;
        });
    });

    CLI::App* remove = user->add_subcommand("remove", "Remove a user");
    remove->fallthrough();
    remove->add_option("EMAIL", *email)->required();
    remove->callback([=] {
        with_store([&](UserStore& users) {
            if (!users.Remove(*email)) {
                std::cerr << "video2mp3 user: no user " << *email << "\n";
                return kExitUsage;
            }
            std::cout << "removed " << *email << "\n";
            return kExitOk;
        });
    });
}

}  // namespace video2mp3::cli
