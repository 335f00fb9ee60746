// Reading the tables of one snapshot in parallel, for the postgres source's
// initial copy.
//
// The tables are cut into chunks by physical position (ctid page ranges, which
// PostgreSQL 14+ scans directly with a TID range scan): a table of N pages
// becomes about parallelism × 8 chunks of at least 1024 pages, a small one (or
// any, with one worker: a plain COPY is cheaper than a TID range scan) a
// single chunk. Each worker has its own connection, imports the snapshot
// (SET TRANSACTION SNAPSHOT), so every chunk is read as of the same instant, and
// streams its chunks with COPY (SELECT ... WHERE ctid >= ... AND ctid < ...)
// TO STDOUT (binary when every column's type has a decoder, copy_binary.h)
// into a bounded queue of rows. Chunks by page range need no key,
// no sampling and no statistics, cover a table exactly once, and cost the
// same whatever the key's type.
//
// Rows are handed out in chunk order, whatever order the workers finish in: a
// table's physical order is usually its key's (rows appended as keys grow),
// so the target's key index is filled at its right edge, as by a single COPY,
// rather than at as many places as there are workers (which cost the target
// server a quarter more CPU in bench/postgres.sh). A worker reading a chunk
// ahead of the one handed out buffers at most `queue_rows / parallelism` rows
// of it, and no worker starts a chunk `parallelism` or more ahead.
//
// Owned by the source and used from the source's thread (next()); the workers
// are its own threads, stopped and joined by the destructor.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connectors/postgres/service.h"
#include "core/change.h"
#include "core/error.h"

namespace megasync::connectors::postgres {

struct SnapshotChunk {
  std::size_t table = 0;  // index into the schemas
  std::string where;      // empty: the whole table
};

class ParallelSnapshot {
 public:
  struct Options {
    int parallelism = 2;
    std::int64_t min_chunk_pages = 1024;
    // Rows read ahead of next(), at most about: a little more than the
    // largest batch the engine asks for by default (a target behind gets
    // 10 × batch_size); more only costs memory, about 1 KB a row, and CPU
    // (a page fault for each new page: 12% more of megasync's at 50000).
    std::size_t queue_rows = 12000;
  };

  // Plans the chunks on `db`, which must be inside a transaction on the snapshot
  // named `snapshot` (exported by the slot or by pg_export_snapshot()), then
  // starts the workers (connecting with `conninfo`).
  static Result<std::unique_ptr<ParallelSnapshot>> start(Connection& db,
                                                         const std::string& conninfo,
                                                         const std::string& snapshot,
                                                         std::vector<CollectionSchema> schemas,
                                                         Options options);
  ~ParallelSnapshot();
  ParallelSnapshot(const ParallelSnapshot&) = delete;
  ParallelSnapshot& operator=(const ParallelSnapshot&) = delete;

  // Up to `max_rows` rows (waiting for the workers); an empty vector once every
  // chunk was read. The first worker error, as soon as one happened.
  Result<std::vector<Change>> next(std::size_t max_rows);

  std::size_t chunks() const { return chunks_.size(); }

 private:
  ParallelSnapshot(std::string conninfo, std::string snapshot,
                   std::vector<CollectionSchema> schemas, std::vector<SnapshotChunk> chunks,
                   Options options);
  void work();
  Status read_chunks(Connection& db);
  // The next chunk to read, once it is near enough the one handed out;
  // nullopt when every chunk is taken or when stopping.
  std::optional<std::size_t> take_chunk();
  // Adds rows of chunk `chunk`, waiting for room; false when stopping.
  bool push(std::size_t chunk, std::vector<Change>& rows);
  void finish_chunk(std::size_t chunk);

  const std::string conninfo_;
  const std::string snapshot_;
  const std::vector<CollectionSchema> schemas_;
  const std::vector<SnapshotChunk> chunks_;
  const Options options_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::deque<Change>> rows_;  // by chunk
  std::vector<bool> read_;                // by chunk: every row pushed
  std::size_t current_ = 0;               // the chunk next() hands out rows of
  std::size_t next_chunk_ = 0;
  int running_ = 0;
  bool stop_ = false;
  std::optional<Error> error_;
  std::vector<std::thread> threads_;
};

}  // namespace megasync::connectors::postgres
