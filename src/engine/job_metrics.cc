#include "engine/job_metrics.h"

namespace megasync::engine {

JobMetrics::JobMetrics(monitor::MetricsRegistry& registry)
    : runs(registry.counter("megasync_job_runs_total", "Job runs by outcome.", {"job", "outcome"})),
      run_duration(registry.histogram("megasync_job_run_duration_seconds",
                                      "Duration of job runs, retries included.", {"job"},
                                      monitor::MetricsRegistry::default_duration_buckets())),
      last_success(registry.gauge("megasync_job_last_success_timestamp_seconds",
                                  "When the job last finished a run successfully.", {"job"})),
      running(registry.gauge("megasync_job_running", "1 while a run of the job is in flight.",
                             {"job"})),
      retries(registry.counter("megasync_job_retries_total",
                               "Attempts retried after a retryable failure.", {"job"})),
      records(registry.counter("megasync_records_synced_total",
                               "Records (rows, keys, messages, documents, objects) applied to a "
                               "target.",
                               {"job", "target"})),
      bytes(registry.counter("megasync_bytes_synced_total", "Bytes applied to a target.",
                             {"job", "target"})) {}

}  // namespace megasync::engine
