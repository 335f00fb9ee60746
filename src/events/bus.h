// The in-process event bus. Every run and every health change is published
// here as a typed event; the bus persists it to the state store (so the API can
// list history after a restart) and hands it to subscribers (webhooks, alert
// rules, the log).
//
// Created by the daemon; publish() may be called from any thread. Subscribers
// run on the publishing thread and must be quick (queue work elsewhere).
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "state/state_store.h"

namespace megasync::events {

class Bus {
 public:
  using Subscriber = std::function<void(const state::EventRecord&)>;

  // `store` may be null (events are then not persisted, e.g. in `megasync check`).
  explicit Bus(state::StateStore* store) : store_(store) {}

  // Publishes an event; fills id and time. A failure to persist is logged, never
  // thrown back at the publisher: losing an event must not fail a sync.
  state::EventRecord publish(std::string type, std::string severity, std::string job,
                             std::string endpoint, nlohmann::json data);
  void subscribe(Subscriber subscriber);

 private:
  state::StateStore* store_;
  std::mutex mutex_;
  std::vector<Subscriber> subscribers_;
};

}  // namespace megasync::events
