// One registration function per connector; register_all() (engine/register_all.cc)
// calls each of them. Nothing registers itself.
#pragma once

#include "engine/registry.h"

namespace megasync::connectors {

void register_fs(engine::Registry& registry);
void register_s3(engine::Registry& registry);
void register_azure_blob(engine::Registry& registry);
void register_sqlite(engine::Registry& registry);
void register_postgres(engine::Registry& registry);
void register_mariadb(engine::Registry& registry);
void register_command(engine::Registry& registry);
void register_redis(engine::Registry& registry);
void register_redis_streams(engine::Registry& registry);
void register_nats(engine::Registry& registry);
void register_rabbitmq(engine::Registry& registry);
void register_kafka(engine::Registry& registry);
void register_sqs(engine::Registry& registry);
void register_mqtt(engine::Registry& registry);

}  // namespace megasync::connectors
