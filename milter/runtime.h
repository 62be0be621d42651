// milter/runtime.h - what every milter connection shares.
//
// The service settings are fixed for the life of the process; the policy and
// the notice templates are snapshots that reload() swaps whole, so a message
// keeps the snapshot it started with. A reload that finds any problem keeps
// the old snapshots and says why. Counts messages in progress so a stop can
// let them finish.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "config/policy_snapshot.h"
#include "config/service_config.h"
#include "milter/metrics.h"
#include "milter/notice.h"
#include "store/store.h"

namespace attachgate::milter {

class Runtime {
 public:
  Runtime(config::ServiceConfig service, std::string policy_path,
          std::shared_ptr<const config::Policy> policy,
          std::shared_ptr<const NoticeRenderer> notices, store::StoreFor<store::MilterCatalog> store);

  const config::ServiceConfig& service() const { return service_; }
  const store::StoreFor<store::MilterCatalog>& store() const { return store_; }
  std::shared_ptr<const config::Policy> policy() const { return policy_.get(); }
  std::shared_ptr<const NoticeRenderer> notices() const;
  // Shared by every connection; the app publishes it (see metrics.h).
  MilterMetrics& metrics() { return metrics_; }

  // Reloads policy and templates; on any problem keeps both and returns it.
  Status reload();

  void message_started();
  void message_finished();
  // Waits until no message is in progress, or the timeout passes; returns
  // how many were still in progress.
  int wait_idle(int timeout_seconds);

 private:
  const config::ServiceConfig service_;
  const std::string policy_path_;
  config::PolicySnapshot policy_;
  mutable std::mutex mu_;
  std::shared_ptr<const NoticeRenderer> notices_;
  store::StoreFor<store::MilterCatalog> store_;
  int in_progress_ = 0;
  std::condition_variable idle_;
  MilterMetrics metrics_;
};

}  // namespace attachgate::milter
