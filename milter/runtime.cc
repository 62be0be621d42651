// milter/runtime.cc - see runtime.h.
#include "milter/runtime.h"

#include <chrono>

namespace attachgate::milter {

Runtime::Runtime(config::ServiceConfig service, std::string policy_path,
                 std::shared_ptr<const config::Policy> policy,
                 std::shared_ptr<const NoticeRenderer> notices,
                 store::StoreFor<store::MilterCatalog> store)
    : service_(std::move(service)), policy_path_(std::move(policy_path)),
      policy_(std::move(policy)), notices_(std::move(notices)), store_(store) {}

std::shared_ptr<const NoticeRenderer> Runtime::notices() const {
  std::lock_guard lock(mu_);
  return notices_;
}

Status Runtime::reload() {
  // Templates first: if they are broken, the policy must not change either.
  auto renderer = NoticeRenderer::load(service_.templates_dir);
  if (!renderer) return renderer.error();
  if (auto s = policy_.reload(policy_path_); !s) return s;
  std::lock_guard lock(mu_);
  notices_ = std::make_shared<const NoticeRenderer>(std::move(*renderer));
  return {};
}

void Runtime::message_started() {
  std::lock_guard lock(mu_);
  ++in_progress_;
}

void Runtime::message_finished() {
  std::lock_guard lock(mu_);
  if (--in_progress_ == 0) idle_.notify_all();
}

int Runtime::wait_idle(int timeout_seconds) {
  std::unique_lock lock(mu_);
  idle_.wait_for(lock, std::chrono::seconds(timeout_seconds), [this] { return in_progress_ == 0; });
  return in_progress_;
}

}  // namespace attachgate::milter
