// milter/recipient_plan.cc - see recipient_plan.h.
#include "milter/recipient_plan.h"

#include <algorithm>
#include <set>

namespace attachgate::milter {
namespace {

std::vector<config::Decision> decide_all(const config::Policy& policy,
                                         const config::MessageFacts& message,
                                         const std::vector<config::AttachmentFacts>& attachments) {
  std::vector<config::Decision> out;
  out.reserve(attachments.size());
  for (const auto& a : attachments) out.push_back(policy.decide(message, a));
  return out;
}

bool offloads_any(const std::vector<config::Decision>& decisions) {
  return std::any_of(decisions.begin(), decisions.end(),
                     [](const config::Decision& d) { return d.action == config::Action::offload; });
}

// The terms and the choice of files matter; which rule said so does not.
bool same_outcome(const std::vector<config::Decision>& a, const std::vector<config::Decision>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const config::Decision& x, const config::Decision& y) {
                      return x.action == y.action &&
                             (x.action == config::Action::keep || x.terms == y.terms);
                    });
}

RecipientPlan shared(const config::Policy& policy, const config::MessageFacts& message,
                     const std::vector<config::AttachmentFacts>& attachments, std::string because) {
  RecipientPlan plan;
  plan.decisions = decide_all(policy, message, attachments);
  plan.linked = message.recipients;
  plan.shared_because = std::move(because);
  return plan;
}

}  // namespace

RecipientPlan plan_recipients(const config::Policy& policy, const config::MessageFacts& message,
                              const std::vector<config::AttachmentFacts>& attachments) {
  if (policy.links == config::LinkMode::shared || message.recipients.empty())
    return shared(policy, message, attachments, "");
  RecipientPlan plan;
  plan.per_recipient = true;
  bool differ = false;
  std::set<std::string> seen;
  for (const std::string& r : message.recipients) {
    // A client may give one address twice. The MTA delivers it once, and
    // its delrcpt takes every instance off the message (Postfix compares
    // with strcmp): one plan entry, so one link and at most one copy.
    if (!seen.insert(r).second) continue;
    config::MessageFacts alone = message;
    alone.recipients = {r};
    auto decisions = decide_all(policy, alone, attachments);
    if (!offloads_any(decisions)) {
      if (plan.linked.empty()) plan.decisions = std::move(decisions);  // keep, all of them
      plan.keep.push_back(r);
      continue;
    }
    if (plan.linked.empty()) plan.decisions = std::move(decisions);
    else differ = differ || !same_outcome(plan.decisions, decisions);
    plan.linked.push_back(r);
  }
  if (plan.linked.empty()) return plan;  // nothing is offloaded for anyone
  if (differ)
    return shared(policy, message, attachments,
                  "the policy offloads different attachments or terms for different recipients");
  if (plan.linked.size() > static_cast<std::size_t>(policy.max_split_recipients))
    return shared(policy, message, attachments,
                  std::to_string(plan.linked.size()) + " recipients with links, over max_split_recipients (" +
                      std::to_string(policy.max_split_recipients) + ")");
  return plan;
}

}  // namespace attachgate::milter
