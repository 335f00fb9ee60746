// The pure half of object sync: compare two listings and decide what to do.
// No I/O here, so every rule (what counts as changed, what is deleted, when a
// delete is refused) is tested without a filesystem.
//
// Change detection: sizes differ -> changed. Sizes equal: by default the
// modification times are compared to the millisecond (rsync's "quick check");
// with `checksum` the SHA-256 digests are compared instead (the caller fills
// ObjectInfo::sha256 for those pairs; a missing digest counts as changed).
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/object.h"
#include "sync/objects/glob.h"

namespace megasync::sync::objects {

// A listing by path. Held whole in memory: about 200 bytes per object, so a
// few million objects per job is the practical limit today.
using ObjectMap = std::map<std::string, ObjectInfo>;

struct PlanOptions {
  PathFilter filter;
  bool delete_extra = false;    // delete target objects the source lacks
  int max_delete_percent = 50;  // refuse plans deleting more of the target
  bool force = false;           // allow exceeding max_delete_percent
  bool checksum = false;
};

// True when the two objects hold (or are taken to hold) the same content.
bool same_object(const ObjectInfo& source, const ObjectInfo& target, bool checksum);

// Paths whose contents would be compared by digest in checksum mode: present on
// both sides, accepted by the filter, with equal sizes.
std::vector<std::string> paths_needing_digest(const ObjectMap& source, const ObjectMap& target,
                                              const PlanOptions& options);

// `rclone check`-style comparison of the filtered listings.
struct Differences {
  std::vector<std::string> missing;  // at the source, not at the target
  std::vector<std::string> extra;    // at the target, not at the source
  std::vector<std::string> differ;   // at both, different
  std::int64_t target_count = 0;     // filtered target objects
  std::int64_t unchanged = 0;
};
Differences compare(const ObjectMap& source, const ObjectMap& target, const PlanOptions& options);

enum class ActionKind { kCopy, kReplace, kDelete };
std::string_view to_string(ActionKind kind);

struct Action {
  ActionKind kind = ActionKind::kCopy;
  std::string path;
  ObjectInfo source;  // what to copy (copy, replace); empty for delete
};

struct Plan {
  std::vector<Action> actions;  // copies and replacements first, then deletions
  std::int64_t copies = 0;
  std::int64_t replacements = 0;
  std::int64_t deletions = 0;
  std::uint64_t bytes = 0;  // to transfer
  std::int64_t target_count = 0;
  std::int64_t unchanged = 0;
};

Plan build_plan(const ObjectMap& source, const ObjectMap& target, const PlanOptions& options);

// kPermanent when the plan deletes more than max_delete_percent of the target's
// objects and `force` is not set; the message gives the counts and the way out.
Status check_delete_limit(const Plan& plan, const PlanOptions& options);

// "50%" or "50" -> 50; kInvalidConfig unless 0..100.
Result<int> parse_percentage(const std::string& text);

// {"copies": n, "replacements": n, "deletions": n, "bytes": n, "unchanged": n}
nlohmann::json summarize(const Plan& plan);

}  // namespace megasync::sync::objects
