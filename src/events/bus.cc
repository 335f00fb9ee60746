#include "events/bus.h"

#include <spdlog/spdlog.h>

#include "core/redact.h"

namespace megasync::events {

state::EventRecord Bus::publish(std::string type, std::string severity, std::string job,
                                std::string endpoint, nlohmann::json data) {
  state::EventRecord event;
  event.type = std::move(type);
  event.severity = std::move(severity);
  event.job = std::move(job);
  event.endpoint = std::move(endpoint);
  event.time = std::chrono::system_clock::now();
  // Event data ends up in the API and in webhooks: scrub secrets before it leaves.
  event.data = redact_json(data);
  if (store_ != nullptr) {
    auto id = store_->append_event(event);
    if (id) {
      event.id = *id;
    } else {
      spdlog::warn("event {} not persisted: {}", event.type, id.error().message());
    }
  }
  std::vector<Subscriber> subscribers;
  {
    std::lock_guard lock(mutex_);
    subscribers = subscribers_;
  }
  for (const Subscriber& subscriber : subscribers) {
    subscriber(event);
  }
  return event;
}

void Bus::subscribe(Subscriber subscriber) {
  std::lock_guard lock(mutex_);
  subscribers_.push_back(std::move(subscriber));
}

}  // namespace megasync::events
