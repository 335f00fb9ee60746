#include "monitor/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <type_traits>

namespace megasync::monitor {
namespace {

bool valid_metric_name(const std::string& name) {
  if (name.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) {
      return false;
    }
  }
  return true;
}

// Used in assertions only (compiled out in release builds).
[[maybe_unused]] bool valid_label_name(const std::string& name) {
  return valid_metric_name(name) && name.find(':') == std::string::npos && !name.starts_with("__");
}

// Ascending, without duplicates or infinities: +Inf is always implied.
std::vector<double> normalise_bounds(std::vector<double> bounds) {
  std::erase_if(bounds, [](double b) { return !std::isfinite(b); });
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return bounds;
}

}  // namespace

void Counter::inc(double by) {
  assert(!(by < 0) && "counters only go up");
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

void Gauge::add(double by) {
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(bounds->size() + 1, 0) {}

void Histogram::observe(double v) {
  // Bucket i counts v <= bounds[i]; NaN matches no bound and lands in +Inf,
  // as in client_golang.
  std::size_t bucket = bounds_->size();
  if (!std::isnan(v)) {
    bucket = static_cast<std::size_t>(std::lower_bound(bounds_->begin(), bounds_->end(), v) -
                                      bounds_->begin());
  }
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot out;
  std::lock_guard lock(mutex_);
  out.cumulative.reserve(counts_.size());
  std::uint64_t running = 0;
  for (std::uint64_t c : counts_) {
    running += c;
    out.cumulative.push_back(running);
  }
  out.sum = sum_;
  out.count = count_;
  return out;
}

template <typename Series>
Family<Series>::Family(std::string name, std::string help, std::vector<std::string> labels,
                       std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      labels_(std::move(labels)),
      bounds_(normalise_bounds(std::move(bounds))) {
  assert(valid_metric_name(name_));
  for ([[maybe_unused]] const std::string& label : labels_) {
    assert(valid_label_name(label));
    assert(!(std::is_same_v<Series, Histogram> && label == "le"));
  }
}

template <typename Series>
Series& Family<Series>::with(const LabelValues& values) {
  assert(values.size() == labels_.size() && "one value per label name");
  std::lock_guard lock(mutex_);
  auto it = series_.find(values);
  if (it == series_.end()) {
    std::unique_ptr<Series> series;
    if constexpr (std::is_same_v<Series, Histogram>) {
      series = std::make_unique<Histogram>(&bounds_);
    } else {
      series = std::make_unique<Series>();
    }
    it = series_.emplace(values, std::move(series)).first;
  }
  return *it->second;
}

template <typename Series>
void Family<Series>::remove(const LabelValues& values) {
  std::lock_guard lock(mutex_);
  series_.erase(values);
}

template <typename Series>
void Family<Series>::remove_matching(const std::string& label, const std::string& value) {
  const auto pos = std::find(labels_.begin(), labels_.end(), label);
  if (pos == labels_.end()) {
    return;
  }
  const auto index = static_cast<std::size_t>(pos - labels_.begin());
  std::lock_guard lock(mutex_);
  std::erase_if(series_, [&](const auto& entry) { return entry.first[index] == value; });
}

template <typename Series>
void Family<Series>::for_each(
    const std::function<void(const LabelValues&, const Series&)>& each) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    each(values, *series);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

}  // namespace megasync::monitor
