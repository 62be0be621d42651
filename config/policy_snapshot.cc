// config/policy_snapshot.cc - the policy in force, swapped whole; see policy_snapshot.h.
//
// The file is parsed and checked before the lock is taken, and the swap is a
// single pointer assignment under it, so readers never wait on file I/O and
// never see a half-loaded policy.
#include "config/policy_snapshot.h"

#include <utility>

namespace attachgate::config {

PolicySnapshot::PolicySnapshot(std::shared_ptr<const Policy> policy) : policy_(std::move(policy)) {
  if (!policy_) panic("PolicySnapshot needs a policy");
}

std::shared_ptr<const Policy> PolicySnapshot::get() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return policy_;
}

Status PolicySnapshot::reload(const std::string& path) {
  // Parse outside the lock: readers must not wait for file I/O.
  Loaded<Policy> loaded = load_policy(path);
  if (!loaded.ok()) {
    if (loaded.problems.empty()) return make_error(path + ": could not be loaded");
    return make_error(format_problems(loaded.problems));
  }
  auto fresh = std::make_shared<const Policy>(std::move(*loaded.value));
  std::lock_guard<std::mutex> lock(mutex_);
  policy_ = std::move(fresh);
  return {};
}

}  // namespace attachgate::config
