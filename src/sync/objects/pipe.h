// A bounded in-memory byte pipe: one thread reads an object from the source
// store into the pipe's sink while another writes it to the target store from
// the pipe's source, so that a large object is never held whole in memory.
//
// Created per copy by the executor. sink() is used by the producer thread only,
// source() by the consumer thread only; close() and abort() may come from either.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "core/cancel.h"
#include "core/object.h"

namespace megasync::sync::objects {

class BytePipe {
 public:
  // Holds at most `capacity` bytes in flight (a chunk larger than that is
  // accepted alone); `cancel` makes both ends fail with kCancelled.
  explicit BytePipe(std::size_t capacity, CancelToken cancel = {});

  // The producer's end. write() blocks while the pipe is full; fails once the
  // consumer aborted or the run was cancelled.
  ByteSink& sink() { return sink_; }
  // The consumer's end. read() blocks while the pipe is empty; returns 0 after
  // close(ok), the producer's error after close(error).
  ByteSource& source() { return source_; }

  // Producer: no more bytes; `status` is how the read ended.
  void close(Status status);
  // Consumer: stop; the producer's next write fails with `error`.
  void abort(Error error);

 private:
  class Sink : public ByteSink {
   public:
    explicit Sink(BytePipe& pipe) : pipe_(pipe) {}
    Status write(std::string_view chunk) override { return pipe_.push(chunk); }

   private:
    BytePipe& pipe_;
  };
  class Source : public ByteSource {
   public:
    explicit Source(BytePipe& pipe) : pipe_(pipe) {}
    Result<std::size_t> read(char* buffer, std::size_t capacity) override {
      return pipe_.pop(buffer, capacity);
    }

   private:
    BytePipe& pipe_;
  };

  Status push(std::string_view chunk);
  Result<std::size_t> pop(char* buffer, std::size_t capacity);

  const std::size_t capacity_;
  CancelToken cancel_;
  Sink sink_{*this};
  Source source_{*this};

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;
  std::size_t front_offset_ = 0;  // bytes of chunks_.front() already read
  std::size_t buffered_ = 0;
  bool closed_ = false;
  Status close_status_;
  std::optional<Error> aborted_;
};

}  // namespace megasync::sync::objects
