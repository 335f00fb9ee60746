// Internal to the config module: fingerprints that tell a reload which endpoints
// and jobs changed.
//
// Thread-safety: pure functions.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

namespace megasync::config::detail {

// A deterministic text form of `node`: mapping keys sorted, scalars quoted and
// escaped, repeated keys ignored after the first. Equal for equal content however
// it was laid out in the file.
std::string canonical(const YAML::Node& node);

// A short hash of `text` (64-bit FNV-1a, 16 hex digits). Hashing keeps secrets
// held in the configuration out of anything that shows a fingerprint.
std::string fingerprint_of(std::string_view text);

}  // namespace megasync::config::detail
