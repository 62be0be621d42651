// milter/recipient_plan.h - who gets links, and who keeps the attachments.
//
// With per-recipient links (the default) the policy decides for each
// envelope recipient alone, as if the message went to that recipient only:
// a recipient for whom no rule offloads anything (an internal one, with the
// shipped policy) keeps the attachments, and every other recipient gets a
// link of their own. The links are shared instead, as with links =
// "shared", when more recipients would get links than max_split_recipients,
// or when the rules would offload different attachments (or on different
// terms) for different recipients: one set of files serves every link.
// An address given twice in the envelope (exactly, as the MTA compares
// them) is planned once.
// Plain data in and out; no GMime, no store.
#pragma once

#include <string>
#include <vector>

#include "config/policy.h"

namespace attachgate::milter {

struct RecipientPlan {
  // Per attachment, for the recipients in `linked`.
  std::vector<config::Decision> decisions;
  // With per_recipient: each their own link; otherwise every recipient,
  // sharing one link.
  std::vector<std::string> linked;
  std::vector<std::string> keep;  // per_recipient only: they keep the attachments
  bool per_recipient = false;
  // Why the links are shared although the policy asks for one per
  // recipient, for the log; empty otherwise.
  std::string shared_because;
};

RecipientPlan plan_recipients(const config::Policy& policy, const config::MessageFacts& message,
                              const std::vector<config::AttachmentFacts>& attachments);

}  // namespace attachgate::milter
