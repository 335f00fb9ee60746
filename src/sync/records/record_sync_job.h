// The record sync engine's job: reads batches from one RecordSource, rewrites
// them with the job's transforms and fans them out to every target through a
// bounded queue per target (TargetWorker). Each target is checkpointed on its
// own, after its sink made a batch durable; the source is told to release only
// what every target has made durable (docs/design.md "Record sync").
//
// Created by the record job kinds' factory (factory.cc); run() is called on the
// job's thread, one run at a time. A run opens the source and the sinks afresh
// and closes them when it returns, so an abandoned run holds nothing the next
// one needs.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/endpoint.h"
#include "engine/job.h"
#include "transforms/transform.h"

namespace megasync::sync::records {

struct RecordSyncOptions {
  std::string job;
  std::string source_name;
  std::shared_ptr<engine::Endpoint> source;
  std::vector<std::pair<std::string, std::shared_ptr<engine::Endpoint>>> targets;
  std::vector<std::string> tables;  // names or globs; empty: all
  std::size_t batch_size = 1000;
  std::size_t queue_batches = 4;
  // Periodic jobs stop once the source has nothing new; a continuous job
  // (interval 0) keeps polling until its deadline or cancellation.
  bool stop_when_caught_up = true;
};

class RecordSyncJob : public engine::Job {
 public:
  // `transforms` is called once per run for a fresh chain (a Chain keeps the
  // schemas of the run it was prepared for).
  RecordSyncJob(RecordSyncOptions options, std::function<transforms::Chain()> transforms)
      : options_(std::move(options)), make_transforms_(std::move(transforms)) {}

  // Ok when every target applied everything read; kCancelled on cancellation;
  // a retryable error naming each failed target otherwise (the next run resumes
  // every target from its own checkpoint).
  Status run(engine::RunContext& ctx) override;

 private:
  RecordSyncOptions options_;
  std::function<transforms::Chain()> make_transforms_;
};

}  // namespace megasync::sync::records
