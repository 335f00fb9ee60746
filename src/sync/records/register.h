// Registration of the record sync engine's job kinds: database, cache, messages
// and search. Called once from engine/register_all.cc.
#pragma once

#include "engine/registry.h"

namespace megasync::sync::records {

void register_record_sync(engine::Registry& registry);

}  // namespace megasync::sync::records
