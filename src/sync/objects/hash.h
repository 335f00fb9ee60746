// SHA-256 of a byte stream, for checksum mode: a ByteSink that digests what a
// store's read() delivers.
//
// Created per read by the engine; one thread.
#pragma once

#include <memory>
#include <string>

#include "core/object.h"

namespace megasync::sync::objects {

class Sha256Sink : public ByteSink {
 public:
  Sha256Sink();
  ~Sha256Sink() override;
  Sha256Sink(const Sha256Sink&) = delete;
  Sha256Sink& operator=(const Sha256Sink&) = delete;

  Status write(std::string_view chunk) override;
  // Lowercase hex of everything written; call once, at the end.
  std::string hex_digest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace megasync::sync::objects
