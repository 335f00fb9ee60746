// The redis_streams record source: Redis streams read through a consumer
// group (XREADGROUP), acknowledged (XACK) only once every target confirmed.
//
// Each entry becomes an upsert Change (core/message.h): collection = its
// stream, id = the field `id_field` when set and present, else
// "<stream>:<entry id>"; payload = the field `payload_field`, key = the field
// `key_field`, every other field a header. Positions are session positions
// (core/message.h): the group keeps what was delivered and not acked in this
// consumer's pending entries list, and open() reads that list again (ID 0)
// before new entries (ID >), so a restart loses nothing. The entries of
// batches not yet released are held, and release(position) XACKs exactly
// those numbered up to the position.
//
// Created by StreamsEndpoint::open_record_source on the job's thread; used by
// that thread only. Owns its connection.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/redis/service.h"
#include "connectors/redis_streams/options.h"
#include "core/message.h"
#include "core/record_source.h"

namespace megasync::connectors::redis_streams {

// The message of one stream entry (`fields` alternate name, value).
Message message_of(const StreamsOptions& options, const std::string& stream,
                   const std::string& entry_id, const std::vector<std::string>& fields);

// A stream `names` stands for: a name as it is (named), or one a glob
// matches (SCAN ... TYPE stream).
struct FoundStream {
  std::string name;
  bool named = false;
};
// The streams `names` (names or globs) stand for now; `endpoint` names the
// endpoint in errors.
Result<std::vector<FoundStream>> find_streams(redis::Connection& connection,
                                              const std::vector<std::string>& names,
                                              const std::string& endpoint);

class StreamsSource : public RecordSource {
 public:
  StreamsSource(StreamsOptions options, std::string group)
      : options_(std::move(options)), group_(std::move(group)) {}

  // One message_schema per configured stream (or glob).
  Result<std::vector<CollectionSchema>> describe() override;
  // Connects, resolves the globs, creates the group where missing (MKSTREAM
  // for a named stream) and starts a new session reading this consumer's
  // pending entries first. The position is not used (see above).
  Status open(const std::optional<Position>& resume_after) override;
  // XREADGROUP COUNT max_changes, blocking until `until` for new entries.
  Result<std::optional<Batch>> next(Deadline until, std::size_t max_changes) override;
  // XACKs the held entries numbered up to `durable_everywhere`.
  Status release(const Position& durable_everywhere) override;
  int compare(const Position& a, const Position& b) const override;

 private:
  struct Held {
    std::uint64_t sequence = 0;  // within the session
    std::string stream;
    std::string entry_id;
  };
  // SCAN for the streams the globs match (every 10 s) and create the group
  // on the new ones.
  Status resolve_streams(bool force);
  Status ensure_group(const std::string& stream, bool make_stream);
  Result<std::optional<Batch>> read(Deadline until, std::size_t max_changes);

  StreamsOptions options_;
  std::string group_;
  std::unique_ptr<redis::Connection> connection_;
  // Stream -> the ID XREADGROUP reads after: the last pending entry read
  // while replaying this consumer's pending list, ">" once it is done.
  std::map<std::string, std::string> cursors_;
  std::chrono::steady_clock::time_point resolved_at_;
  std::uint64_t session_ = 0;
  std::uint64_t sequence_ = 0;
  std::deque<Held> held_;
};

}  // namespace megasync::connectors::redis_streams
