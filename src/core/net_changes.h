// The net effect of a run of changes per table and key, for sinks that write a
// batch as a few set-based statements (COPY + upsert, multi-row INSERT): the
// last change of a key wins, the fields of successive upserts merge (a column
// a source could not read stays as the target has it), and an upsert after a
// delete replaces the row. Truncates are not folded: a sink applies what it
// folded so far, then the truncate (see the postgres and mariadb sinks).
//
// Thread-safety: a value; one per batch being applied.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/change.h"

namespace megasync {

struct NetRow {
  std::vector<Value> key;
  bool deleted = false;
  Fields fields;  // upserts only
};

// Tables by collection name, rows by encoded key.
using NetRows = std::map<std::string, NetRow>;
using NetChanges = std::map<std::string, NetRows>;

// Folds an upsert or a delete into `net`.
void fold_change(const Change& change, NetChanges& net);

}  // namespace megasync
