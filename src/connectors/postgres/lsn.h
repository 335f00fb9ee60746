// PostgreSQL log sequence numbers (LSNs): the text form the server prints
// ("16/B374D848") and the megasync Position a postgres source stores.
//
// A Position is 16 upper-case hex digits, zero-padded ("00000016B374D848"), so
// that comparing two positions as text compares the LSNs as numbers.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/change.h"
#include "core/error.h"

namespace megasync::connectors::postgres {

// A byte position in the write-ahead log. 0 is PostgreSQL's InvalidXLogRecPtr,
// which START_REPLICATION reads as "from the slot's confirmed position".
using Lsn = std::uint64_t;

// Parses "X/Y" (each half 1-8 hex digits, either case; the zero-padded form of
// PostgreSQL 19, "0/016B3748", too). Malformed text is kPermanent.
Result<Lsn> parse_lsn(std::string_view text);
// "16/B374D848", as PostgreSQL prints it (and accepts it in START_REPLICATION).
std::string format_lsn(Lsn lsn);

// The Position of `lsn`: 16 upper-case hex digits.
Position lsn_to_position(Lsn lsn);
// The LSN of a Position made by lsn_to_position (either case accepted). The empty
// Position (nothing recorded yet) is 0; anything else malformed is kPermanent.
Result<Lsn> position_to_lsn(const Position& position);

}  // namespace megasync::connectors::postgres
