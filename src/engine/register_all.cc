#include "connectors/register.h"
#include "engine/registry.h"
#include "sync/objects/register.h"
#include "sync/records/register.h"

namespace megasync::engine {

void register_all(Registry& registry) {
  connectors::register_fs(registry);
  connectors::register_s3(registry);
  connectors::register_azure_blob(registry);
  connectors::register_sqlite(registry);
  connectors::register_postgres(registry);
  connectors::register_mariadb(registry);
  connectors::register_command(registry);
  connectors::register_redis(registry);
  connectors::register_redis_streams(registry);
  connectors::register_nats(registry);
  connectors::register_rabbitmq(registry);
  connectors::register_kafka(registry);
  connectors::register_sqs(registry);
  connectors::register_mqtt(registry);
  sync::objects::register_object_sync(registry);
  sync::records::register_record_sync(registry);
}

}  // namespace megasync::engine
