// config/policy_snapshot.h - the policy in force, swapped whole on reload.
//
// Readers take a shared_ptr<const Policy> once per message and keep it, so a
// reload (SIGHUP) never changes a message that is half processed. A reload
// that finds any problem changes nothing: the old policy stays in force.
// Safe to use from any number of threads.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "config/policy.h"
#include "util/result.h"

namespace attachgate::config {

class PolicySnapshot {
 public:
  explicit PolicySnapshot(std::shared_ptr<const Policy> policy);  // must not be null

  std::shared_ptr<const Policy> get() const;
  // Loads path. On any problem keeps the current policy and returns an Error
  // whose message is every problem as `file:line: message`, one per line.
  Status reload(const std::string& path);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Policy> policy_;
};

}  // namespace attachgate::config
