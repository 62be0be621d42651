// app/render.cc - see render.h.
#include "app/render.h"

#include <cstdio>
#include <sstream>

#include "util/text.h"
#include "util/units.h"

namespace attachgate::app {
namespace {

using nlohmann::json;

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

json message_json(const store::MessageRecord& m) {
  return {{"id", m.public_id},       {"queue_id", m.queue_id},   {"sender", m.sender},
          {"subject", m.subject},    {"auth_user", m.auth_user}, {"client_addr", m.client_addr},
          {"outcome", to_string(m.outcome)}, {"created_at", iso_time(m.created_at)}};
}

}  // namespace

std::string iso_time(std::int64_t t) { return format_iso_time(t); }

std::string list_text(const std::vector<store::MessageSummary>& messages) {
  if (messages.empty()) return "no messages in the catalog yet\n";
  std::ostringstream out;
  out << pad("ID", 18) << pad("QUEUE ID", 14) << pad("DATE (UTC)", 21) << pad("FILES", 7)
      << pad("SIZE", 10) << pad("RCPTS", 7) << "SENDER / SUBJECT\n";
  for (const auto& s : messages) {
    out << pad(s.message.public_id, 18) << pad(terminal_safe(s.message.queue_id, 12), 14)
        << pad(format_time(s.message.created_at), 21) << pad(std::to_string(s.files), 7)
        << pad(format_size(s.bytes), 10) << pad(std::to_string(s.recipients), 7)
        << terminal_safe(s.message.sender, 60) << " / " << terminal_safe(s.message.subject, 60)
        << "\n";
  }
  return out.str();
}

json list_json(const std::vector<store::MessageSummary>& messages) {
  json out = json::array();
  for (const auto& s : messages) {
    json m = message_json(s.message);
    m["recipients"] = s.recipients;
    m["files"] = s.files;
    m["bytes"] = s.bytes;
    out.push_back(std::move(m));
  }
  return out;
}

std::string show_text(const store::MessageDetail& d, std::int64_t now) {
  std::ostringstream out;
  const auto& m = d.message;
  out << "message " << m.public_id << " (queue id " << terminal_safe(m.queue_id) << ")\n"
      << "  from:     " << terminal_safe(m.sender) << "\n"
      << "  subject:  " << terminal_safe(m.subject) << "\n"
      << "  date:     " << format_time(m.created_at) << " UTC\n"
      << "  outcome:  " << to_string(m.outcome) << "\n";
  if (!m.auth_user.empty()) out << "  auth:     " << terminal_safe(m.auth_user) << "\n";
  out << "  to:       ";
  for (std::size_t i = 0; i < d.recipients.size(); ++i)
    out << (i ? ", " : "") << terminal_safe(d.recipients[i]);
  out << "\nfiles:\n";
  for (const auto& f : d.files)
    out << "  " << f.public_id << "  " << terminal_safe(f.filename, 80) << "  "
        << format_size(f.size) << "  " << terminal_safe(f.content_type, 60) << "  sha256 "
        << f.sha256 << (f.state == store::FileState::stored ? "" : "  [" + std::string(to_string(f.state)) + "]") << "\n";
  out << "links:\n";
  for (std::size_t i = 0; i < d.links.size(); ++i) {
    const auto& l = d.links[i];
    out << "  " << (l.recipient ? terminal_safe(*l.recipient) : "(all recipients)") << " (link "
        << l.id << "): " << to_string(store::link_state(l, d.downloads[i], now)) << ", expires "
        << format_time(l.expires_at) << " UTC, " << l.max_downloads << " download"
        << (l.max_downloads == 1 ? "" : "s") << " per file"
        << (l.code_hash ? ", access code" : "") << (l.track_opens ? ", open tracking" : "")
        << "\n";
    for (std::size_t j = 0; j < d.files.size(); ++j)
      out << "    " << terminal_safe(d.files[j].filename, 60) << ": " << d.downloads[i][j] << " of "
          << l.max_downloads << " downloaded\n";
  }
  // With links per recipient, a recipient without one of their own got the
  // attachment in the mail (an internal recipient).
  bool per_recipient = false;
  for (const auto& l : d.links) per_recipient = per_recipient || l.recipient.has_value();
  for (const auto& r : d.recipients) {
    bool own = false;
    for (const auto& l : d.links) own = own || (l.recipient && equals_nocase(*l.recipient, r));
    if (per_recipient && !own)
      out << "  " << terminal_safe(r) << ": no link of its own (got the attachment in the mail)\n";
  }
  out << "events:\n";
  for (const auto& e : d.events) {
    out << "  " << format_time(e.at) << "  " << pad(std::string(to_string(e.kind)), 11);
    if (!e.recipient.empty()) out << " " << terminal_safe(e.recipient);
    if (!e.remote_addr.empty()) out << " from " << terminal_safe(e.remote_addr, 60);
    if (!e.detail.empty()) out << "  " << terminal_safe(e.detail);
    out << "\n";
  }
  return out.str();
}

json show_json(const store::MessageDetail& d, std::int64_t now) {
  json out;
  out["message"] = message_json(d.message);
  out["recipients"] = d.recipients;
  out["files"] = json::array();
  for (const auto& f : d.files)
    out["files"].push_back({{"id", f.public_id}, {"filename", f.filename},
                            {"content_type", f.content_type}, {"size", f.size},
                            {"sha256", f.sha256}, {"state", to_string(f.state)}});
  out["links"] = json::array();
  for (std::size_t i = 0; i < d.links.size(); ++i) {
    const auto& l = d.links[i];
    json downloads = json::object();
    for (std::size_t j = 0; j < d.files.size(); ++j) downloads[d.files[j].public_id] = d.downloads[i][j];
    out["links"].push_back({{"id", l.id},
                            {"recipient", l.recipient ? json(*l.recipient) : json(nullptr)},
                            {"state", to_string(store::link_state(l, d.downloads[i], now))},
                            {"expires_at", iso_time(l.expires_at)},
                            {"max_downloads", l.max_downloads},
                            {"access_code", l.code_hash.has_value()},
                            {"track_opens", l.track_opens},
                            {"revoked_at", l.revoked_at ? json(iso_time(*l.revoked_at)) : json(nullptr)},
                            {"downloads", downloads}});
  }
  out["events"] = json::array();
  for (const auto& e : d.events)
    out["events"].push_back({{"at", iso_time(e.at)}, {"kind", to_string(e.kind)},
                             {"recipient", e.recipient}, {"remote_addr", e.remote_addr},
                             {"user_agent", e.user_agent}, {"detail", e.detail}});
  return out;
}

namespace {

// Untrusted text as one CSV field. Invalid UTF-8 becomes U+FFFD and other
// control characters (an ESC could rewrite a terminal) become U+FFFD too;
// line breaks and tabs stay, inside quotes. A field that starts like a
// formula (= + - @) gets a leading ' so a spreadsheet shows it as text.
std::string csv_field(std::string_view raw) {
  std::string s;
  for (char c : to_valid_utf8(raw)) {
    const auto u = static_cast<unsigned char>(c);
    const bool control = (u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7f;
    s += control ? std::string("\xEF\xBF\xBD") : std::string(1, c);
  }
  if (!s.empty() && std::string_view("=+-@").find(s[0]) != std::string_view::npos)
    s.insert(0, 1, '\'');
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The public id of the event's file, or "" when it names none.
std::string event_file(const store::MessageDetail& d, const store::EventRecord& e) {
  for (const auto& f : d.files)
    if (e.file_id && f.id == *e.file_id) return f.public_id;
  return "";
}

json day_json(const std::string& day, const store::DayStats& s) {
  return {{"day", day}, {"messages", s.messages}, {"files", s.files},
          {"bytes", s.bytes}, {"downloads", s.downloads}};
}

store::DayStats sum(const std::vector<store::DayStats>& days) {
  store::DayStats total;
  for (const auto& d : days) {
    total.messages += d.messages;
    total.files += d.files;
    total.bytes += d.bytes;
    total.downloads += d.downloads;
  }
  return total;
}

}  // namespace

std::string stats_text(const std::vector<store::DayStats>& days,
                       const store::StoredTotals& stored) {
  std::ostringstream out;
  auto row = [&](const std::string& day, const store::DayStats& s) {
    out << pad(day, 12) << pad(std::to_string(s.messages), 10) << pad(std::to_string(s.files), 7)
        << pad(format_size(s.bytes), 11) << s.downloads << "\n";
  };
  out << pad("DAY (UTC)", 12) << pad("MESSAGES", 10) << pad("FILES", 7) << pad("SIZE", 11)
      << "DOWNLOADS\n";
  for (const auto& d : days) row(format_date(d.day), d);
  row("total", sum(days));
  out << "stored now: " << stored.files << " file" << (stored.files == 1 ? "" : "s") << ", "
      << format_size(stored.bytes) << "\n";
  return out.str();
}

json stats_json(const std::vector<store::DayStats>& days, const store::StoredTotals& stored) {
  json out;
  out["days"] = json::array();
  for (const auto& d : days) out["days"].push_back(day_json(format_date(d.day), d));
  json total = day_json("", sum(days));
  total.erase("day");
  out["total"] = total;
  out["stored"] = {{"files", stored.files}, {"bytes", stored.bytes}};
  return out;
}

std::string events_csv(const store::MessageDetail& d) {
  std::string out = "at,kind,file,link,recipient,remote_addr,user_agent,detail\r\n";
  for (const auto& e : d.events) {
    out += iso_time(e.at) + "," + std::string(to_string(e.kind)) + "," + event_file(d, e) + "," +
           (e.link_id ? std::to_string(*e.link_id) : "") + "," + csv_field(e.recipient) + "," +
           csv_field(e.remote_addr) + "," + csv_field(e.user_agent) + "," +
           csv_field(e.detail) + "\r\n";
  }
  return out;
}

json events_json(const store::MessageDetail& d) {
  json out;
  out["message"] = message_json(d.message);
  out["events"] = json::array();
  for (const auto& e : d.events)
    out["events"].push_back({{"at", iso_time(e.at)}, {"kind", to_string(e.kind)},
                             {"file", event_file(d, e)},
                             {"link", e.link_id ? json(*e.link_id) : json(nullptr)},
                             {"recipient", e.recipient}, {"remote_addr", e.remote_addr},
                             {"user_agent", e.user_agent}, {"detail", e.detail}});
  return out;
}

std::string json_text(const json& j) {
  // Mail text may be invalid UTF-8; replace it rather than throw.
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace attachgate::app
