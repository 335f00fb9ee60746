#include "monitor/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace megasync::monitor {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Conformance vector 1 of prometheus/common expfmt TestCreate (a counter, HELP
// with a newline and a backslash), minus the timestamp we never write.
TEST(MetricsRender, CounterConformance) {
  MetricsRegistry registry;
  auto& family = registry.counter("name", "two-line\n doc  str\\ing", {"labelname", "basename"});
  family.with({"val1", "basevalue"}).inc(kNaN);
  family.with({"val2", "basevalue"}).inc(0.23);
  EXPECT_EQ(registry.render(),
            "# HELP name two-line\\n doc  str\\\\ing\n"
            "# TYPE name counter\n"
            "name{labelname=\"val1\",basename=\"basevalue\"} NaN\n"
            "name{labelname=\"val2\",basename=\"basevalue\"} 0.23\n");
}

// Vector 2: escaping in label values, multibyte UTF-8, a `"` kept literal in
// HELP. Series come out in label-value order, so "Björn" precedes "val with".
TEST(MetricsRender, GaugeConformance) {
  MetricsRegistry registry;
  auto& family = registry.gauge("gauge_name", "gauge\ndoc\nstr\"ing", {"name_1", "name_2"});
  family.with({"val with\nnew line", "val with \\backslash and \"quotes\""}).set(kInf);
  family.with({"Björn", "佖佥"}).set(3.14e42);
  EXPECT_EQ(registry.render(),
            "# HELP gauge_name gauge\\ndoc\\nstr\"ing\n"
            "# TYPE gauge_name gauge\n"
            "gauge_name{name_1=\"Björn\",name_2=\"佖佥\"} 3.14e+42\n"
            "gauge_name{name_1=\"val with\\nnew line\",name_2=\"val with \\\\backslash and "
            "\\\"quotes\\\"\"} +Inf\n");
}

// Vector 4: a histogram with cumulative buckets and the mandatory +Inf.
TEST(MetricsRender, HistogramConformance) {
  MetricsRegistry registry;
  auto& family = registry.histogram("request_duration_microseconds", "The response latency.", {},
                                    {100, 120, 144, 172.8});
  Histogram& h = family.with({});
  auto observe_n = [&h](int n, double v) {
    for (int i = 0; i < n; ++i) {
      h.observe(v);
    }
  };
  observe_n(123, 100);    // le=100: 123
  observe_n(289, 120);    // le=120: 412
  observe_n(180, 144);    // le=144: 592
  observe_n(932, 150);    // le=172.8: 1524
  observe_n(1168, 1000);  // +Inf
  h.observe(375347.3);    // +Inf: 2693; sum 1756047.3
  EXPECT_EQ(registry.render(),
            "# HELP request_duration_microseconds The response latency.\n"
            "# TYPE request_duration_microseconds histogram\n"
            "request_duration_microseconds_bucket{le=\"100\"} 123\n"
            "request_duration_microseconds_bucket{le=\"120\"} 412\n"
            "request_duration_microseconds_bucket{le=\"144\"} 592\n"
            "request_duration_microseconds_bucket{le=\"172.8\"} 1524\n"
            "request_duration_microseconds_bucket{le=\"+Inf\"} 2693\n"
            "request_duration_microseconds_sum 1.7560473e+06\n"
            "request_duration_microseconds_count 2693\n");
}

TEST(MetricsRender, HistogramLabelsPutLeLast) {
  MetricsRegistry registry;
  auto& family =
      registry.histogram("megasync_run_duration_seconds", "Run duration.", {"job"}, {0.5, 2.5});
  family.with({"orders"}).observe(0.5);  // bounds are inclusive
  family.with({"orders"}).observe(3);
  EXPECT_EQ(registry.render(),
            "# HELP megasync_run_duration_seconds Run duration.\n"
            "# TYPE megasync_run_duration_seconds histogram\n"
            "megasync_run_duration_seconds_bucket{job=\"orders\",le=\"0.5\"} 1\n"
            "megasync_run_duration_seconds_bucket{job=\"orders\",le=\"2.5\"} 1\n"
            "megasync_run_duration_seconds_bucket{job=\"orders\",le=\"+Inf\"} 2\n"
            "megasync_run_duration_seconds_sum{job=\"orders\"} 3.5\n"
            "megasync_run_duration_seconds_count{job=\"orders\"} 2\n");
}

