#include "connectors/postgres/poll_position.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace megasync::connectors::postgres {
namespace {

Error malformed(const Position& position, std::string_view why) {
  // A CDC checkpoint (16 hex digits) is the likely mix-up: say so.
  return Error(ErrorCode::kPermanent,
               fmt::format("not a poll position ({}): '{}' (was the endpoint's mode changed? "
                           "delete the job's checkpoints to start again from a snapshot)",
                           why, position.substr(0, 80)));
}

}  // namespace

Position encode_poll_position(const PollPosition& position) {
  nlohmann::json tables = nlohmann::json::object();
  for (const auto& [name, mark] : position.tables) {
    nlohmann::json row = nlohmann::json::array({mark.cursor});
    for (const std::string& key : mark.key) {
      row.push_back(key);
    }
    tables[name] = std::move(row);
  }
  const nlohmann::json doc = {{"at", position.at}, {"n", position.sequence}, {"tables", tables}};
  // The source session sends UTF-8 (client_encoding), so nothing is replaced.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<PollPosition> decode_poll_position(const Position& position) {
  PollPosition out;
  if (position.empty()) {
    return out;
  }
  const nlohmann::json doc = nlohmann::json::parse(position, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return fail(malformed(position, "not a JSON object"));
  }
  const auto at = doc.find("at");
  const auto n = doc.find("n");
  const auto tables = doc.find("tables");
  if (at == doc.end() || !at->is_number_integer() || n == doc.end() || !n->is_number_integer() ||
      tables == doc.end() || !tables->is_object()) {
    return fail(malformed(position, "needs integers at and n, and an object tables"));
  }
  out.at = at->get<std::int64_t>();
  out.sequence = n->get<std::int64_t>();
  for (const auto& [name, row] : tables->items()) {
    if (!row.is_array() || row.size() < 2) {
      return fail(malformed(position, "a table's mark is [cursor, key...]"));
    }
    PollMark mark;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (!row[i].is_string()) {
        return fail(malformed(position, "a mark holds strings"));
      }
      if (i == 0) {
        mark.cursor = row[i].get<std::string>();
      } else {
        mark.key.push_back(row[i].get<std::string>());
      }
    }
    out.tables[name] = std::move(mark);
  }
  return out;
}

int compare_poll_positions(const PollPosition& a, const PollPosition& b) {
  if (a.at != b.at) {
    return a.at < b.at ? -1 : 1;
  }
  if (a.sequence != b.sequence) {
    return a.sequence < b.sequence ? -1 : 1;
  }
  return 0;
}

}  // namespace megasync::connectors::postgres
