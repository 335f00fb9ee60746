// `megasync dlq list|show|replay|drop JOB`: the dead letters a record job
// kept in the state store (src/sync/records/README.md "Dead letters").
// list, show and drop read and write the state store only; replay builds the
// job and applies each dead letter to the target that refused it.
#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "app/common.h"
#include "core/time.h"
#include "engine/build.h"
#include "engine/job.h"
#include "state/dead_letter_codec.h"
#include "state/sqlite_store.h"

namespace megasync::app {
namespace {

// True when the bytes are valid UTF-8 without control characters (but
// newlines and tabs): shown as text, else as hex.
bool printable(const std::string& bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    int extra = 0;
    if (c < 0x80) {
      if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
        return false;
      }
      if (c == 0x7f) {
        return false;
      }
    } else if ((c & 0xe0) == 0xc0 && c >= 0xc2) {
      extra = 1;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
    } else if ((c & 0xf8) == 0xf0 && c <= 0xf4) {
      extra = 3;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(extra) >= bytes.size()) {
      return false;
    }
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(bytes[i + static_cast<std::size_t>(k)]) & 0xc0) != 0x80) {
        return false;
      }
    }
    i += 1 + static_cast<std::size_t>(extra);
  }
  return true;
}

std::string show_value(const Value& value) {
  if (const auto* bytes = std::get_if<Bytes>(&value)) {
    if (printable(bytes->data)) {
      return fmt::format("{} (text, {} bytes)", bytes->data, bytes->data.size());
    }
    return fmt::format("{} (hex, {} bytes)", state::to_hex(bytes->data), bytes->data.size());
  }
  if (is_null(value)) {
    return "null";
  }
  return to_text(value);
}

std::string key_text(const std::vector<Value>& key) {
  std::string text;
  for (const Value& value : key) {
    text += (text.empty() ? "" : ",") + to_text(value);
  }
  return text;
}

// The error on one line, for list.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') {
      c = ' ';
    }
  }
  return text;
}

