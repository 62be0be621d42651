// milter/session.h - one MTA connection and the message in progress on it.
//
// The callbacks hand each event to a Session; it collects the envelope,
// bounds the header block and spools the message. Nothing here talks to
// libmilter, so it is tested directly. A message over max_message_size is
// not spooled further: it passes unchanged (Postfix's own limit should be
// lower). A header block over max_header_size, or a header or body line
// over max_line_length, passes unchanged too: such mail is not what a mail
// client writes, and we never rewrite what we did not parse whole. So does a
// MIME preamble, epilogue or part header block over max_header_size, or more
// than max_mime_parts parts (StructureCheck): GMime would hold those in memory.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "milter/message.h"
#include "milter/runtime.h"
#include "milter/structure_check.h"

namespace attachgate::milter {

enum class Verdict { next, accept, tempfail };

class Session {
 public:
  explicit Session(Runtime& runtime) : runtime_(runtime) {}
  ~Session() { end_message(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void set_client(std::string client_addr, std::string daemon_name);
  // queue_id: the MTA's {i} if it has one yet, so errors name the right message.
  Verdict on_mail_from(std::string sender, std::string auth_user, std::string queue_id = {});
  // These two always answer "next" (the MTA may have been told to expect no
  // answer); a header that stops the message is answered at end of headers.
  Verdict on_rcpt(std::string recipient);
  Verdict on_header(std::string_view name, std::string_view value, bool value_has_leading_space);
  Verdict on_end_of_headers();
  Verdict on_body(const unsigned char* data, std::size_t size);
  // Runs the processor; the caller applies the Outcome and then calls end_message().
  Outcome on_end_of_message(std::string queue_id, std::function<void()> progress);
  void end_message();

  const std::string& queue_id() const;
  std::optional<std::string> skip_reason() const { return skip_; }
  // Bytes of the message in progress taken so far (its header lines and
  // body), or nullopt between messages.
  std::optional<std::uint64_t> unfinished_bytes() const;

 private:
  struct Message {
    MessageInput input;
    Spool spool;
    std::uint64_t header_bytes = 0;
    std::shared_ptr<const config::Policy> policy;
    std::uint64_t line_bytes = 0;  // of the body line in progress
    std::optional<StructureCheck> structure;  // set at end of headers
    std::uint64_t body_bytes = 0;  // taken, whether spooled or not
    std::unordered_set<std::string> recipients_seen = {};  // RCPT TO given twice counts once
  };
  Verdict on_error(const std::string& why);
  bool line_within_limit(const unsigned char* data, std::size_t size);
  // Feeds the structure check; the reason to pass the message unchanged, if any.
  std::optional<std::string> structure_problem(const unsigned char* data, std::size_t size);

  Runtime& runtime_;
  std::string client_addr_, daemon_name_;
  std::unique_ptr<Message> msg_;
  std::optional<std::string> skip_;
  std::optional<Verdict> held_;  // a header's verdict, given at end of headers
  std::string queue_id_;
};

}  // namespace attachgate::milter
