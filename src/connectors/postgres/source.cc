#include "connectors/postgres/source.h"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/pgoutput.h"
#include "connectors/postgres/sink.h"
#include "connectors/postgres/types.h"

namespace megasync::connectors::postgres {
namespace {

constexpr auto kStatusInterval = std::chrono::seconds(10);
constexpr auto kCatchUpPoll = std::chrono::milliseconds(200);
// How long a periodic run waits to reach the WAL end seen when it started.
constexpr auto kCatchUpLimit = std::chrono::seconds(60);
// How long next() waits at a time for the targets to hold a resync.
constexpr auto kAwaitRelease = std::chrono::milliseconds(5);

PgTimestamp now_pg() {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return micros - kPgEpochUnixMicros;
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

std::string replication_name(const std::string& job) {
  std::string name = "megasync_";
  for (char c : job) {
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    name += (std::isalnum(static_cast<unsigned char>(lower)) != 0 || lower == '_') ? lower : '_';
  }
  return name.substr(0, 63);
}

PostgresSource::PostgresSource(std::string conninfo, std::unique_ptr<Connection> db,
                               std::string job, std::vector<std::string> patterns,
                               SourceSettings settings)
    : conninfo_(std::move(conninfo)),
      db_(std::move(db)),
      job_(std::move(job)),
      name_(replication_name(job_)),
      patterns_(std::move(patterns)),
      settings_(std::move(settings)) {}

PostgresSource::~PostgresSource() = default;

Result<std::vector<CollectionSchema>> PostgresSource::describe() {
  if (schemas_.empty()) {
    Result<Rows> level = db_->query("SHOW wal_level");
    if (!level) {
      return fail(level.error());
    }
    if (level->count() == 1 && level->text(0, 0) != "logical") {
      return make_error(ErrorCode::kInvalidConfig,
                        "the source's wal_level is '{}': set wal_level = logical in "
                        "postgresql.conf and restart the server",
                        level->text(0, 0));
    }
    Result<std::vector<CollectionSchema>> tables = describe_tables(*db_, patterns_);
    if (!tables) {
      return fail(tables.error());
    }
    if (tables->empty()) {
      return make_error(ErrorCode::kInvalidConfig, "no table of the source matches {}",
                        fmt::join(patterns_, ", "));
    }
    schemas_ = std::move(*tables);
  }
  return schemas_;
}

Status PostgresSource::ensure_publication() {
  std::string tables;
  for (const CollectionSchema& schema : schemas_) {
    tables += (tables.empty() ? "" : ", ") + qualified_name(schema.name);
  }
  Result<Rows> exists = db_->query("SELECT 1 FROM pg_publication WHERE pubname = $1", {name_});
  if (!exists) {
    return fail(exists.error());
  }
  const std::string sql =
      exists->count() == 0
          ? fmt::format("CREATE PUBLICATION {} FOR TABLE {}", quote_ident(name_), tables)
          : fmt::format("ALTER PUBLICATION {} SET TABLE {}", quote_ident(name_), tables);
  Status done = db_->exec(sql);
  if (!done && done.error().message().find("permission denied") != std::string::npos) {
    return make_error(ErrorCode::kPermanent,
                      "publication {}: {} (the role needs CREATE on the database and to own the "
                      "tables, or create the publication yourself: CREATE PUBLICATION {} FOR "
                      "TABLE {})",
                      name_, done.error().message(), quote_ident(name_), tables);
  }
  return with_context(std::move(done), fmt::format("publication {}", name_));
}

Status PostgresSource::connect() {
  if (Result<std::vector<CollectionSchema>> described = describe(); !described) {
    return fail(described.error());
  }
  Result<Rows> role = db_->query(
      "SELECT current_user, rolreplication OR rolsuper FROM pg_roles WHERE rolname = "
      "current_user");
  if (!role) {
    return fail(role.error());
  }
  if (role->count() == 1 && role->text(0, 1) != "t") {
    return make_error(ErrorCode::kPermanent,
                      "role {} cannot read changes: give it the REPLICATION attribute "
                      "(ALTER ROLE {} REPLICATION)",
                      role->text(0, 0), quote_ident(role->text(0, 0)));
  }
  if (Status s = ensure_publication(); !s) {
    return s;
  }
  Result<std::unique_ptr<Connection>> replication =
      Connection::open(conninfo_, Deadline::after(std::chrono::seconds(30)), true);
  if (!replication) {
    std::string message = replication.error().message();
    if (message.find("replication") != std::string::npos) {
      message += " (the role needs the REPLICATION attribute: ALTER ROLE ... REPLICATION)";
    }
    return make_error(ErrorCode::kPermanent, "{}", message);
  }
  replication_ = std::move(*replication);
  return ok();
}

Status PostgresSource::open(const std::optional<Position>& resume_after) {
  if (Status s = connect(); !s) {
    return s;
  }
  if (!resume_after) {
    return begin_snapshot();
  }
  Result<Lsn> from = resume_point(*resume_after);
  if (!from) {
    return fail(from.error());
  }
  flushed_ = *from;
  advance_slot(*from);
  return start_streaming(*from);
}

Result<Lsn> PostgresSource::resume_point(const Position& resume_after) {
  Result<Rows> slot = db_->query(
      "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", {name_});
  if (!slot) {
    return fail(slot.error());
  }
  if (slot->count() == 0) {
    if (settings_.resnapshot_on_slot_lost) {
      return make_error(ErrorCode::kNotFound,
                        "replication slot {} is missing (dropped, or lost in a failover)", name_);
    }
    return make_error(ErrorCode::kPermanent,
                      "replication slot {} is missing (dropped, or lost in a failover): the "
                      "changes since the last checkpoint cannot be read; set on_slot_lost: "
                      "resnapshot on the endpoint to start again from a fresh snapshot",
                      name_);
  }
  return position_to_lsn(resume_after);
}

void PostgresSource::advance_slot(Lsn to) {
  // Every target is durable at `to`: the slot may skip to it at once. The
  // server reads the WAL before it without decoding its changes, which a
  // stream started at `to` would (only to drop them). A first advance moves
  // the slot's restart point only to the first place it could restart from
  // past the old one (the server takes a newer one only once the older is
  // confirmed); a second one from there, all confirmed, moves it up to `to`.
  for (int pass = 0; pass < 2; ++pass) {
    Result<Rows> advanced = db_->query(
        pass == 0 ? "SELECT pg_replication_slot_advance(slot_name, $2::pg_lsn) FROM "
                    "pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn < $2::pg_lsn"
                  : "SELECT pg_replication_slot_advance(slot_name, $2::pg_lsn) FROM "
                    "pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn = "
                    "$2::pg_lsn AND pg_wal_lsn_diff($2::pg_lsn, restart_lsn) > 16777216",
        {name_, format_lsn(to)});
    if (!advanced) {
      // Not needed for correctness: the stream then starts at `to` all the same.
      spdlog::warn("slot {}: advancing to {}: {}", name_, format_lsn(to),
                   advanced.error().message());
      return;
    }
    if (advanced->count() == 0) {
      return;
    }
  }
}

Result<bool> PostgresSource::prefers_resync(const Position& resume_after) {
  if (!settings_.resync_catch_up) {
    return false;
  }
  if (Result<std::vector<CollectionSchema>> described = describe(); !described) {
    return fail(described.error());
  }
  Result<Lsn> from = position_to_lsn(resume_after);
  if (!from) {
    return fail(from.error());
  }
  Result<Rows> behind = db_->query(
      "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), greatest(confirmed_flush_lsn, "
      "$2::pg_lsn))::bigint FROM pg_replication_slots WHERE slot_name = $1",
      {name_, format_lsn(*from)});
  if (!behind) {
    return fail(behind.error().with_context(fmt::format("backlog of slot {}", name_)));
  }
  if (behind->count() != 1 || behind->null(0, 0)) {
    // No slot: the backlog is gone. open_resync() says so, and a fresh
    // snapshot (on_slot_lost: resnapshot) replaces the targets' rows.
    return true;
  }
  const std::int64_t backlog = std::stoll(behind->text(0, 0));
  if (backlog <= settings_.resync_above) {
    return false;
  }
  std::int64_t tables = 0;
  for (const CollectionSchema& schema : schemas_) {
    Result<Rows> size =
        db_->query("SELECT pg_table_size($1::regclass)", {qualified_name(schema.name)});
    if (!size) {
      return fail(size.error().with_context(fmt::format("size of {}", schema.name)));
    }
    tables += std::stoll(size->text(0, 0));
  }
  spdlog::info("slot {}: {} MiB of WAL since the checkpoint, the tables {} MiB: {}", name_,
               backlog >> 20, tables >> 20, backlog > tables ? "resync" : "replay");
  return backlog > tables;
}

Status PostgresSource::open_resync(const Position& resume_after) {
  if (Status s = connect(); !s) {
    return s;
  }
  Result<Lsn> from = resume_point(resume_after);
  if (!from) {
    return fail(from.error());
  }
  // A temporary slot gives the snapshot and the position it is consistent
  // with; the job's slot streams from there once every target holds the
  // snapshot. The transaction of db_ re-exports it for the readers, so the
  // temporary slot goes at once.
  const std::string temporary = name_.substr(0, 56) + "_resync";
  Result<Rows> created = replication_->query(
      fmt::format("CREATE_REPLICATION_SLOT {} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')",
                  quote_ident(temporary)));
  if (!created) {
    // No slot to spare (max_replication_slots), say: the backlog is replayed.
    spdlog::warn("slot {}: no resync ({}); replaying the backlog instead", name_,
                 created.error().message());
    flushed_ = *from;
    advance_slot(*from);
    return start_streaming(*from);
  }
  Result<Lsn> consistent = parse_lsn(created->text(0, 1));
  if (!consistent) {
    return fail(consistent.error());
  }
  Result<Rows> exported = db_->query(
      fmt::format("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}; "
                  "SELECT pg_export_snapshot()",
                  quote_literal(created->text(0, 2))));
  if (!exported) {
    return fail(exported.error().with_context("import the resync's snapshot"));
  }
  if (Status s =
          replication_->exec(fmt::format("DROP_REPLICATION_SLOT {}", quote_ident(temporary)));
      !s) {
    return fail(s.error().with_context(fmt::format("drop replication slot {}", temporary)));
  }
  snapshot_lsn_ = *consistent;
  flushed_ = *from;
  if (Status s = start_copy(exported->text(0, 0)); !s) {
    return s;
  }
  in_snapshot_ = true;
  resync_ = true;
  return ok();
}

Status PostgresSource::begin_snapshot() {
  Result<Rows> slot = db_->query(
      "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", {name_});
  if (!slot) {
    return fail(slot.error());
  }
  if (slot->count() == 1 && !slot->null(0, 0)) {
    // The slot survives from an earlier, unfinished snapshot: read a fresh
    // snapshot, then replay everything the slot kept since its position.
    // Rows may briefly go back to older values during the replay; every change
    // after the position arrives again, so the targets converge.
    Result<Lsn> position = parse_lsn(slot->text(0, 0));
    if (!position) {
      return fail(position.error());
    }
    snapshot_lsn_ = *position;
    Result<Rows> exported =
        db_->query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot()");
    if (!exported) {
      return fail(exported.error().with_context("start the snapshot"));
    }
    if (Status s = start_copy(exported->text(0, 0)); !s) {
      return s;
    }
  } else {
    Result<Rows> created = replication_->query(fmt::format(
        "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT 'export')", quote_ident(name_)));
    if (!created) {
      return fail(created.error().with_context(fmt::format("create replication slot {}", name_)));
    }
    Result<Lsn> consistent = parse_lsn(created->text(0, 1));
    if (!consistent) {
      return fail(consistent.error());
    }
    snapshot_lsn_ = *consistent;
    const std::string snapshot = created->text(0, 2);
    if (Status s = db_->exec(
            fmt::format("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION "
                        "SNAPSHOT {}",
                        quote_literal(snapshot)));
        !s) {
      return fail(s.error().with_context("import the slot's snapshot"));
    }
    if (Status s = start_copy(snapshot); !s) {
      return s;
    }
  }
  flushed_ = snapshot_lsn_;
  in_snapshot_ = true;
  return ok();
}

Status PostgresSource::start_copy(const std::string& name) {
  Result<std::unique_ptr<ParallelSnapshot>> copy =
      ParallelSnapshot::start(*db_, conninfo_, name, schemas_,
                              {.parallelism = settings_.snapshot_parallelism,
                               .min_chunk_pages = settings_.snapshot_chunk_pages});
  if (!copy) {
    return fail(copy.error());
  }
  snapshot_ = std::move(*copy);
  return ok();
}

Result<std::optional<Batch>> PostgresSource::next(Deadline until, std::size_t max_changes) {
  if (in_snapshot_) {
    return next_snapshot(max_changes);
  }
  if (awaiting_release_) {
    if (flushed_ < snapshot_lsn_) {
      // Nothing to hand out before the targets hold the resync (record_source.h).
      std::this_thread::sleep_for(kAwaitRelease);
      Batch waiting;
      waiting.end = lsn_to_position(snapshot_lsn_);
      return std::optional<Batch>(std::move(waiting));
    }
    awaiting_release_ = false;
    advance_slot(snapshot_lsn_);
    if (Status s = start_streaming(snapshot_lsn_); !s) {
      return fail(s.error());
    }
  }
  if (!streaming_) {
    return make_error(ErrorCode::kPermanent, "postgres source: next() before open()");
  }
  return next_stream(until, max_changes);
}

Result<std::optional<Batch>> PostgresSource::next_snapshot(std::size_t max_changes) {
  Batch batch;
  batch.snapshot = true;
  const Position position = lsn_to_position(snapshot_lsn_);
  Result<std::vector<Change>> rows = snapshot_->next(max_changes);
  if (!rows) {
    return fail(rows.error());
  }
  batch.changes = std::move(*rows);
  for (Change& change : batch.changes) {
    change.position = position;
  }
  batch.bytes = 64 * batch.changes.size();
  if (batch.changes.empty()) {
    snapshot_.reset();
    if (Status s = db_->exec("COMMIT"); !s) {
      return fail(s.error().with_context("finish snapshot"));
    }
    in_snapshot_ = false;
    batch.end = position;
    if (resync_) {
      // The job's slot moves to the snapshot's end once every target is
      // durable there (release()); until then a crash finds the backlog kept.
      awaiting_release_ = true;
    } else if (Status s = start_streaming(snapshot_lsn_); !s) {
      return fail(s.error());
    }
  }
  return std::optional<Batch>(std::move(batch));
}

Status PostgresSource::start_streaming(Lsn from) {
  Result<Rows> end = db_->query("SELECT pg_current_wal_lsn()::text");
  if (!end) {
    return fail(end.error());
  }
  Result<Lsn> wal_end = parse_lsn(end->text(0, 0));
  if (!wal_end) {
    return fail(wal_end.error());
  }
  caught_up_at_ = *wal_end;
  caught_up_ = false;
  received_ = from;
  const std::string command =
      fmt::format("START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', publication_names {})",
                  quote_ident(name_), format_lsn(from), quote_literal(quote_ident(name_)));
  PGresult* result = PQexec(replication_->raw(), command.c_str());
  const ExecStatusType status = PQresultStatus(result);
  std::string message = PQresultErrorMessage(result);
  PQclear(result);
  if (status != PGRES_COPY_BOTH) {
    return make_error(ErrorCode::kRetryable, "start replication from slot {}: {}", name_, message);
  }
  streaming_ = true;
  return send_status(/*reply_requested=*/true);
}

Status PostgresSource::send_status(bool reply_requested) {
  const std::string message = encode_standby_status({.write = std::max(received_, flushed_),
                                                     .flush = flushed_,
                                                     .apply = flushed_,
                                                     .client_time = now_pg(),
                                                     .reply_requested = reply_requested});
  PGconn* conn = replication_->raw();
  if (PQputCopyData(conn, message.data(), static_cast<int>(message.size())) != 1 ||
      PQflush(conn) != 0) {
    return make_error(ErrorCode::kRetryable, "replication status: {}", PQerrorMessage(conn));
  }
  last_status_ = std::chrono::steady_clock::now();
  return ok();
}

Status PostgresSource::handle(std::string_view data, Batch& batch) {
  Result<ServerMessage> message = decode_server_message(data);
  if (!message) {
    return fail(message.error());
  }
  if (const auto* keepalive = std::get_if<PrimaryKeepalive>(&*message)) {
    // A logical walsender's keepalive carries how far it has decoded and sent.
    if (!in_transaction_ && keepalive->wal_end >= caught_up_at_) {
      caught_up_ = true;
    }
    return keepalive->reply_requested ? send_status(false) : ok();
  }
  const auto& xlog = std::get<XLogData>(*message);
  Result<PgOutputMessage> decoded = decode_pgoutput(xlog.payload);
  if (!decoded) {
    return fail(decoded.error());
  }
  return std::visit(
      Overloaded{
          [&](const BeginMessage&) -> Status {
            in_transaction_ = true;
            skip_transaction_ = false;
            transaction_.clear();
            return ok();
          },
          [&](const OriginMessage& origin) -> Status {
            // Applied by the other direction of a bidirectional pair: not sent
            // back. pgoutput sends Origin only for transactions that have one.
            skip_transaction_ =
                !settings_.skip_origin.empty() && origin.name == settings_.skip_origin;
            return ok();
          },
          [&](const CommitMessage& commit) -> Status {
            const Position position = lsn_to_position(commit.end_lsn);
            if (!skip_transaction_) {
              for (Change& change : transaction_) {
                change.position = position;
                batch.bytes += 64;
                batch.changes.push_back(std::move(change));
              }
            }
            transaction_.clear();
            for (SchemaChange& change : pending_schema_changes_) {
              batch.schema_changes.push_back(std::move(change));
            }
            pending_schema_changes_.clear();
            batch.end = position;
            received_ = commit.end_lsn;
            in_transaction_ = false;
            if (received_ >= caught_up_at_) {
              caught_up_ = true;
            }
            return ok();
          },
          [&](const RelationMessage& relation) -> Status {
            relations_.add(relation);
            note_relation(relation.oid);
            return ok();
          },
          [&](const TypeMessage& type) -> Status {
            relations_.add(type);
            return ok();
          },
          [&](const InsertMessage& m) -> Status {
            return skip_transaction_ ? ok() : relations_.append_changes(m, transaction_);
          },
          [&](const UpdateMessage& m) -> Status {
            return skip_transaction_ ? ok() : relations_.append_changes(m, transaction_);
          },
          [&](const DeleteMessage& m) -> Status {
            return skip_transaction_ ? ok() : relations_.append_changes(m, transaction_);
          },
          [&](const TruncateMessage& m) -> Status {
            return skip_transaction_ ? ok() : relations_.append_changes(m, transaction_);
          },
          [&](const LogicalMessage&) -> Status { return ok(); },
      },
      *decoded);
}

void PostgresSource::note_relation(Oid oid) {
  Result<CollectionSchema> now = relations_.schema(oid);
  if (!now) {
    return;  // the error surfaces with the relation's first change
  }
  auto known = std::find_if(schemas_.begin(), schemas_.end(), [&](const CollectionSchema& schema) {
    return schema.name == now->name;
  });
  if (known == schemas_.end()) {
    return;  // not a table of this job
  }
  auto find_column = [](std::vector<Column>& columns, const std::string& name) {
    return std::find_if(columns.begin(), columns.end(),
                        [&](const Column& column) { return column.name == name; });
  };
  SchemaChange change;
  for (const Column& column : now->columns) {
    if (find_column(known->columns, column.name) == known->columns.end()) {
      change.added.push_back(column.name);
      known->columns.push_back(column);
    }
  }
  // Drops and type changes only against what this session saw before: the
  // first Relation message of a session describes the table as of the WAL
  // being decoded, which may be older than the catalog read at the start.
  if (auto previous = session_relations_.find(oid); previous != session_relations_.end()) {
    for (const Column& column : previous->second.columns) {
      auto current = find_column(now->columns, column.name);
      if (current == now->columns.end()) {
        change.dropped.push_back(column.name);
      } else if (current->source_type != column.source_type) {
        change.retyped.push_back(column.name);
        if (auto mine = find_column(known->columns, column.name); mine != known->columns.end()) {
          mine->type = current->type;
          mine->source_type = current->source_type;
        }
      }
    }
  }
  session_relations_.insert_or_assign(oid, *now);
  if (change.added.empty() && change.dropped.empty() && change.retyped.empty()) {
    return;
  }
  change.schema = *known;
  pending_schema_changes_.push_back(std::move(change));
}

Result<std::optional<Batch>> PostgresSource::next_stream(Deadline until, std::size_t max_changes) {
  PGconn* conn = replication_->raw();
  Batch batch;
  const auto started = std::chrono::steady_clock::now();
  while (true) {
    // A periodic run ends once it reached the WAL end it saw when it started,
    // even while writers keep adding more: the next run takes the rest.
    if (caught_up_ && until.expired() && !in_transaction_ && batch.end.empty()) {
      return std::optional<Batch>();
    }
    bool drained = false;
    while (!drained && !(caught_up_ && until.expired() && !in_transaction_) &&
           (batch.end.empty() || batch.changes.size() < max_changes)) {
      char* buffer = nullptr;
      const int n = PQgetCopyData(conn, &buffer, /*async=*/1);
      if (n > 0) {
        Status handled = handle(std::string_view(buffer, static_cast<std::size_t>(n)), batch);
        PQfreemem(buffer);
        if (!handled) {
          return fail(handled.error().with_context(fmt::format("slot {}", name_)));
        }
      } else if (n == 0) {
        drained = true;
      } else {
        return make_error(ErrorCode::kRetryable, "replication stream of slot {} ended: {}", name_,
                          PQerrorMessage(conn));
      }
    }
    if (!batch.end.empty() && !in_transaction_) {
      return std::optional<Batch>(std::move(batch));  // whole transactions, nothing more now
    }
    const auto now = std::chrono::steady_clock::now();
    const bool catching_up = !caught_up_ && now - started < kCatchUpLimit;
    if (!catching_up && until.expired()) {
      return std::optional<Batch>();
    }
    if (now - last_status_ >= (catching_up ? kCatchUpPoll : kStatusInterval)) {
      // While catching up, ask for a keepalive: it says how far the server got.
      if (Status s = send_status(catching_up); !s) {
        return fail(s.error());
      }
    }
    pollfd fd{PQsocket(conn), POLLIN, 0};
    const auto wait =
        catching_up ? kCatchUpPoll
                    : std::min<std::chrono::milliseconds>(
                          std::chrono::duration_cast<std::chrono::milliseconds>(until.remaining()),
                          kCatchUpPoll);
    (void)::poll(&fd, 1, static_cast<int>(std::max<std::int64_t>(wait.count(), 1)));
    if (PQconsumeInput(conn) == 0) {
      return make_error(ErrorCode::kRetryable, "replication stream of slot {}: {}", name_,
                        PQerrorMessage(conn));
    }
  }
}

Status PostgresSource::release(const Position& durable_everywhere) {
  Result<Lsn> lsn = position_to_lsn(durable_everywhere);
  if (!lsn) {
    return fail(lsn.error());
  }
  if (*lsn <= flushed_) {
    return ok();
  }
  flushed_ = *lsn;
  return streaming_ ? send_status(false) : ok();
}

Result<std::optional<std::int64_t>> PostgresSource::backlog(const std::optional<Position>& after) {
  if (after) {
    return std::optional<std::int64_t>();
  }
  std::int64_t total = 0;
  for (const CollectionSchema& schema : schemas_) {
    Result<Rows> rows =
        db_->query("SELECT c.reltuples::bigint FROM pg_class c WHERE c.oid = $1::regclass",
                   {qualified_name(schema.name)});
    if (!rows) {
      return fail(rows.error());
    }
    if (rows->count() != 1 || rows->text(0, 0).starts_with("-")) {
      return std::optional<std::int64_t>();  // never analyzed
    }
    total += std::stoll(rows->text(0, 0));
  }
  return std::optional<std::int64_t>(total);
}

Result<std::optional<SourceLag>> PostgresSource::lag() {
  Result<Rows> rows = db_->query(
      "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM "
      "pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn IS NOT NULL",
      {name_});
  if (!rows) {
    return fail(rows.error().with_context(fmt::format("lag of slot {}", name_)));
  }
  if (rows->count() != 1 || rows->null(0, 0)) {
    return std::optional<SourceLag>();
  }
  return std::optional<SourceLag>(
      SourceLag{.bytes = std::max<std::int64_t>(0, std::stoll(rows->text(0, 0))),
                .alert_bytes = settings_.slot_lag_alert});
}

int PostgresSource::compare(const Position& a, const Position& b) const {
  const Lsn x = position_to_lsn(a).value_or(0);
  const Lsn y = position_to_lsn(b).value_or(0);
  return x < y ? -1 : (x > y ? 1 : 0);
}

}  // namespace megasync::connectors::postgres