TEST(MetricsRender, HistogramBoundsAreNormalised) {
  MetricsRegistry registry;
  auto& family = registry.histogram("h", "", {}, {10, 1, kInf, 1});
  EXPECT_EQ(family.bounds(), (std::vector<double>{1, 10}));
  family.with({}).observe(kNaN);  // counted in +Inf only, as client_golang does
  const Histogram::Snapshot snap = family.with({}).snapshot();
  EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{0, 0, 1}));
  EXPECT_EQ(snap.count, 1U);
}

TEST(MetricsRender, DefaultDurationBucketsRenderLikeGo) {
  MetricsRegistry registry;
  registry.histogram("d", "", {}, MetricsRegistry::default_duration_buckets());
  const std::string text = registry.render();
  for (const char* le : {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
                         "10", "30", "60", "120", "300", "600", "+Inf"}) {
    EXPECT_NE(text.find("d_bucket{le=\"" + std::string(le) + "\"} 0\n"), std::string::npos) << le;
  }
  EXPECT_EQ(MetricsRegistry::default_duration_buckets().size(), 16U);
}

TEST(MetricsRender, EmptyLabelledFamilyPrintsNothingUnlabelledPrintsZero) {
  MetricsRegistry registry;
  registry.counter("megasync_errors_total", "Errors.", {"job"});
  registry.gauge("megasync_jobs", "Jobs configured.");
  registry.counter("megasync_reloads_total", "Reloads.");
  EXPECT_EQ(registry.render(),
            "# HELP megasync_jobs Jobs configured.\n"
            "# TYPE megasync_jobs gauge\n"
            "megasync_jobs 0\n"
            "# HELP megasync_reloads_total Reloads.\n"
            "# TYPE megasync_reloads_total counter\n"
            "megasync_reloads_total 0\n");
}

TEST(MetricsRender, RegistrationOrderIsKept) {
  MetricsRegistry registry;
  registry.gauge("b_second", "");
  registry.gauge("a_first", "");
  const std::string text = registry.render();
  EXPECT_LT(text.find("b_second"), text.find("a_first"));
  EXPECT_EQ(text.find("# HELP"), std::string::npos);  // no help given, no HELP line
}

TEST(MetricsRender, CallbacksAreComputedAtScrape) {
  MetricsRegistry registry;
  double value = 1.5;
  registry.gauge_callback("megasync_uptime_seconds", "Uptime.", [&value] { return value; });
  registry.gauge_callback(
      "megasync_cb_total", "A counter.", [] { return 7.0; }, MetricType::kCounter);
  value = 2.5;
  EXPECT_EQ(registry.render(),
            "# HELP megasync_uptime_seconds Uptime.\n"
            "# TYPE megasync_uptime_seconds gauge\n"
            "megasync_uptime_seconds 2.5\n"
            "# HELP megasync_cb_total A counter.\n"
            "# TYPE megasync_cb_total counter\n"
            "megasync_cb_total 7\n");
  // Re-registration replaces the function (the old one may reference a dead object).
  registry.gauge_callback("megasync_uptime_seconds", "Uptime.", [] { return 9.0; });
  EXPECT_NE(registry.render().find("megasync_uptime_seconds 9\n"), std::string::npos);
}

struct FormatCase {
  double value;
  const char* text;
};

