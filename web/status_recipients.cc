// web/status_recipients.cc - see status_recipients.h.
#include "web/status_recipients.h"

#include "util/text.h"
#include "util/units.h"

namespace attachgate::web {
namespace {

// Every link the recipient has had: a link sent again replaces the old one.
bool theirs(const store::MessageDetail& d, std::int64_t link_id, const std::string& address) {
  for (const auto& l : d.links)
    if (l.id == link_id) return l.recipient && equals_nocase(*l.recipient, address);
  return false;
}

std::string first_open(const store::MessageDetail& d, const std::string& address) {
  for (const auto& e : d.events)  // oldest first
    if (e.kind == store::EventKind::opened && e.link_id && theirs(d, *e.link_id, address))
      return status_time(e.at);
  return "not yet";
}

StatusRecipient link_row(const store::MessageDetail& d, std::size_t i,
                         const std::vector<store::CompletedDownload>& done, std::int64_t now) {
  const store::LinkRecord& link = d.links[i];
  const std::vector<int>& downloads = d.downloads[i];
  StatusRecipient r;
  r.own_link = true;
  r.address = link.recipient.value_or("");
  r.opened = first_open(d, r.address);
  const store::LinkState state = store::link_state(link, downloads, now);
  r.state = std::string(store::to_string(state));
  r.active = state == store::LinkState::active;
  r.expires = status_time(link.expires_at);
  r.can_resend = can_send_again(d, r.address, now);
  for (std::size_t j = 0; j < d.files.size(); ++j) {
    StatusUse u;
    u.file = d.files[j].filename;
    const int used = j < downloads.size() ? downloads[j] : 0;
    u.used = std::to_string(used) + " of " + std::to_string(link.max_downloads);
    for (const auto& c : done)
      if (c.file_id == d.files[j].id && theirs(d, c.link_id, r.address))
        u.times += (u.times.empty() ? "" : ", ") + status_time(c.at) +
                   (c.link_id == link.id ? "" : " (earlier link)");
    r.uses.push_back(std::move(u));
  }
  return r;
}

}  // namespace

std::string status_time(std::int64_t t) { return format_time(t) + " UTC"; }

bool has_recipient_links(const store::MessageDetail& d) {
  for (const auto& l : d.links)
    if (l.recipient) return true;
  return false;
}

std::string delivery_of(const std::string& address, const std::vector<store::EventRecord>& events) {
  const store::EventRecord* last = nullptr;
  for (const auto& e : events) {
    const bool delivery = e.kind == store::EventKind::delivered ||
                          e.kind == store::EventKind::deferred ||
                          e.kind == store::EventKind::bounced;
    if (delivery && equals_nocase(e.recipient, address)) last = &e;
  }
  if (last == nullptr) return "no delivery news yet";
  return std::string(store::to_string(last->kind)) + " " + status_time(last->at);
}

bool can_send_again(const store::MessageDetail& d, const std::string& address, std::int64_t now) {
  if (now >= d.message.created_at + kSenderMaxLifetime) return false;
  int links = 0;
  for (const auto& l : d.links) links += l.recipient && equals_nocase(*l.recipient, address);
  if (links == 0 || links >= kSenderMaxLinksPerRecipient) return false;
  for (const auto& f : d.files)
    if (f.state == store::FileState::stored) return true;
  return false;
}

int own_link_index(const store::MessageDetail& d, const std::string& address) {
  int found = -1;  // the newest, as Catalog::recipient_link
  for (std::size_t i = 0; i < d.links.size(); ++i)
    if (d.links[i].recipient && equals_nocase(*d.links[i].recipient, address))
      found = static_cast<int>(i);
  return found;
}

std::vector<StatusRecipient> recipient_rows(const store::MessageDetail& d,
                                            const std::vector<store::CompletedDownload>& done,
                                            std::int64_t now) {
  std::vector<StatusRecipient> rows;
  for (const auto& address : d.recipients) {
    const int i = own_link_index(d, address);
    StatusRecipient r;
    if (i >= 0) r = link_row(d, static_cast<std::size_t>(i), done, now);
    r.address = address;  // as the envelope spelt it
    r.delivery = delivery_of(address, d.events);
    rows.push_back(std::move(r));
  }
  // A link for an address the envelope list lacks still gets its row.
  for (std::size_t i = 0; i < d.links.size(); ++i) {
    if (!d.links[i].recipient) continue;
    bool listed = false;
    for (const auto& address : d.recipients)
      listed = listed || equals_nocase(address, *d.links[i].recipient);
    if (listed || own_link_index(d, *d.links[i].recipient) != static_cast<int>(i)) continue;
    StatusRecipient r = link_row(d, i, done, now);
    r.delivery = delivery_of(r.address, d.events);
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace attachgate::web
