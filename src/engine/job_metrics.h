// The job runners' metric families, created once per daemon (the "probe" of
// the engine, in Redpanda's sense) and shared by every runner.
#pragma once

#include "monitor/metrics.h"

namespace megasync::engine {

struct JobMetrics {
  explicit JobMetrics(monitor::MetricsRegistry& registry);

  monitor::CounterFamily& runs;            // megasync_job_runs_total{job,outcome}
  monitor::HistogramFamily& run_duration;  // megasync_job_run_duration_seconds{job}
  monitor::GaugeFamily& last_success;      // megasync_job_last_success_timestamp_seconds{job}
  monitor::GaugeFamily& running;           // megasync_job_running{job}
  monitor::CounterFamily& retries;         // megasync_job_retries_total{job}
  monitor::CounterFamily& records;         // megasync_records_synced_total{job,target}
  monitor::CounterFamily& bytes;           // megasync_bytes_synced_total{job,target}
};

}  // namespace megasync::engine