TEST(FormatValue, MatchesGoShortestG) {
  const FormatCase cases[] = {
      {0.23, "0.23"},
      {3.14e42, "3.14e+42"},
      {1756047.3, "1.7560473e+06"},
      {-1.23e-45, "-1.23e-45"},
      {kNaN, "NaN"},
      {kInf, "+Inf"},
      {-kInf, "-Inf"},
      {2693, "2693"},
      {0, "0"},
      {1, "1"},
      {-1, "-1"},
      {2.5, "2.5"},
      {10, "10"},
      {0.005, "0.005"},
      {172.8, "172.8"},
      {999999, "999999"},
      {123456.7, "123456.7"},
      {1e6, "1e+06"},
      {1234567, "1.234567e+06"},
      {1e21, "1e+21"},
      {1e100, "1e+100"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {1458255915, "1.458255915e+09"},
      {2010.1971, "2010.1971"},
      {0.1 + 0.2, "0.30000000000000004"},
  };
  for (const FormatCase& c : cases) {
    EXPECT_EQ(format_value(c.value), c.text) << c.text;
  }
}

TEST(Escaping, LabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("C:\\DIR\\FILE.TXT"), "C:\\\\DIR\\\\FILE.TXT");
  EXPECT_EQ(escape_label_value("Cannot find file:\n\"FILE.TXT\""),
            "Cannot find file:\\n\\\"FILE.TXT\\\"");
  EXPECT_EQ(escape_label_value("plain é"), "plain é");
  EXPECT_EQ(escape_help("a \"b\"\\c\nd"), "a \"b\"\\\\c\\nd");
}

TEST(Registry, ReRegistrationReturnsTheSameFamily) {
  MetricsRegistry registry;
  auto& a = registry.counter("megasync_records_total", "Records.", {"job", "target"});
  a.with({"orders", "pg"}).inc(3);
  auto& b = registry.counter("megasync_records_total", "Records.", {"job", "target"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(b.with({"orders", "pg"}).value(), 3);
  auto& g1 = registry.gauge("megasync_lag_seconds", "Lag.", {"job"});
  EXPECT_EQ(&g1, &registry.gauge("megasync_lag_seconds", "Lag.", {"job"}));
  auto& h1 = registry.histogram("megasync_batch_seconds", "B.", {}, {1});
  EXPECT_EQ(&h1, &registry.histogram("megasync_batch_seconds", "B.", {}, {1}));
}

TEST(Registry, RemoveSeriesDropsEveryFamilysMatchingSeries) {
  MetricsRegistry registry;
  auto& records = registry.counter("megasync_records_total", "", {"job", "target"});
  auto& lag = registry.gauge("megasync_lag_seconds", "", {"job"});
  auto& runs = registry.histogram("megasync_run_seconds", "", {"job"}, {1});
  auto& other = registry.gauge("megasync_endpoint_up", "", {"endpoint"});
  records.with({"orders", "a"}).inc();
  records.with({"orders", "b"}).inc();
  records.with({"users", "a"}).inc();
  lag.with({"orders"}).set(1);
  runs.with({"orders"}).observe(1);
  other.with({"orders"}).set(1);  // another label that happens to hold the same value
  registry.remove_series("job", "orders");
  const std::string text = registry.render();
  EXPECT_EQ(text.find("job=\"orders\""), std::string::npos) << text;
  EXPECT_NE(text.find("megasync_records_total{job=\"users\",target=\"a\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("megasync_endpoint_up{endpoint=\"orders\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("megasync_lag_seconds"), std::string::npos);  // no series left

  records.remove({"users", "a"});
  EXPECT_EQ(registry.render().find("megasync_records_total"), std::string::npos);
}

TEST(Registry, ConcurrentIncrementsAreExact) {
  MetricsRegistry registry;
  auto& family = registry.counter("megasync_ops_total", "", {"worker"});
  auto& gauge = registry.gauge("megasync_level", "");
  auto& histogram = registry.histogram("megasync_obs", "", {}, {1});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        family.with({"shared"}).inc();
        family.with({"shared"}).inc(0.5);
        gauge.with({}).add(1);
        histogram.with({}).observe(0.5);
      }
    });
  }
  std::thread scraper([&registry] {
    for (int i = 0; i < 20; ++i) {
      EXPECT_FALSE(registry.render().empty());
    }
  });
  for (auto& thread : threads) {
    thread.join();
  }
  scraper.join();
  EXPECT_EQ(family.with({"shared"}).value(), kThreads * kPerThread * 1.5);
  EXPECT_EQ(gauge.with({}).value(), kThreads * kPerThread);
  EXPECT_EQ(histogram.with({}).snapshot().count, static_cast<std::uint64_t>(kThreads) * kPerThread);
}

}  // namespace
}  // namespace megasync::monitor
