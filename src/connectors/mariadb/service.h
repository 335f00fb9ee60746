// The mariadb connector's I/O: one Connector/C connection running SQL, reading
// small results whole and large ones as a stream, and classify_error, which
// maps a MariaDB error number to a retryable or permanent megasync Error.
//
// A Connection is owned by one sink, reader or probe and used from one thread
// at a time (a MYSQL handle is not thread-safe). Every session runs in UTC
// with utf8mb4, a strict sql_mode without NO_BACKSLASH_ESCAPES (values.h
// relies on it) and NO_AUTO_VALUE_ON_ZERO. Messages never contain the
// password: the server's messages do not echo it and options are never logged.
#pragma once

#include <mysql.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/mariadb/endpoint.h"
#include "core/cancel.h"
#include "core/error.h"

namespace megasync::connectors::mariadb {

// An error of the server or of the client library, by error number:
//   2002, 2003, 2006, 2013, 2055 (cannot connect, connection lost), 1040 (too
//   many connections), 1053 (shutdown), 1205 (lock wait timeout), 1213
//   (deadlock), 1317 (interrupted), 1927 (connection killed), 4031 (idle
//   client disconnected)                            -> kRetryable
//   everything else (1045 access denied, 1049 unknown database, 1146 no such
//   table, 1064 syntax, data and constraint errors) -> kPermanent
// The message ends with "(MariaDB error N)".
Error classify_error(unsigned int number, std::string_view message);

// A whole result: rows of column texts (nullopt is NULL).
using Rows = std::vector<std::vector<std::optional<std::string>>>;

// One row of a streamed result.
struct StreamRow {
  const MYSQL_FIELD* fields;
  unsigned int columns;
  MYSQL_ROW values;  // values[i] is nullptr for NULL
  const unsigned long* lengths;
};

class Connection {
 public:
  // Connects to the server of `options` (its database as the default one),
  // giving up at `deadline` (MYSQL_OPT_CONNECT_TIMEOUT, rounded up to a
  // second; with `bound_reads`, reads and writes too). Errors say what failed
  // and how to fix it where that is clear (access denied, unknown database,
  // server not listening).
  static Result<std::unique_ptr<Connection>> open(const MariadbOptions& options, Deadline deadline,
                                                  bool bound_reads = false);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement, discarding any rows.
  Status exec(const std::string& sql);
  // Runs one statement and returns all its rows.
  Result<Rows> query(const std::string& sql);
  // Runs one SELECT and calls `visit` with each row as it arrives
  // (mysql_use_result: memory stays bounded). Stops at the first error of
  // `visit` and returns it, after discarding the rest of the result.
  Status stream(const std::string& sql, const std::function<Status(const StreamRow&)>& visit);

  // The error number of the last failed call (0 when none).
  unsigned int last_errno() const { return last_errno_; }

 private:
  explicit Connection(MYSQL* conn) : conn_(conn) {}
  tl::unexpected<Error> error(std::string_view what);

  MYSQL* conn_;
  unsigned int last_errno_ = 0;
};

}  // namespace megasync::connectors::mariadb
