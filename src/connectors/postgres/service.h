// The postgres connector's I/O: one libpq connection with SQL, COPY in and
// out, and classify_error, which maps a server's SQLSTATE (or a lost
// connection) to a retryable or permanent megasync Error.
//
// A Connection is owned by one source, sink, reader or probe and used from one
// thread at a time (libpq connections are not thread-safe). Messages never
// contain the password: libpq's messages do not echo it, and conninfo strings
// are never logged.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/error.h"

namespace megasync::connectors::postgres {

// An error of the server or of libpq, classified by SQLSTATE class:
//   08 connection, 40 transaction rollback (serialization, deadlock),
//   53 insufficient resources, 55 object in use, 57 operator intervention
//   (shutdown, cancel), 58 system error          -> kRetryable
//   28 invalid authorization, 42 syntax / undefined object or privilege,
//   22 data exception, 23 integrity violation, everything else -> kPermanent
// and no SQLSTATE at all (the connection broke) -> kRetryable.
Error classify_error(std::string_view sqlstate, std::string message);

// A result set, freed by the destructor.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int count() const { return PQntuples(result_.get()); }
  int columns() const { return PQnfields(result_.get()); }
  bool null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const {
    return std::string(PQgetvalue(result_.get(), row, column),
                       static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
  }
  std::string_view name(int column) const { return PQfname(result_.get(), column); }
  // The column's type OID.
  unsigned int type(int column) const { return PQftype(result_.get(), column); }
  // Rows an INSERT, UPDATE, DELETE (or COPY, ...) affected; 0 for other commands.
  std::int64_t affected() const {
    const char* n = PQcmdTuples(result_.get());
    return *n == '\0' ? 0 : std::strtoll(n, nullptr, 10);
  }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

class Connection {
 public:
  // Connects with `conninfo` (key=value or a postgresql:// URL), giving up at
  // `deadline` (libpq's connect_timeout, rounded up to a second). Errors say
  // what failed and how to fix it where that is clear (authentication,
  // database missing, server not listening).
  // With `replication`, a logical replication connection (replication=database):
  // simple queries and replication commands only.
  static Result<std::unique_ptr<Connection>> open(const std::string& conninfo, Deadline deadline,
                                                  bool replication = false);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` (one or more statements, simple protocol); the rows of the last.
  Result<Rows> query(const std::string& sql);
  // Runs one statement with text parameters ($1, $2, ...; nullopt is NULL).
  Result<Rows> query(const std::string& sql, const std::vector<std::optional<std::string>>& params);
  Status exec(const std::string& sql);

  // COPY ... FROM STDIN: `sql` starts it, `produce` is called with a writer for
  // data (COPY text format lines) until it returns an error or ok.
  Status copy_in(
      const std::string& sql,
      const std::function<Status(const std::function<Status(std::string_view)>&)>& produce);
  // The same in steps, for a COPY that outlives one call: `sql` starts it,
  // put() sends data, end() finishes it (or aborts it with `abort_message`,
  // which the server reports as the COPY's error) and returns its outcome.
  Status copy_begin(const std::string& sql);
  Status copy_put(std::string_view data);
  Status copy_end(const char* abort_message = nullptr);
  // COPY ... TO STDOUT: calls `consume` with each row as the server sent it.
  Status copy_out(const std::string& sql, const std::function<Status(std::string_view)>& consume);

  // The server's version as an integer (150004 for 15.4).
  int server_version() const { return PQserverVersion(conn_); }
  PGconn* raw() { return conn_; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  // The error of a failed result (or of the connection when there is none).
  Error error_of(const PGresult* result, std::string_view what) const;

  PGconn* conn_;
};

// Quoting for identifiers and literals spliced into SQL.
std::string quote_ident(std::string_view name);    // "name" with quotes doubled
std::string quote_literal(std::string_view text);  // 'text' with quotes doubled, E'' when needed

}  // namespace megasync::connectors::postgres
