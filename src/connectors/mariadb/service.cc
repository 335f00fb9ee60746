#include "connectors/mariadb/service.h"

#include <fmt/format.h>
#include <mysqld_error.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

namespace megasync::connectors::mariadb {
namespace {

// Client error numbers (errmsg.h) that mean the server was not reached or the
// connection is gone.
constexpr unsigned int kConnectionError = 2002;
constexpr unsigned int kConnHostError = 2003;
constexpr unsigned int kServerGone = 2006;
constexpr unsigned int kServerLost = 2013;
constexpr unsigned int kServerLostExtended = 2055;

constexpr const char* kSessionSetup =
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,"
    "NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00'";

// A hint for the connection failures people meet first.
std::string connect_hint(unsigned int number) {
  switch (number) {
    case ER_ACCESS_DENIED_ERROR:
      return " (check the endpoint's user and password)";
    case ER_DBACCESS_DENIED_ERROR:
      return " (grant the user access to the database, or fix the endpoint's database name)";
    case ER_BAD_DB_ERROR:
      return " (create the database, or fix the endpoint's database name)";
    case kConnectionError:
    case kConnHostError:
      return " (is the server running, and listening on that host and port?)";
    default:
      return "";
  }
}

void init_library() {
  // mysql_library_init is not thread-safe; mysql_init would call it lazily.
  static std::once_flag once;
  std::call_once(once, [] { (void)mysql_library_init(0, nullptr, nullptr); });
}

}  // namespace

Error classify_error(unsigned int number, std::string_view message) {
  static constexpr unsigned int kRetryable[] = {kConnectionError,
                                                kConnHostError,
                                                kServerGone,
                                                kServerLost,
                                                kServerLostExtended,
                                                ER_CON_COUNT_ERROR,
                                                ER_SERVER_SHUTDOWN,
                                                ER_LOCK_WAIT_TIMEOUT,
                                                ER_LOCK_DEADLOCK,
                                                ER_QUERY_INTERRUPTED,
                                                1927 /* ER_CONNECTION_KILLED */,
                                                4031 /* ER_CLIENT_INTERACTION_TIMEOUT */};
  const bool retryable =
      std::find(std::begin(kRetryable), std::end(kRetryable), number) != std::end(kRetryable);
  return Error(retryable ? ErrorCode::kRetryable : ErrorCode::kPermanent,
               fmt::format("{} (MariaDB error {})", message, number));
}

Result<std::unique_ptr<Connection>> Connection::open(const MariadbOptions& options,
                                                     Deadline deadline, bool bound_reads) {
  init_library();
  MYSQL* conn = mysql_init(nullptr);
  if (conn == nullptr) {
    return make_error(ErrorCode::kRetryable, "mariadb: out of memory while connecting");
  }
  const auto remaining = std::chrono::duration<double>(deadline.remaining()).count();
  const unsigned int timeout =
      static_cast<unsigned int>(std::clamp(static_cast<int>(std::ceil(remaining)), 1, 3600));
  mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  if (bound_reads) {
    mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  }
  mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_options(conn, MYSQL_INIT_COMMAND, kSessionSetup);
  if (mysql_real_connect(conn, options.host.c_str(), options.user.c_str(),
                         options.password.empty() ? nullptr : options.password.c_str(),
                         options.database.empty() ? nullptr : options.database.c_str(),
                         static_cast<unsigned int>(options.port), nullptr, 0) == nullptr) {
    const unsigned int number = mysql_errno(conn);
    const std::string message = mysql_error(conn);
    mysql_close(conn);
    Error classified = classify_error(number, message);
    return make_error(classified.code(), "cannot connect to mariadb: {}{}", classified.message(),
                      connect_hint(number));
  }
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() {
  mysql_close(conn_);
}

tl::unexpected<Error> Connection::error(std::string_view what) {
  last_errno_ = mysql_errno(conn_);
  return fail(classify_error(last_errno_, fmt::format("{}: {}", what, mysql_error(conn_))));
}

Status Connection::exec(const std::string& sql) {
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) {
    return error("query");
  }
  last_errno_ = 0;
  if (MYSQL_RES* result = mysql_store_result(conn_)) {
    mysql_free_result(result);
  } else if (mysql_field_count(conn_) != 0) {
    return error("read result");
  }
  return ok();
}

Result<Rows> Connection::query(const std::string& sql) {
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) {
    return error("query");
  }
  last_errno_ = 0;
  MYSQL_RES* result = mysql_store_result(conn_);
  if (result == nullptr) {
    if (mysql_field_count(conn_) != 0) {
      return error("read result");
    }
    return Rows();
  }
  std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> owned(result, &mysql_free_result);
  const unsigned int columns = mysql_num_fields(result);
  Rows rows;
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    const unsigned long* lengths = mysql_fetch_lengths(result);
    std::vector<std::optional<std::string>>& out = rows.emplace_back();
    for (unsigned int i = 0; i < columns; ++i) {
      if (row[i] == nullptr) {
        out.emplace_back();
      } else {
        out.emplace_back(std::string(row[i], lengths[i]));
      }
    }
  }
  return rows;
}

Status Connection::stream(const std::string& sql,
                          const std::function<Status(const StreamRow&)>& visit) {
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) {
    return error("query");
  }
  last_errno_ = 0;
  MYSQL_RES* result = mysql_use_result(conn_);
  if (result == nullptr) {
    if (mysql_field_count(conn_) != 0) {
      return error("read result");
    }
    return ok();
  }
  // Freeing an unfinished result reads and drops the rest of it.
  std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> owned(result, &mysql_free_result);
  StreamRow row{.fields = mysql_fetch_fields(result),
                .columns = mysql_num_fields(result),
                .values = nullptr,
                .lengths = nullptr};
  while ((row.values = mysql_fetch_row(result)) != nullptr) {
    row.lengths = mysql_fetch_lengths(result);
    if (Status s = visit(row); !s) {
      return s;
    }
  }
  if (mysql_errno(conn_) != 0) {
    return error("read rows");
  }
  return ok();
}

}  // namespace megasync::connectors::mariadb
