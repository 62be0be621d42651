// milter/processor.h - what happens to one message at end of message.
//
// Policy decides per attachment; selected attachments are decoded into the
// blob store; the new body is built into a spool; then one catalog
// transaction records message, recipients, files, link and `offloaded`.
// Any failure before that commit removes the blobs it wrote and yields the
// policy's on_error outcome (tempfail by default, or pass unchanged).
// Libmilter is not involved: the callbacks apply the Outcome.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "config/policy.h"
#include "config/service_config.h"
#include "milter/message.h"
#include "milter/notice.h"
#include "store/secrets.h"
#include "store/store.h"

namespace attachgate::milter {

struct ProcessorContext {
  store::StoreFor<store::MilterCatalog> store;  // a Store converts
  const config::ServiceConfig& service;
  std::shared_ptr<const config::Policy> policy;
  std::shared_ptr<const NoticeRenderer> notices;
  std::function<void()> progress;  // smfi_progress; may be empty
  std::int64_t now = 0;            // unix seconds
  // Seams for golden tests; production uses fresh random values.
  std::function<std::string()> new_token = [] { return store::new_token(); };
  std::function<std::string()> new_pixel_id = [] { return store::new_public_id(16); };
};

Outcome process_message(const MessageInput& input, const ProcessorContext& ctx);

// The directory spools live in: <state_dir>/spool.
std::string spool_dir(const config::ServiceConfig& service);

// One-time init of GMime (idempotent, thread-safe).
void init_gmime();

}  // namespace attachgate::milter