Result<std::vector<std::int64_t>> parse_ids(const std::string& job,
                                            const std::vector<std::string>& args) {
  std::vector<std::int64_t> ids;
  for (const std::string& arg : args) {
    std::size_t used = 0;
    std::int64_t id = 0;
    try {
      id = std::stoll(arg, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != arg.size() || id <= 0) {
      return make_error(ErrorCode::kInvalidConfig,
                        "{}: '{}' is not a dead letter id (a number from `megasync dlq list {}`)",
                        job, arg, job);
    }
    ids.push_back(id);
  }
  return ids;
}

int list(state::StateStore& store, const std::string& job, const DlqOptions& options) {
  Result<std::vector<state::DeadLetter>> letters =
      store.list_dead_letters({.job = job, .limit = options.limit, .offset = options.offset});
  if (!letters) {
    fmt::print(stderr, "{}: dlq list: {}\n", job, letters.error().message());
    return kExitFailed;
  }
  if (letters->empty()) {
    fmt::print("{}: no dead letters{}\n", job, options.offset > 0 ? " at this offset" : "");
    return kExitOk;
  }
  fmt::print("{:<8} {:<24} {:<16} {:<20} {:<20} {:>8}  {}\n", "ID", "TIME", "TARGET", "COLLECTION",
             "KEY", "ATTEMPTS", "ERROR");
  for (const state::DeadLetter& letter : *letters) {
    fmt::print("{:<8} {:<24} {:<16} {:<20} {:<20} {:>8}  {}\n", letter.id, format_time(letter.time),
               letter.target, letter.change.collection, key_text(letter.change.key),
               letter.attempts, one_line(letter.error));
  }
  return kExitOk;
}

int show(state::StateStore& store, const std::string& job, std::int64_t id) {
  Result<std::optional<state::DeadLetter>> found = store.get_dead_letter(job, id);
  if (!found) {
    fmt::print(stderr, "{}: dlq show: {}\n", job, found.error().message());
    return kExitFailed;
  }
  if (!*found) {
    fmt::print(stderr, "{}: no dead letter {}; `megasync dlq list {}` lists them\n", job, id, job);
    return kExitInvalid;
  }
  const state::DeadLetter& letter = **found;
  fmt::print("id:         {}\n", letter.id);
  fmt::print("job:        {}\n", letter.job);
  fmt::print("target:     {}\n", letter.target);
  fmt::print("time:       {}\n", format_time(letter.time));
  fmt::print("attempts:   {}\n", letter.attempts);
  fmt::print("error:      {}\n", letter.error);
  fmt::print("op:         {}\n", to_string(letter.change.op));
  fmt::print("collection: {}\n", letter.change.collection);
  fmt::print("key:        {}\n", key_text(letter.change.key));
  if (!letter.change.position.empty()) {
    fmt::print("position:   {}\n", letter.change.position);
  }
  if (!letter.change.fields.empty()) {
    fmt::print("fields:\n");
    for (const auto& [name, value] : letter.change.fields) {
      fmt::print("  {}: {}\n", name, show_value(value));
    }
  }
  if (!letter.change.meta.empty()) {
    fmt::print("meta:\n");
    for (const auto& [name, value] : letter.change.meta) {
      fmt::print("  {}: {}\n", name, value);
    }
  }
  return kExitOk;
}

int drop(state::StateStore& store, const std::string& job, const std::vector<std::int64_t>& ids,
         bool all) {
  std::vector<std::int64_t> targets = ids;
  if (all) {
    for (;;) {
      Result<std::vector<state::DeadLetter>> page =
          store.list_dead_letters({.job = job, .limit = 10'000});
      if (!page) {
        fmt::print(stderr, "{}: dlq drop: {}\n", job, page.error().message());
        return kExitFailed;
      }
      if (page->empty()) {
        break;
      }
      for (const state::DeadLetter& letter : *page) {
        if (Result<bool> removed = store.remove_dead_letter(job, letter.id); !removed) {
          fmt::print(stderr, "{}: dlq drop: {}\n", job, removed.error().message());
          return kExitFailed;
        }
        targets.push_back(letter.id);
      }
    }
    fmt::print("{}: dropped {} dead letter(s)\n", job, targets.size());
    return kExitOk;
  }
  int code = kExitOk;
  int dropped = 0;
  for (std::int64_t id : ids) {
    Result<bool> removed = store.remove_dead_letter(job, id);
    if (!removed) {
      fmt::print(stderr, "{}: dlq drop: {}\n", job, removed.error().message());
      return kExitFailed;
    }
    if (!*removed) {
      fmt::print(stderr, "{}: no dead letter {}; `megasync dlq list {}` lists them\n", job, id,
                 job);
      code = kExitInvalid;
      continue;
    }
    ++dropped;
  }
  fmt::print("{}: dropped {} dead letter(s)\n", job, dropped);
  return code;
}

int replay(const std::shared_ptr<const config::Config>& config, const config::JobConfig& job,
           state::StateStore& store, const std::vector<std::int64_t>& ids) {
  auto endpoints = engine::build_endpoints(*config, registry(), nullptr, nullptr, job.endpoints);
  if (!endpoints) {
    fmt::print(stderr, "megasync: {}\n", endpoints.error().message());
    return kExitInvalid;
  }
  const engine::JobKind* kind = registry().job_kind(job.kind);
  Result<std::unique_ptr<engine::Job>> built =
      kind->create(job, engine::build_context(job, config, *endpoints));
  if (!built) {
    fmt::print(stderr, "{}: {}\n", job.name, built.error().message());
    return kExitInvalid;
  }
  CancelSource cancel;
  engine::RunContext ctx;
  ctx.job = job.name;
  ctx.trigger = "cli";
  ctx.cancel = cancel.token();
  ctx.store = &store;
  Result<nlohmann::json> doc = (*built)->replay_dead_letters(ctx, ids);
  if (!doc) {
    fmt::print(stderr, "{}: dlq replay: {}\n", job.name, doc.error().message());
    return kExitFailed;
  }
  const nlohmann::json& replayed = (*doc)["replayed"];
  const nlohmann::json& failed = (*doc)["failed"];
  for (const auto& id : replayed) {
    fmt::print("{}: dead letter {} applied and removed\n", job.name, id.get<std::int64_t>());
  }
  for (const auto& item : failed) {
    std::string attempts =
        item.contains("attempts") ? fmt::format(" (attempts {})", item["attempts"].dump()) : "";
    fmt::print(stderr, "{}: dead letter {}{}: not applied{}: {}\n", job.name,
               item["id"].get<std::int64_t>(),
               item["target"].get<std::string>().empty()
                   ? std::string()
                   : " to " + item["target"].get<std::string>(),
               attempts, item["error"].get<std::string>());
  }
  fmt::print("{}: replayed {}, still refused {}\n", job.name, replayed.size(), failed.size());
  return failed.empty() ? kExitOk : kExitFailed;
}

}  // namespace

int command_dlq(const GlobalOptions& global, const std::string& config_path,
                const DlqOptions& options) {
  std::shared_ptr<const config::Config> config = load_config(config_path);
  if (!config || !setup_logging_for(global, config.get())) {
    return kExitInvalid;
  }
  const config::JobConfig* job = find_job(*config, options.job);
  if (job == nullptr) {
    return kExitInvalid;
  }
  Result<std::vector<std::int64_t>> ids = parse_ids(job->name, options.ids);
  if (!ids) {
    fmt::print(stderr, "{}\n", ids.error().message());
    return kExitInvalid;
  }
  const bool takes_ids = options.action != "list";
  if (takes_ids && options.action != "show" && ids->empty() == !options.all) {
    fmt::print(stderr, "{}: dlq {}: give dead letter ids (from `megasync dlq list {}`) or --all\n",
               job->name, options.action, job->name);
    return kExitInvalid;
  }
  if (options.action == "show" && ids->size() != 1) {
    fmt::print(stderr, "{}: dlq show: give one dead letter id (from `megasync dlq list {}`)\n",
               job->name, job->name);
    return kExitInvalid;
  }
  auto store = state::open_sqlite_store(config->resolve_path(config->state.path));
  if (!store) {
    fmt::print(stderr, "megasync: state store: {}\n", store.error().message());
    return kExitStartFailed;
  }
  if (options.action == "list") {
    return list(**store, job->name, options);
  }
  if (options.action == "show") {
    return show(**store, job->name, ids->front());
  }
  if (options.action == "drop") {
    return drop(**store, job->name, *ids, options.all);
  }
  return replay(config, *job, **store, *ids);
}

}  // namespace megasync::app
