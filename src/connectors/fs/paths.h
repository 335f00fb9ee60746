// Turning an object path into a filesystem path under the store's root, safely:
// an object path from a listing or a config must never name a file outside the
// root.
//
// Thread-safety: pure functions (check_parents reads the filesystem).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace megasync::connectors::fs {

// Names megasync keeps for itself inside a root: never listed, never written.
inline constexpr std::string_view kVersionsDir = ".megasync-versions";
inline constexpr std::string_view kTempPrefix = ".megasync-tmp-";
inline constexpr std::string_view kProbePrefix = ".megasync-probe-";

// True for a file name listings skip (temp and probe files).
bool is_internal_name(std::string_view name);

// Ok when `path` is relative, '/'-separated, non-empty, without empty, "." or
// ".." components, NUL bytes, or a reserved name; kPermanent otherwise.
Status validate_object_path(std::string_view path);

// Fails (kPermanent) when a directory between `root` and `path`'s parent is a
// symbolic link: writing through it could leave the root. Missing ones are fine.
Status check_parents(const std::string& root, std::string_view path);

}  // namespace megasync::connectors::fs
