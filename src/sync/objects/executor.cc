#include "sync/objects/executor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "sync/objects/pipe.h"
#include "sync/objects/pool.h"

namespace megasync::sync::objects {
namespace {

// In flight per copy: enough to keep both sides busy, small enough that
// `transfers` copies of large files stay within a few tens of MiB.
constexpr std::size_t kPipeCapacity = 4 << 20;

// Objects listed at most this large are read whole before they are written,
// on the copying thread: a producer thread per copy costs many small files
// more than their bytes do.
constexpr std::size_t kWholeReadLimit = 1 << 20;

// The most paths given to one ObjectStore::remove_many (S3's DeleteObjects limit).
constexpr std::size_t kMaxDeleteBatch = 1000;

// Holds a whole object of at most `limit` bytes; a read going past it fails.
class BufferSink : public ByteSink {
 public:
  BufferSink(std::size_t expected, std::size_t limit) : limit_(limit) { bytes_.reserve(expected); }
  Status write(std::string_view chunk) override {
    if (bytes_.size() + chunk.size() > limit_) {
      overflowed_ = true;
      return make_error(ErrorCode::kRetryable, "larger than {} bytes", limit_);
    }
    bytes_.append(chunk);
    return ok();
  }
  bool overflowed() const { return overflowed_; }
  const std::string& bytes() const { return bytes_; }

