// milter/session.cc - see session.h.
#include "milter/session.h"

#include <strings.h>

#include <cstring>
#include <ctime>

#include "milter/processor.h"
#include "util/log.h"
#include "util/text.h"
#include "util/units.h"

namespace attachgate::milter {
namespace {

constexpr std::size_t kMaxRecipients = 10000;

std::string strip_brackets(std::string s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return s;
}

// Header values from the MTA may be folded with bare LF; the spool is CRLF.
void append_crlf(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (text[i] == '\n' || text[i] == '\r') {
      out += "\r\n";
      continue;
    }
    out += text[i];
  }
}

}  // namespace

void Session::set_client(std::string client_addr, std::string daemon_name) {
  client_addr_ = std::move(client_addr);
  daemon_name_ = std::move(daemon_name);
}

Verdict Session::on_error(const std::string& why) {
  const bool accept = msg_ && msg_->policy->on_error == config::OnError::accept;
  log_warn((queue_id_.empty() ? std::string("NOQUEUE") : queue_id_) + ": error: " + why +
           (accept ? "; passed unchanged (on_error = accept)" : "; tempfail"));
  end_message();
  return accept ? Verdict::accept : Verdict::tempfail;
}

Verdict Session::on_mail_from(std::string sender, std::string auth_user, std::string queue_id) {
  end_message();
  held_.reset();
  queue_id_ = std::move(queue_id);
  msg_ = std::make_unique<Message>(Message{
      {}, Spool(spool_dir(runtime_.service()), runtime_.service().limits.spool_memory_threshold),
      0, runtime_.policy(), 0, std::nullopt, 0});
  runtime_.message_started();
  auto& env = msg_->input.envelope;
  env.sender = strip_brackets(std::move(sender));
  env.auth_user = std::move(auth_user);
  env.daemon_name = daemon_name_;
  env.client_addr = client_addr_;
  return Verdict::next;
}

Verdict Session::on_rcpt(std::string recipient) {
  if (!msg_) return Verdict::next;
  // An address given twice is one recipient: the MTA delivers it once
  // (Postfix's cleanup drops the repeat), and a delrcpt takes every
  // instance off the message. So the log, the catalog's recipient rows and
  // a shared link's download limit count it once.
  auto& rcpts = msg_->input.envelope.recipients;
  std::string address = strip_brackets(std::move(recipient));
  if (rcpts.size() < kMaxRecipients && msg_->recipients_seen.insert(address).second)
    rcpts.push_back(std::move(address));
  return Verdict::next;
}

Verdict Session::on_header(std::string_view name, std::string_view value, bool leading_space) {
  if (!msg_ || held_) return Verdict::next;
  const auto& limits = runtime_.service().limits;
  msg_->header_bytes += name.size() + value.size() + 4;
  if (msg_->header_bytes > limits.max_header_bytes) {
    skip_ = "header block over " + format_size(limits.max_header_bytes);
    held_ = Verdict::accept;
    return Verdict::next;
  }
  if (name.size() + value.size() + 2 > limits.max_line_length) {
    skip_ = "header line over " + format_size(limits.max_line_length);
    held_ = Verdict::accept;
    return Verdict::next;
  }
  std::string line(name);
  line += leading_space ? ":" : ": ";
  append_crlf(line, value);
  line += "\r\n";
  if (auto s = msg_->spool.append(line); !s) {
    held_ = on_error("spool: " + s.error().message);
    return Verdict::next;
  }
  msg_->input.headers.push_back({std::string(name), std::string(value)});
  return Verdict::next;
}

Verdict Session::on_end_of_headers() {
  if (held_) {
    const Verdict v = *held_;
    held_.reset();
    return v;
  }
  if (!msg_) return Verdict::next;
  if (auto s = msg_->spool.append("\r\n"); !s) return on_error("spool: " + s.error().message);
  const auto& limits = runtime_.service().limits;
  // The last Content-Type wins, as it does in GMime's parser (checked with
  // GMime 3.2): the check must follow the structure GMime will see.
  std::string content_type;
  for (const auto& h : msg_->input.headers)
    if (strcasecmp(h.name.c_str(), "Content-Type") == 0) content_type = h.value;
  msg_->structure.emplace(content_type, limits.max_header_bytes, limits.max_mime_depth);
  return Verdict::next;
}

std::optional<std::string> Session::structure_problem(const unsigned char* data, std::size_t size) {
  if (!msg_->structure) return std::nullopt;
  StructureCheck& check = *msg_->structure;
  if (data) check.feed(data, size);
  else check.finish();
  if (check.problem()) return check.problem();
  const auto max_parts = static_cast<std::uint64_t>(runtime_.service().limits.max_mime_parts);
  if (check.part_count() > max_parts) return "more than " + std::to_string(max_parts) + " MIME parts";
  return std::nullopt;
}

Verdict Session::on_body(const unsigned char* data, std::size_t size) {
  if (!msg_) return Verdict::next;
  msg_->body_bytes += size;
  if (msg_->spool.size() + size > runtime_.service().limits.max_message_size) {
    skip_ = "message exceeds max_message_size (" +
            format_size(runtime_.service().limits.max_message_size) + ")";
    return Verdict::accept;
  }
  if (!line_within_limit(data, size)) {
    skip_ = "a body line over " + format_size(runtime_.service().limits.max_line_length);
    return Verdict::accept;
  }
  if (auto problem = structure_problem(data, size)) {
    skip_ = *problem;
    return Verdict::accept;
  }
  if (auto s = msg_->spool.append(data, size); !s) return on_error("spool: " + s.error().message);
  return Verdict::next;
}

bool Session::line_within_limit(const unsigned char* data, std::size_t size) {
  const std::uint64_t limit = runtime_.service().limits.max_line_length;
  const unsigned char* p = data;
  const unsigned char* end = data + size;
  while (p < end) {
    const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    const unsigned char* stop = nl ? static_cast<const unsigned char*>(nl) : end;
    msg_->line_bytes += static_cast<std::uint64_t>(stop - p);
    if (msg_->line_bytes > limit) return false;
    if (!nl) break;
    msg_->line_bytes = 0;
    p = stop + 1;
  }
  return true;
}

Outcome Session::on_end_of_message(std::string queue_id, std::function<void()> progress) {
  queue_id_ = std::move(queue_id);
  if (!msg_) return Outcome{Outcome::Action::pass, "passed unchanged: no envelope seen", {}, {}, 0};
  msg_->input.envelope.queue_id = queue_id_;
  if (auto problem = structure_problem(nullptr, 0))
    return Outcome{Outcome::Action::pass, "passed unchanged: " + *problem, {}, {}, 0};
  msg_->input.spool = &msg_->spool;
  ProcessorContext ctx{runtime_.store(), runtime_.service(), msg_->policy, runtime_.notices(),
                       std::move(progress), static_cast<std::int64_t>(std::time(nullptr))};
  return process_message(msg_->input, ctx);
}

void Session::end_message() {
  if (msg_) runtime_.message_finished();
  msg_.reset();
  skip_.reset();
}

const std::string& Session::queue_id() const { return queue_id_; }

std::optional<std::uint64_t> Session::unfinished_bytes() const {
  if (!msg_) return std::nullopt;
  return msg_->header_bytes + msg_->body_bytes;
}

}  // namespace attachgate::milter
