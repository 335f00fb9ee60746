// The metrics registry and its Prometheus text exposition (format 0.0.4).
//
// Components create their metric families once (usually in a small "probe"
// class of their own) and keep references; the families live as long as the
// registry. render() writes every family in registration order, HELP and TYPE
// first, label values escaped, histograms with cumulative buckets and +Inf.
//
// Thread-safety: every method may be called from any thread. Counter and gauge
// updates are lock-free on an existing series; creating a series takes a lock.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace megasync::monitor {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void inc(double by = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void observe(double v);
  // Cumulative counts per bound (+Inf last), sum and count, read consistently.
  struct Snapshot {
    std::vector<std::uint64_t> cumulative;
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double>* bounds_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

enum class MetricType { kCounter, kGauge, kHistogram };

// One metric family: a name, help, label names, and a series per label values.
template <typename Series>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::vector<double> bounds = {});
  // The series with these label values (created on first use). The number of
  // values must equal the number of label names.
  Series& with(const LabelValues& values);
  // Forgets a series (a job removed by a reload).
  void remove(const LabelValues& values);
  // Forgets every series whose label `label` has `value`.
  void remove_matching(const std::string& label, const std::string& value);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labels() const { return labels_; }
  // Histogram upper bounds, ascending, without +Inf (always implied); empty otherwise.
  const std::vector<double>& bounds() const { return bounds_; }
  // Calls `each` for every series, in label-value order.
  void for_each(const std::function<void(const LabelValues&, const Series&)>& each) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Series>> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();  // defined where Entry is complete
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registering a name twice returns the existing family when the type and
  // labels match (so a component rebuilt by a reload finds its metrics again);
  // a mismatch is a programming error (asserts).
  CounterFamily& counter(const std::string& name, const std::string& help,
                         std::vector<std::string> labels = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help,
                     std::vector<std::string> labels = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help,
                             std::vector<std::string> labels, std::vector<double> bounds);
  // A gauge computed at scrape time (process memory, CPU seconds, uptime).
  void gauge_callback(const std::string& name, const std::string& help,
                      std::function<double()> value, MetricType type = MetricType::kGauge);

  // Removes every series of every family whose label `label` equals `value`.
  void remove_series(const std::string& label, const std::string& value);

  // The Prometheus text exposition of everything registered.
  std::string render() const;

  static std::vector<double> default_duration_buckets();

 private:
  struct Entry;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;  // registration order
};

// Formats a sample value as Prometheus' reference encoder does (shortest
// round-trip form; NaN, +Inf, -Inf).
std::string format_value(double v);
// Escapes a label value (\\, \", \n) and a HELP text (\\, \n).
std::string escape_label_value(const std::string& v);
std::string escape_help(const std::string& v);

}  // namespace megasync::monitor
