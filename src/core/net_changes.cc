#include "core/net_changes.h"

namespace megasync {

void fold_change(const Change& change, NetChanges& net) {
  NetRow& row = net[change.collection][encode_key(change.key)];
  row.key = change.key;
  if (change.op == Op::kDelete) {
    row.deleted = true;
    row.fields.clear();
    return;
  }
  if (row.deleted) {
    row.deleted = false;  // deleted, then written again: the new row replaces it
    row.fields.clear();
  }
  for (const auto& [name, value] : change.fields) {
    row.fields[name] = value;  // a later upsert's columns win; absent ones stay
  }
}

}  // namespace megasync
