// milter/message.h - what the milter learns about one message, and what it
// decides to do with it. Plain data, free of libmilter, so the processor can
// be driven by the callbacks, by golden-file tests and by benchmarks alike.
// Every string here came from the SMTP client or the MTA: untrusted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "milter/spool.h"

namespace attachgate::milter {

struct Envelope {
  std::string queue_id;     // {i}
  std::string sender;       // MAIL FROM, without <>
  std::string auth_user;    // {auth_authen}
  std::string daemon_name;  // {daemon_name}
  std::string client_addr;  // {client_addr}
  std::vector<std::string> recipients;  // RCPT TO, without <>
};

struct Header {
  std::string name, value;
};

struct HeaderChange {
  enum class Op { add, change, remove };
  Op op = Op::add;
  std::string name, value;
};

// The whole message as it came in: its headers and the spool holding
// "headers CRLF CRLF body", which is what GMime parses.
struct MessageInput {
  Envelope envelope;
  std::vector<Header> headers;
  const Spool* spool = nullptr;
};

struct Outcome {
  enum class Action { pass, modified, tempfail };
  Action action = Action::pass;
  std::string log;  // the rest of the line after "QUEUEID: "
  std::vector<HeaderChange> header_changes;
  std::optional<Spool> body;  // set when the body is replaced
  std::int64_t message_id = 0;  // catalog row, to undo if the MTA refuses the change
  // Envelope recipients to remove (smfi_delrcpt): they get recipient copies
  // through the outbox instead.
  std::vector<std::string> removed_recipients = {};
};

}  // namespace attachgate::milter
