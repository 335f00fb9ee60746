// The Position of the postgres poll source (poll_source.h): where each table's
// reading got to, in (cursor column, primary key) order, and when.
//
// Encoded as JSON, {"at": <µs>, "n": <batch>, "tables": {"<collection>":
// ["<cursor>", "<key 1>", ...]}}, with every value as PostgreSQL prints it (the
// session runs with TimeZone UTC and DateStyle ISO, so the text reads back as
// the same value). Positions order by `at` (the server's clock when the sweep
// that made them started), then by `n` (the batch within that sweep): a later
// sweep re-reads rows an earlier one sent (the overlap window), so the order
// must say "newer" rather than "further along the cursor", or a target
// checkpointed further along would skip the re-read.
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/error.h"

namespace megasync::connectors::postgres {

// The last row read of a table: its cursor value and primary key, as text.
struct PollMark {
  std::string cursor;
  std::vector<std::string> key;

  bool operator==(const PollMark&) const = default;
};

struct PollPosition {
  std::int64_t at = 0;                     // µs since the Unix epoch; 0: nothing read yet
  std::int64_t sequence = 0;               // batch number within the sweep started at `at`
  std::map<std::string, PollMark> tables;  // a table with no entry is read from its start

  bool operator==(const PollPosition&) const = default;
};

Position encode_poll_position(const PollPosition& position);
// The empty Position is the default PollPosition; anything that is not an
// encoded PollPosition is kPermanent (a checkpoint of another mode, most likely).
Result<PollPosition> decode_poll_position(const Position& position);
// <0, 0, >0 by (at, sequence).
int compare_poll_positions(const PollPosition& a, const PollPosition& b);

}  // namespace megasync::connectors::postgres
