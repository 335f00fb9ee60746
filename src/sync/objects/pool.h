// Bounded concurrency for transfers: runs fn(0..count-1) on at most `threads`
// threads (the caller's own thread counts as none; it waits). Stops handing out
// indices once `cancel` is set; indices already started finish.
//
// Thread-safety: fn is called concurrently and must synchronise what it shares.
#pragma once

#include <cstddef>
#include <functional>

#include "core/cancel.h"

namespace megasync::sync::objects {

void parallel_for(std::size_t count, int threads, const CancelToken& cancel,
                  const std::function<void(std::size_t)>& fn);

}  // namespace megasync::sync::objects
