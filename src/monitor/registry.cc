// MetricsRegistry: registration and the text exposition of every family.
#include <algorithm>
#include <cassert>

#include "monitor/metrics.h"

namespace megasync::monitor {
namespace {

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void write_header(std::string& out, const std::string& name, const std::string& help,
                  MetricType type) {
  if (!help.empty()) {
    out += "# HELP " + name + " " + escape_help(help) + "\n";
  }
  out += "# TYPE " + name + " ";
  out += type_name(type);
  out += "\n";
}

struct ExtraLabel {
  std::string_view name;
  std::string value;
};

// `name{label="value",...,extra="..."} value`; the extra label (histograms'
// `le`) goes last, as client_golang writes it.
void write_sample(std::string& out, const std::string& name, std::string_view suffix,
                  const std::vector<std::string>& labels, const LabelValues& values,
                  const ExtraLabel* extra, double value) {
  out += name;
  out += suffix;
  if (!labels.empty() || extra != nullptr) {
    out += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) {
        out += ',';
      }
      out += labels[i] + "=\"" + escape_label_value(values[i]) + "\"";
    }
    if (extra != nullptr) {
      if (!labels.empty()) {
        out += ',';
      }
      out += extra->name;
      out += "=\"" + escape_label_value(extra->value) + "\"";
    }
    out += '}';
  }
  out += ' ';
  out += format_value(value);
  out += '\n';
}

// Counters and gauges. A labelled family without series prints nothing: a
// HELP/TYPE block with no sample says nothing a scraper can use.
template <typename Series>
void render_scalar_family(std::string& out, const Family<Series>& family, MetricType type) {
  std::string samples;
  family.for_each([&](const LabelValues& values, const Series& series) {
    write_sample(samples, family.name(), "", family.labels(), values, nullptr, series.value());
  });
  if (samples.empty()) {
    return;
  }
  write_header(out, family.name(), family.help(), type);
  out += samples;
}

void render_histogram_family(std::string& out, const HistogramFamily& family) {
  std::string samples;
  const std::vector<double>& bounds = family.bounds();
  family.for_each([&](const LabelValues& values, const Histogram& histogram) {
    const Histogram::Snapshot snap = histogram.snapshot();
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      const ExtraLabel le{"le", i < bounds.size() ? format_value(bounds[i]) : "+Inf"};
      write_sample(samples, family.name(), "_bucket", family.labels(), values, &le,
                   static_cast<double>(snap.cumulative[i]));
    }
    write_sample(samples, family.name(), "_sum", family.labels(), values, nullptr, snap.sum);
    write_sample(samples, family.name(), "_count", family.labels(), values, nullptr,
                 static_cast<double>(snap.count));
  });
  if (samples.empty()) {
    return;
  }
  write_header(out, family.name(), family.help(), MetricType::kHistogram);
  out += samples;
}

}  // namespace

// One registered name: a family, or a value computed at scrape time.
struct MetricsRegistry::Entry {
  std::string name;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> labels;
  std::unique_ptr<CounterFamily> counter;
  std::unique_ptr<GaugeFamily> gauge;
  std::unique_ptr<HistogramFamily> histogram;
  // Callback entries only; replaced by a re-registration, hence shared so that
  // a render in progress keeps the one it copied.
  std::string callback_help;
  std::shared_ptr<const std::function<double()>> callback;

  bool is_callback() const { return callback != nullptr; }

  static Entry* find(const std::vector<std::unique_ptr<Entry>>& entries, const std::string& name) {
    for (const auto& entry : entries) {
      if (entry->name == name) {
        return entry.get();
      }
    }
    return nullptr;
  }

