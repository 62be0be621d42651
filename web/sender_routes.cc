// web/sender_routes.cc - the sender's side of the server: the private
// status page (GET /s/TOKEN), its revoke and extend buttons (POST), and the
// download notice queued when a download completes. With a link per
// recipient the page has a row per recipient (status_recipients.h), each
// with its own revoke; revoke and extend of the whole message act on every
// link.
//
// The status token is the credential: only its keyed hash is stored, and it
// reaches the sender in the receipt alone. The forms also carry a csrf field
// derived from the token, so a POST must come from a page that was shown
// with that token; every response carries Referrer-Policy: no-referrer, so
// the token does not leak through links either.
#include <sodium.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "util/text.h"
#include "util/units.h"
#include "web/content_headers.h"
#include "web/form.h"
#include "web/handler_internal.h"
#include "web/status_recipients.h"

namespace attachgate::web {
namespace {

constexpr int kExtendChoices[] = {1, 7, 30};  // days, as the page offers them
// A sender may keep a link alive at most kSenderMaxLifetime after sending
// (status_recipients.h); beyond that it takes an admin (`attachgate extend`).

std::string when(std::int64_t t) { return status_time(t); }

store::LinkState state_of(const store::MessageDetail& d, std::size_t i, std::int64_t now) {
  return store::link_state(d.links[i], i < d.downloads.size() ? d.downloads[i] : std::vector<int>{},
                           now);
}

// The message's links as one: active while any is, until the latest of
// those; otherwise the first link's state says why it ended.
struct Overall {
  store::LinkState state = store::LinkState::expired;
  std::int64_t expires_at = 0;  // latest expiry of the active links
};

Overall overall(const store::MessageDetail& d, std::int64_t now) {
  Overall o;
  if (!d.links.empty()) o.state = state_of(d, 0, now);
  for (std::size_t i = 0; i < d.links.size(); ++i) {
    if (state_of(d, i, now) != store::LinkState::active) continue;
    o.state = store::LinkState::active;
    o.expires_at = std::max(o.expires_at, d.links[i].expires_at);
  }
  return o;
}

std::string describe(const store::EventRecord& e) {
  std::string d = e.detail;
  // The admin's login is for the audit trail, not for senders.
  if (const auto at = d.find("by admin "); at != std::string::npos)
    d = d.substr(0, at) + "by the mail administrator";
  if (!e.recipient.empty()) d = e.recipient + (d.empty() ? "" : ": " + d);
  if (e.kind == store::EventKind::opened || e.kind == store::EventKind::viewed ||
      e.kind == store::EventKind::downloaded) {
    if (!e.remote_addr.empty()) d += (d.empty() ? "from " : " from ") + e.remote_addr;
  }
  return d;
}

}  // namespace

std::string Handler::status_csrf(std::string_view token) const {
  const std::string mac = store_.tokens.hash("status-form\n" + std::string(token));
  std::string hex(mac.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(mac.data()), 16);
  return hex.substr(0, 32);
}

Result<std::optional<store::MessageDetail>> Handler::find_status(std::string_view token) {
  if (!store::looks_like_token(token)) return std::optional<store::MessageDetail>{};
  auto message = store_.catalog.find_message_by_status_token(store_.tokens.hash(token));
  if (!message) return message.error();
  if (!*message) return std::optional<store::MessageDetail>{};
  return store_.catalog.show_message((*message)->public_id);
}

Response Handler::status_page(std::string_view token) {
  auto found = find_status(token);
  if (!found) {
    log_warn("status page: " + found.error().message);
    return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
  }
  if (!*found) return not_found();
  const store::MessageDetail& d = **found;
  const std::int64_t now = clock_();
  StatusPage p;
  p.action = "/s/" + std::string(token);
  p.csrf = status_csrf(token);
  p.subject = d.message.subject.empty() ? "(no subject)" : d.message.subject;
  p.sent = when(d.message.created_at);
  const Overall all = overall(d, now);
  p.per_recipient = has_recipient_links(d);
  if (p.per_recipient) {
    auto done = store_.catalog.completed_downloads_by_file(d.message.id);
    if (!done) {
      log_warn("status page: " + done.error().message);
      return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
    }
    p.state = std::string(store::to_string(all.state));
    p.active = all.state == store::LinkState::active;
    p.expires = when(all.expires_at);
    p.several_links = d.links.size() > 1;
    for (const auto& f : d.files)
      p.files.push_back({f.public_id, f.filename, format_size(f.size), "", 0, true});
    p.recipients = recipient_rows(d, *done, now);
  } else {
    // One link shared by all: its state, and the downloads left on it.
    if (!d.links.empty()) {
      const store::LinkRecord& link = d.links[0];
      const auto& downloads = d.downloads.empty() ? std::vector<int>{} : d.downloads[0];
      const store::LinkState state = store::link_state(link, downloads, now);
      p.state = std::string(store::to_string(state));
      p.active = state == store::LinkState::active;
      p.expires = when(link.expires_at);
      for (std::size_t i = 0; i < d.files.size(); ++i) {
        const int used = i < downloads.size() ? downloads[i] : 0;
        p.files.push_back({d.files[i].public_id, d.files[i].filename, format_size(d.files[i].size),
                           "", std::max(0, link.max_downloads - used), used < link.max_downloads});
      }
    }
    for (const auto& address : d.recipients) {
      StatusRecipient r;
      r.address = address;
      r.delivery = delivery_of(address, d.events);
      p.recipients.push_back(std::move(r));
    }
  }
  for (const auto& e : d.events)
    p.events.push_back({when(e.at), std::string(store::to_string(e.kind)), describe(e)});
  return page(200, pages()->status(p));
}

Response Handler::post_status(const Request& request, std::string_view token) {
  if (!is_form_content_type(request.content_type))
    return problem(415, "Unsupported form", "Use the buttons on the status page.");
  auto form = parse_form(request.body);
  if (!form) return problem(400, "Bad request", form.error().message);
  auto found = find_status(token);
  if (!found) {
    log_warn("status page: " + found.error().message);
    return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
  }
  if (!*found) return not_found();
  const std::string* csrf = form->get("csrf");
  const std::string want = status_csrf(token);
  if (csrf == nullptr || csrf->size() != want.size() ||
      sodium_memcmp(csrf->data(), want.data(), want.size()) != 0)
    return problem(403, "This form has expired", "Open the status page again and use its buttons.");
  const store::MessageDetail& d = **found;
  const std::int64_t message_id = d.message.id;
  const std::string* action = form->get("do");
  const std::int64_t now = clock_();
  // "Send a new link" is for a link that is lost or used up, so it does not
  // need an active one; the catalog applies the bounds under its write lock.
  if (action != nullptr && *action == "resend-recipient") {
    const std::string* recipient = form->get("recipient");
    if (recipient == nullptr || own_link_index(d, *recipient) < 0)
      return problem(404, "No such recipient link",
                     "This message has no link of its own for that recipient.");
    store::ResendRequest request = store::new_resend_request(store_.tokens, now, "the sender");
    request.max_links = kSenderMaxLinksPerRecipient;
    request.latest_expiry = d.message.created_at + kSenderMaxLifetime;
    auto done = store_.catalog.resend_recipient_link(message_id, *recipient, request);
    if (!done) {
      log_warn("status page: send again: " + done.error().message);
      return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
    }
    switch (done->outcome) {
      case store::ResendOutcome::sent: return see_status(token);
      case store::ResendOutcome::no_link:
        return problem(404, "No such recipient link",
                       "This message has no link of its own for that recipient.");
      case store::ResendOutcome::no_files:
        return problem(409, "The files are gone",
                       "They have been deleted from the server, so there is nothing to send "
                       "again. Send the files in a new message if they are still needed.");
      case store::ResendOutcome::too_many:
        return problem(409, "Sent again too often",
                       "This recipient has had " + std::to_string(kSenderMaxLinksPerRecipient) +
                           " links already. Your mail administrator can send another.");
      case store::ResendOutcome::too_late:
        return problem(409, "That is too late",
                       "A link can be sent again for up to 90 days after sending. Your mail "
                       "administrator can still send one.");
    }
  }
  // The buttons show only while a link is active; a replayed form for an
  // ended link (expired, used up, its files perhaps purged) changes nothing.
  const Overall all = overall(d, now);
  if (d.links.empty() || all.state != store::LinkState::active)
    return problem(409, "This link has ended",
                   "It can no longer be changed. Send the files again if they are still needed.");
  if (action != nullptr && *action == "revoke-recipient") {
    const std::string* recipient = form->get("recipient");
    const int i = recipient == nullptr ? -1 : own_link_index(d, *recipient);
    if (i < 0)
      return problem(404, "No such recipient link",
                     "This message has no link of its own for that recipient.");
    if (state_of(d, static_cast<std::size_t>(i), now) != store::LinkState::active)
      return problem(409, "This recipient's link has ended", "It can no longer be changed.");
    auto changed = store_.catalog.revoke_recipient_link(message_id, *recipient, now, "the sender");
    if (!changed) {
      log_warn("status page: revoke recipient: " + changed.error().message);
      return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
    }
  } else if (action != nullptr && *action == "revoke") {
    auto changed = store_.catalog.revoke_message_links(message_id, now, "the sender");
    if (!changed) {
      log_warn("status page: revoke: " + changed.error().message);
      return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
    }
  } else if (action != nullptr && *action == "extend") {
    const std::string* days = form->get("days");
    int n = 0;
    for (int choice : kExtendChoices)
      if (days != nullptr && *days == std::to_string(choice)) n = choice;
    if (n == 0) return problem(400, "Bad request", "Choose how many days to extend by.");
    if (std::max(all.expires_at, now) + n * 86400LL > d.message.created_at + kSenderMaxLifetime)
      return problem(409, "That is too far ahead",
                     "A link can be extended to at most 90 days after sending. Your mail "
                     "administrator can extend it further.");
    auto changed = store_.catalog.extend_message_links(message_id, n * 86400LL, now, "the sender");
    if (!changed) {
      log_warn("status page: extend: " + changed.error().message);
      return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
    }
  } else {
    return problem(400, "Bad request", "Use the buttons on the status page.");
  }
  return see_status(token);
}

// Post/redirect/get: a reload shows the page, it does not act again.
Response Handler::see_status(std::string_view token) {
  Response r;
  r.status = 303;
  r.headers = security_headers();
  r.headers.emplace_back("Location", "/s/" + std::string(token));
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = "Done; the status page is at /s/" + std::string(token) + "\n";
  return r;
}

void Handler::queue_download_notice(std::int64_t message_id, const Via& link,
                                    const std::vector<std::string>& file_ids, const Request& who) {
  auto message = store_.catalog.find_message(message_id);
  if (!message || !*message) return;
  const store::MessageRecord& m = **message;
  if (m.sender.empty() || m.download_notice == store::DownloadNotice::never) return;
  if (m.download_notice == store::DownloadNotice::first) {
    auto done = store_.catalog.completed_downloads(
        message_id, link.recipient ? std::optional<std::int64_t>(link.link_id) : std::nullopt);
    if (!done || *done != 1) return;
  }
  const std::int64_t now = clock_();
  nlohmann::json payload{{"files", file_ids},
                         {"at", now},
                         {"remote_addr", who.remote_addr},
                         {"user_agent", clean_display_text(who.user_agent, 256)},
                         {"recipient", link.recipient.value_or("")}};
  auto queued = store_.catalog.enqueue({store::OutboxKind::download_notice, message_id, m.sender,
                                        payload.dump(-1, ' ', false,
                                                     nlohmann::json::error_handler_t::replace),
                                        now});
  if (!queued) log_warn("download notice: " + queued.error().message);
}

}  // namespace attachgate::web
