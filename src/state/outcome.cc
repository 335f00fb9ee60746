#include "state/state_store.h"

namespace megasync::state {

// These strings are stored in the runs table and shown by the API: changing
// one needs a migration.
std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kRunning:
      return "running";
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kTimedOut:
      return "timed_out";
    case Outcome::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<Outcome> outcome_from_string(std::string_view text) {
  for (Outcome outcome : {Outcome::kRunning, Outcome::kSucceeded, Outcome::kFailed,
                          Outcome::kTimedOut, Outcome::kCancelled}) {
    if (text == to_string(outcome)) {
      return outcome;
    }
  }
  return std::nullopt;
}

}  // namespace megasync::state
