#include "connectors/register.h"
#include "engine/registry.h"

namespace megasync::engine {

void register_all(Registry& registry) {
  connectors::register_fs(registry);
  connectors::register_sqlite(registry);
  connectors::register_command(registry);
}

}  // namespace megasync::engine
