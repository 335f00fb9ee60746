// Building transforms from a job's `transforms` option: the declarations of its
// fields (for the job kinds' option lists) and the construction of a Chain from
// the validated entries.
//
// Thread-safety: functions; the Chain returned is the caller's.
#pragma once

#include <vector>

#include "config/options.h"
#include "transforms/transform.h"

namespace megasync::transforms {

// The fields of one entry of `transforms` (a kObjectList option).
std::vector<config::OptionSpec> option_fields();

// One transform per entry, in order. kInvalidConfig naming the entry's location
// when an entry is incomplete (a rename without a mapping, a bad `where`).
Result<Chain> build_chain(const std::vector<config::Options>& entries);

}  // namespace megasync::transforms
