// Registers the object sync job kinds (`storage`, `deploy`, `ml`); called from
// engine/register_all.cc.
#pragma once

#include "engine/registry.h"

namespace megasync::sync::objects {

void register_object_sync(engine::Registry& registry);

}  // namespace megasync::sync::objects