  // Asserts that a second registration asks for the same metric.
  void check_same(MetricType t, const std::vector<std::string>& l, bool cb) const {
    assert(type == t && labels == l && is_callback() == cb &&
           "metric re-registered with another type or labels");
    (void)t;
    (void)l;
    (void)cb;
  }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  if (Entry* existing = Entry::find(entries_, name)) {
    existing->check_same(MetricType::kCounter, labels, false);
    return *existing->counter;
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->type = MetricType::kCounter;
  entry->labels = labels;
  entry->counter = std::make_unique<CounterFamily>(name, help, std::move(labels));
  if (entry->labels.empty()) {
    entry->counter->with({});  // an unlabelled metric is exported from the start, at 0
  }
  entries_.push_back(std::move(entry));
  return *entries_.back()->counter;
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  if (Entry* existing = Entry::find(entries_, name)) {
    existing->check_same(MetricType::kGauge, labels, false);
    return *existing->gauge;
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->type = MetricType::kGauge;
  entry->labels = labels;
  entry->gauge = std::make_unique<GaugeFamily>(name, help, std::move(labels));
  if (entry->labels.empty()) {
    entry->gauge->with({});
  }
  entries_.push_back(std::move(entry));
  return *entries_.back()->gauge;
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            std::vector<std::string> labels,
                                            std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  if (Entry* existing = Entry::find(entries_, name)) {
    // The first registration's bounds stay: changing them would corrupt the
    // cumulative counts already exported.
    existing->check_same(MetricType::kHistogram, labels, false);
    return *existing->histogram;
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->type = MetricType::kHistogram;
  entry->labels = labels;
  entry->histogram =
      std::make_unique<HistogramFamily>(name, help, std::move(labels), std::move(bounds));
  if (entry->labels.empty()) {
    entry->histogram->with({});
  }
  entries_.push_back(std::move(entry));
  return *entries_.back()->histogram;
}

void MetricsRegistry::gauge_callback(const std::string& name, const std::string& help,
                                     std::function<double()> value, MetricType type) {
  assert(type != MetricType::kHistogram && "a callback yields one value");
  auto callback = std::make_shared<const std::function<double()>>(std::move(value));
  std::lock_guard lock(mutex_);
  if (Entry* existing = Entry::find(entries_, name)) {
    // A component rebuilt by a reload registers again; its old callback may
    // point at the old instance, so the new one replaces it.
    existing->check_same(type, {}, true);
    existing->callback_help = help;
    existing->callback = std::move(callback);
    return;
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->type = type;
  entry->callback_help = help;
  entry->callback = std::move(callback);
  entries_.push_back(std::move(entry));
}

void MetricsRegistry::remove_series(const std::string& label, const std::string& value) {
  std::lock_guard lock(mutex_);
  for (const auto& entry : entries_) {
    if (entry->counter) {
      entry->counter->remove_matching(label, value);
    } else if (entry->gauge) {
      entry->gauge->remove_matching(label, value);
    } else if (entry->histogram) {
      entry->histogram->remove_matching(label, value);
    }
  }
}

std::string MetricsRegistry::render() const {
  // Entries are never removed and families never move, so the pointers stay
  // valid after the lock is released. Callbacks run unlocked: they may be slow
  // (reading /proc) and must not stall registration.
  struct Item {
    const Entry* entry;
    std::string help;
    std::shared_ptr<const std::function<double()>> callback;
  };
  std::vector<Item> items;
  {
    std::lock_guard lock(mutex_);
    items.reserve(entries_.size());
    for (const auto& entry : entries_) {
      items.push_back({entry.get(), entry->callback_help, entry->callback});
    }
  }
  std::string out;
  for (const Item& item : items) {
    const Entry& entry = *item.entry;
    if (item.callback) {
      write_header(out, entry.name, item.help, entry.type);
      write_sample(out, entry.name, "", {}, {}, nullptr, (*item.callback)());
    } else if (entry.counter) {
      render_scalar_family(out, *entry.counter, MetricType::kCounter);
    } else if (entry.gauge) {
      render_scalar_family(out, *entry.gauge, MetricType::kGauge);
    } else if (entry.histogram) {
      render_histogram_family(out, *entry.histogram);
    }
  }
  return out;
}

std::vector<double> MetricsRegistry::default_duration_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
}

}  // namespace megasync::monitor
