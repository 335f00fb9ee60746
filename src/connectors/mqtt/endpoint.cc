#include "connectors/mqtt/endpoint.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include "connectors/mqtt/sink.h"
#include "connectors/mqtt/source.h"

namespace megasync::connectors::mqtt {

std::string MqttEndpoint::client_id_for(const std::string& job) const {
  return options_.client_id.empty() ? default_client_id(job) : options_.client_id;
}

Status MqttEndpoint::probe(Deadline deadline) {
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options_, std::string(), false, Connection::Callbacks{}, deadline);
  if (!connection) {
    return fail(connection.error());
  }
  (*connection)->disconnect(false);
  return ok();
}

Result<std::unique_ptr<RecordSource>> MqttEndpoint::open_record_source(
    const engine::SourceRequest& request) {
  MqttOptions options = options_;
  if (!request.collections.empty()) {
    // A job naming collections (names or globs) reads those topic filters of
    // the endpoint's.
    std::vector<std::string> topics;
    for (const std::string& topic : options.topics) {
      for (const std::string& wanted : request.collections) {
        if (topic == wanted || fnmatch(wanted.c_str(), topic.c_str(), 0) == 0) {
          topics.push_back(topic);
          break;
        }
      }
    }
    options.topics = std::move(topics);
  }
  return std::unique_ptr<RecordSource>(
      std::make_unique<MqttSource>(std::move(options), client_id_for(request.job)));
}

Result<std::unique_ptr<RecordSink>> MqttEndpoint::open_record_sink(const engine::SinkRequest&) {
  return std::unique_ptr<RecordSink>(std::make_unique<MqttSink>(options_, topic_));
}

Result<std::vector<std::string>> MqttEndpoint::retained_for(const std::string& job) {
  // MQTT cannot tell whether the broker holds a session without taking it
  // over: name the one a source of this job uses.
  if (!options_.client_id.empty() || options_.topics.empty()) {
    return std::vector<std::string>{};
  }
  return std::vector<std::string>{
      fmt::format("MQTT persistent session {} on {} (subscriptions {}, and the messages queued "
                  "for it), if a source of this job ran",
                  client_id_for(job), display(options_), fmt::join(options_.topics, ", "))};
}

Status MqttEndpoint::release_job(const std::string& job) {
  if (!options_.client_id.empty() || options_.topics.empty()) {
    return ok();
  }
  // Connecting with a clean start discards the broker's session of that id;
  // a v5 session expiry of 0 then ends the new one at the disconnect.
  MqttOptions options = options_;
  options.session_expiry_s = 0;
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(options, client_id_for(job), false, Connection::Callbacks{},
                       Deadline::after(std::chrono::seconds(10)));
  if (!connection) {
    return fail(connection.error());
  }
  (*connection)->disconnect(true);
  return ok();
}

}  // namespace megasync::connectors::mqtt
