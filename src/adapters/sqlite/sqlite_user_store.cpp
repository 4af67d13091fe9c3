#include "adapters/sqlite/sqlite_user_store.h"

#include <cctype>

#include "video2mp3/domain/random_id.h"

namespace video2mp3::adapters {

namespace {

constexpr const char* kUserColumns = "id, email, password_hash, admin, created_at_ms";

std::string LowerCase(const std::string& text) {
    std::string lower = text;
    for (char& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return lower;
}

User ReadUser(const SqliteStatement& row) {
    User user;
    user.id = row.Text(0);
    user.email = row.Text(1);
    user.password_hash = row.Text(2);
    user.admin = row.Int(3) != 0;
    user.created_at_ms = row.Int64(4);
    return user;
}

}  // namespace

SqliteUserStore::SqliteUserStore(SqliteDatabase& database) : database_(database) {}

std::optional<User> SqliteUserStore::Add(const std::string& email, const std::string& password_hash,
                                         bool admin) {
    User user;
    user.id = RandomId();
    user.email = LowerCase(email);
    user.password_hash = password_hash;
    user.admin = admin;
    user.created_at_ms = UnixNowMs();

    SqliteSession session(database_);
    session
        .Prepare(
            "INSERT INTO users (id, email, password_hash, admin, created_at_ms) "
            "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (email) DO NOTHING")
        .Bind(1, user.id)
        .Bind(2, user.email)
        .Bind(3, user.password_hash)
        .Bind(4, user.admin ? 1 : 0)
        .Bind(5, user.created_at_ms)
        .Run();
    if (session.Changes() == 0) {
        return std::nullopt;
    }
    return user;
}

std::optional<User> SqliteUserStore::FindByEmail(const std::string& email) {
    return FindOne("email", LowerCase(email));
}

std::optional<User> SqliteUserStore::FindById(const std::string& id) {
    return FindOne("id", id);
}

std::vector<User> SqliteUserStore::List() {
    SqliteSession session(database_);
    SqliteStatement select =
        session.Prepare(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY email");

    std::vector<User> users;
    while (select.Step()) {
        users.push_back(ReadUser(select));
    }
    return users;
}

bool SqliteUserStore::SetPasswordHash(const std::string& email, const std::string& password_hash) {
    SqliteSession session(database_);
    session.Prepare("UPDATE users SET password_hash = ?1 WHERE email = ?2")
        .Bind(1, password_hash)
        .Bind(2, LowerCase(email))
        .Run();
    return session.Changes() > 0;
}

bool SqliteUserStore::Remove(const std::string& email) {
    SqliteSession session(database_);
    session.Prepare("DELETE FROM users WHERE email = ?1").Bind(1, LowerCase(email)).Run();
    return session.Changes() > 0;
}

bool SqliteUserStore::Ready() {
    return database_.Ready();
}

std::optional<User> SqliteUserStore::FindOne(const char* column, const std::string& key) {
    SqliteSession session(database_);
    SqliteStatement select = session.Prepare(std::string("SELECT ") + kUserColumns +
                                             " FROM users WHERE " + column + " = ?1");
    select.Bind(1, key);

    if (!select.Step()) {
        return std::nullopt;
    }
    return ReadUser(select);
}

}  // namespace video2mp3::adapters
