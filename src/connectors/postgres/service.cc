#include "connectors/postgres/service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace megasync::connectors::postgres {
namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// A hint for the connection failures people meet first.
std::string connect_hint(const std::string& message) {
  if (message.find("password authentication failed") != std::string::npos ||
      message.find("no password supplied") != std::string::npos) {
    return " (check the endpoint's user and password)";
  }
  if (message.find("does not exist") != std::string::npos &&
      message.find("database") != std::string::npos) {
    return " (create the database, or fix the endpoint's database name)";
  }
  if (message.find("Connection refused") != std::string::npos) {
    return " (is the server running, and listening on that host and port?)";
  }
  if (message.find("no pg_hba.conf entry") != std::string::npos) {
    return " (allow this client in the server's pg_hba.conf)";
  }
  return "";
}

}  // namespace

Error classify_error(std::string_view sqlstate, std::string message) {
  if (sqlstate.size() < 2) {
    return Error(ErrorCode::kRetryable, std::move(message));  // the connection broke
  }
  const std::string_view klass = sqlstate.substr(0, 2);
  static constexpr std::string_view kRetryableClasses[] = {"08", "40", "53", "55", "57", "58"};
  const bool retryable = std::find(std::begin(kRetryableClasses), std::end(kRetryableClasses),
                                   klass) != std::end(kRetryableClasses);
  return Error(retryable ? ErrorCode::kRetryable : ErrorCode::kPermanent,
               fmt::format("{} (SQLSTATE {})", message, sqlstate));
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& conninfo, Deadline deadline,
                                                     bool replication) {
  const auto remaining = std::chrono::duration<double>(deadline.remaining()).count();
  const int timeout = std::clamp(static_cast<int>(std::ceil(remaining)), 1, 3600);
  const std::string timeout_text = std::to_string(timeout);
  const char* keys[] = {"dbname", "connect_timeout", "application_name",
                        replication ? "replication" : nullptr, nullptr};
  const char* values[] = {conninfo.c_str(), timeout_text.c_str(), "megasync",
                          replication ? "database" : nullptr, nullptr};
  // expand_dbname=1: `dbname` may be a whole conninfo or URL; the keys after
  // it (the timeout from the deadline, our application name) override it.
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return make_error(ErrorCode::kRetryable, "postgres: out of memory while connecting");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    const std::string hint = connect_hint(message);
    const bool permanent = message.find("authentication failed") != std::string::npos ||
                           message.find("invalid") != std::string::npos;
    return make_error(permanent ? ErrorCode::kPermanent : ErrorCode::kRetryable,
                      "cannot connect to postgres: {}{}", message, hint);
  }
  // Server notices ("relation ... already exists, skipping") go to the debug
  // log rather than libpq's default, stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char* message) { spdlog::debug("postgres: {}", trimmed(message)); },
      nullptr);
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() {
  PQfinish(conn_);
}

Error Connection::error_of(const PGresult* result, std::string_view what) const {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = trimmed(result != nullptr && *PQresultErrorMessage(result) != '\0'
                                    ? PQresultErrorMessage(result)
                                    : PQerrorMessage(conn_));
  if (PQstatus(conn_) == CONNECTION_BAD) {
    state = nullptr;  // whatever the result says, the connection is gone: retry
  }
  return classify_error(state != nullptr ? state : "", fmt::format("{}: {}", what, message));
}

Result<Rows> Connection::query(const std::string& sql) {
  PGresult* result = PQexec(conn_, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error error = error_of(result, "query");
    PQclear(result);
    return fail(std::move(error));
  }
  return Rows(result);
}

Result<Rows> Connection::query(const std::string& sql,
                               const std::vector<std::optional<std::string>>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& param : params) {
    values.push_back(param ? param->c_str() : nullptr);
  }
  PGresult* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0);
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error error = error_of(result, "query");
    PQclear(result);
    return fail(std::move(error));
  }
  return Rows(result);
}

Status Connection::exec(const std::string& sql) {
  Result<Rows> rows = query(sql);
  return rows ? ok() : fail(rows.error());
}

Status Connection::copy_begin(const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> start(PQexec(conn_, sql.c_str()), &PQclear);
  if (PQresultStatus(start.get()) != PGRES_COPY_IN) {
    return fail(error_of(start.get(), "COPY FROM STDIN"));
  }
  return ok();
}

Status Connection::copy_put(std::string_view data) {
  if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1) {
    return fail(error_of(nullptr, "COPY data"));
  }
  return ok();
}

Status Connection::copy_end(const char* abort_message) {
  if (PQputCopyEnd(conn_, abort_message) != 1) {
    return fail(error_of(nullptr, "COPY end"));
  }
  Status finished = ok();
  while (PGresult* result = PQgetResult(conn_)) {
    if (PQresultStatus(result) != PGRES_COMMAND_OK && finished) {
      finished = fail(error_of(result, "COPY"));
    }
    PQclear(result);
  }
  return finished;
}

Status Connection::copy_in(
    const std::string& sql,
    const std::function<Status(const std::function<Status(std::string_view)>&)>& produce) {
  if (Status s = copy_begin(sql); !s) {
    return s;
  }
  Status produced = produce([this](std::string_view data) { return copy_put(data); });
  Status finished = copy_end(produced ? nullptr : "megasync: the source failed");
  return produced ? finished : produced;
}

Status Connection::copy_out(const std::string& sql,
                            const std::function<Status(std::string_view)>& consume) {
  {
    std::unique_ptr<PGresult, decltype(&PQclear)> start(PQexec(conn_, sql.c_str()), &PQclear);
    if (PQresultStatus(start.get()) != PGRES_COPY_OUT) {
      return fail(error_of(start.get(), "COPY TO STDOUT"));
    }
  }
  Status consumed = ok();
  while (true) {
    char* buffer = nullptr;
    const int n = PQgetCopyData(conn_, &buffer, /*async=*/0);
    if (n > 0) {
      if (consumed) {
        consumed = consume(std::string_view(buffer, static_cast<std::size_t>(n)));
      }
      PQfreemem(buffer);
      continue;
    }
    if (n == -2) {
      return fail(error_of(nullptr, "COPY data"));
    }
    break;  // -1: the COPY is done
  }
  Status finished = ok();
  while (PGresult* result = PQgetResult(conn_)) {
    if (PQresultStatus(result) != PGRES_COMMAND_OK && finished) {
      finished = fail(error_of(result, "COPY"));
    }
    PQclear(result);
  }
  return consumed ? finished : consumed;
}

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') {
      out += '"';
    }
  }
  return out + "\"";
}

std::string quote_literal(std::string_view text) {
  const bool backslash = text.find('\\') != std::string_view::npos;
  std::string out = backslash ? "E'" : "'";
  for (char c : text) {
    if (c == '\'' || (backslash && c == '\\')) {
      out += c;
    }
    out += c;
  }
  return out + "'";
}

}  // namespace megasync::connectors::postgres