 private:
  std::size_t limit_;
  std::string bytes_;
  bool overflowed_ = false;
};

class BufferSource : public ByteSource {
 public:
  explicit BufferSource(std::string_view bytes) : rest_(bytes) {}
  Result<std::size_t> read(char* buffer, std::size_t capacity) override {
    const std::size_t n = std::min(capacity, rest_.size());
    std::copy_n(rest_.data(), n, buffer);
    rest_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view rest_;
};

struct CopyOutcome {
  std::optional<ObjectInfo> written;  // set on success
  bool vanished = false;
  bool server_side = false;
  std::optional<Error> error;
};

CopyOutcome copy_one(const Action& action, ObjectStore& source, ObjectStore& target,
                     const CancelToken& cancel) {
  ObjectMeta meta;
  meta.mtime = action.source.mtime;
  meta.sha256 = action.source.sha256;
  meta.size = action.source.size;
  meta.metadata = action.source.metadata;
  CopyOutcome outcome;
  // Server-side where the two stores allow it.
  if (Result<std::optional<ObjectInfo>> copied = target.copy_from(source, action.source, meta);
      !copied) {
    if (copied.error().code() == ErrorCode::kNotFound) {
      outcome.vanished = true;
    } else {
      outcome.error = std::move(copied.error()).with_context("copy");
    }
    return outcome;
  } else if (*copied) {
    outcome.written = std::move(**copied);
    outcome.server_side = true;
    return outcome;
  }

  if (action.source.size <= kWholeReadLimit) {
    BufferSink whole(static_cast<std::size_t>(action.source.size), kWholeReadLimit);
    Status read_status = source.read(action.path, whole);
    if (!read_status && read_status.error().code() == ErrorCode::kNotFound) {
      outcome.vanished = true;
      return outcome;
    }
    if (!read_status && !whole.overflowed()) {
      outcome.error = std::move(read_status.error()).with_context("read");
      return outcome;
    }
    if (read_status) {
      BufferSource in(whole.bytes());
      Result<ObjectInfo> written = target.write(action.path, in, meta);
      if (!written) {
        outcome.error = std::move(written.error()).with_context("write");
      } else {
        outcome.written = std::move(*written);
      }
      return outcome;
    }
    // It grew past the limit since it was listed: streamed below.
  }

  BytePipe pipe(kPipeCapacity, cancel);
  Status read_status = ok();
  std::thread producer([&] {
    read_status = source.read(action.path, pipe.sink());
    pipe.close(read_status);
  });
  Result<ObjectInfo> written = target.write(action.path, pipe.source(), meta);
  if (!written) {
    pipe.abort(written.error());
  }
  producer.join();

  if (!read_status && read_status.error().code() == ErrorCode::kNotFound) {
    outcome.vanished = true;
  } else if (!written) {
    outcome.error = std::move(written.error()).with_context("write");
  } else if (!read_status) {
    outcome.error = std::move(read_status.error()).with_context("read");
  } else {
    outcome.written = std::move(*written);
  }
  return outcome;
}

}  // namespace

Result<ExecuteResult> execute(const Plan& plan, ObjectStore& source, ObjectStore& target,
                              const ExecuteOptions& options, engine::RunContext& ctx) {
  ExecuteResult result;
  std::mutex mutex;  // guards result, failures, first_error
  std::int64_t failures = 0;
  std::optional<Error> first_error;
  auto record_failure = [&](const Action& action, Error error) {
    std::lock_guard lock(mutex);
    ++failures;
    spdlog::warn("job {}: {} {}: {}", ctx.job, to_string(action.kind), action.path,
                 error.message());
    if (!first_error) {
      first_error =
          std::move(error).with_context(fmt::format("{} {}", to_string(action.kind), action.path));
    }
  };

  // Deletions that keep no version go in batches (ObjectStore::remove_many: one
  // request per 1000 keys on S3), after the copies; the rest one by one.
  std::vector<std::size_t> singles;
  std::vector<std::string> batch_deletes;
  for (std::size_t i = 0; i < plan.actions.size(); ++i) {
    if (plan.actions[i].kind == ActionKind::kDelete && options.keep_versions <= 0) {
      batch_deletes.push_back(plan.actions[i].path);
    } else {
      singles.push_back(i);
    }
  }

  parallel_for(singles.size(), options.transfers, ctx.cancel, [&](std::size_t n) {
    const Action& action = plan.actions[singles[n]];
    if (action.kind != ActionKind::kCopy && options.keep_versions > 0) {
      if (Status kept = target.keep_version(action.path, options.keep_versions); !kept) {
        record_failure(action, std::move(kept.error()).with_context("keep version"));
        return;  // never replace or delete what we failed to keep
      }
    }
    if (action.kind == ActionKind::kDelete) {
      if (Status removed = target.remove(action.path); !removed) {
        record_failure(action, std::move(removed.error()));
        return;
      }
      std::lock_guard lock(mutex);
      result.deleted.push_back(action.path);
      if (ctx.progress != nullptr) {
        ctx.progress->add_records(options.target_name, 1);
      }
      return;
    }
    CopyOutcome outcome = copy_one(action, source, target, ctx.cancel);
    if (outcome.vanished) {
      spdlog::warn("job {}: {} vanished from the source during the sync; skipped", ctx.job,
                   action.path);
      std::lock_guard lock(mutex);
      result.vanished.push_back(action.path);
      return;
    }
    if (outcome.error) {
      record_failure(action, std::move(*outcome.error));
      return;
    }
    std::lock_guard lock(mutex);
    result.bytes += outcome.written->size;
    result.server_side += outcome.server_side ? 1 : 0;
    if (ctx.progress != nullptr) {
      ctx.progress->add_records(options.target_name, 1);
      ctx.progress->add_bytes(options.target_name,
                              static_cast<std::int64_t>(outcome.written->size));
    }
    result.written.emplace(action.path, std::move(*outcome.written));
  });

  // Batches of at most 1000 paths, spread over the transfer threads.
  const std::size_t threads = static_cast<std::size_t>(std::max(1, options.transfers));
  const std::size_t batch =
      std::clamp<std::size_t>((batch_deletes.size() + threads - 1) / threads, 1, kMaxDeleteBatch);
  const std::size_t batches = (batch_deletes.size() + batch - 1) / batch;
  parallel_for(batches, options.transfers, ctx.cancel, [&](std::size_t b) {
    const auto first = batch_deletes.begin() + static_cast<std::ptrdiff_t>(b * batch);
    const auto last = batch_deletes.begin() +
                      static_cast<std::ptrdiff_t>(std::min(batch_deletes.size(), (b + 1) * batch));
    const std::vector<std::string> paths(first, last);
    if (Status removed = target.remove_many(paths); !removed) {
      Action action{.kind = ActionKind::kDelete, .path = paths.front()};
      record_failure(
          action,
          std::move(removed.error()).with_context(fmt::format("{} deletions", paths.size())));
      return;
    }
    std::lock_guard lock(mutex);
    result.deleted.insert(result.deleted.end(), paths.begin(), paths.end());
    if (ctx.progress != nullptr) {
      ctx.progress->add_records(options.target_name, static_cast<std::int64_t>(paths.size()));
    }
  });

  if (ctx.cancel.cancelled()) {
    return make_error(ErrorCode::kCancelled, "cancelled after {} of {} transfers",
                      result.written.size() + result.deleted.size(), plan.actions.size());
  }
  if (first_error) {
    return fail(
        std::move(*first_error)
            .with_context(fmt::format("{} of {} transfers failed", failures, plan.actions.size())));
  }
  return result;
}

Status check_applied(const ExecuteResult& result, ObjectStore& target) {
  const std::set<std::string> deleted(result.deleted.begin(), result.deleted.end());
  std::map<std::string, ObjectInfo> listed;
  // The quick listing: sizes (and digests, where listed) are all it compares.
  Status status = target.list_quick("", [&](const ObjectInfo& info) {
    if (result.written.contains(info.path) || deleted.contains(info.path)) {
      listed.emplace(info.path, info);
    }
    return ok();
  });
  if (!status) {
    return fail(std::move(status.error()).with_context("verify: list target"));
  }
  std::vector<std::string> problems;
  for (const auto& [path, written] : result.written) {
    auto it = listed.find(path);
    if (it == listed.end()) {
      problems.push_back(path + " is missing");
    } else if (it->second.size != written.size) {
      problems.push_back(
          fmt::format("{} has {} bytes, {} written", path, it->second.size, written.size));
    } else if (!it->second.sha256.empty() && !written.sha256.empty() &&
               it->second.sha256 != written.sha256) {
      problems.push_back(path + " has a different SHA-256");
    }
  }
  for (const std::string& path : result.deleted) {
    if (listed.contains(path)) {
      problems.push_back(path + " is still there");
    }
  }
  if (!problems.empty()) {
    std::string shown;
    for (std::size_t i = 0; i < problems.size() && i < 5; ++i) {
      shown += (i == 0 ? "" : "; ") + problems[i];
    }
    return make_error(ErrorCode::kRetryable, "verify: {} of the synced objects do not match: {}",
                      problems.size(), shown);
  }
  return ok();
}

}  // namespace megasync::sync::objects
