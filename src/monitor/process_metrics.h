// The standard process_* metrics that Prometheus client libraries export,
// read from /proc/self at scrape time (Linux only).
//
//   process_cpu_seconds_total       counter  user + system CPU time
//   process_resident_memory_bytes   gauge
//   process_virtual_memory_bytes    gauge
//   process_start_time_seconds      gauge    since the Unix epoch
//   process_open_fds                gauge
//   process_max_fds                 gauge    soft RLIMIT_NOFILE
//
// A value that cannot be read (no /proc) is exported as NaN rather than
// failing the scrape. Thread-safety: the callbacks may run on any thread.
#pragma once

#include "monitor/metrics.h"

namespace megasync::monitor {

// Registers the metrics above as scrape-time callbacks. Calling it twice is harmless.
void register_process_metrics(MetricsRegistry& registry);

}  // namespace megasync::monitor
