#include <algorithm>

#include "engine/job.h"

namespace megasync::engine {

void RunProgress::add_records(const std::string& target, std::int64_t n) {
  std::lock_guard lock(mutex_);
  figures_.records += n;
  figures_.per_target[target].first += n;
}

void RunProgress::add_bytes(const std::string& target, std::int64_t n) {
  std::lock_guard lock(mutex_);
  figures_.bytes += n;
  figures_.per_target[target].second += n;
}

void RunProgress::set_phase(std::string phase) {
  std::lock_guard lock(mutex_);
  figures_.phase = std::move(phase);
}

void RunProgress::set_total(std::int64_t records_total, std::int64_t bytes_total) {
  std::lock_guard lock(mutex_);
  figures_.records_total = records_total;
  figures_.bytes_total = bytes_total;
}

double RunProgress::Snapshot::records_per_second() const {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return seconds > 0 ? static_cast<double>(records) / seconds : 0;
}

double RunProgress::Snapshot::eta_seconds() const {
  const double rate = records_per_second();
  if (records_total < 0 || rate <= 0) {
    return -1;
  }
  return std::max(0.0, static_cast<double>(records_total - records) / rate);
}

RunProgress::Snapshot RunProgress::snapshot() const {
  std::lock_guard lock(mutex_);
  return figures_;
}

}  // namespace megasync::engine
