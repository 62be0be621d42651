// milter/callbacks.cc - the libmilter callback table and the run loop.
//
// Each xxfi_* is a few lines: find the Session, hand the event over, turn the
// Verdict into an sfsistat. The per-connection Connection (the Session plus
// what was negotiated) is a unique_ptr released into smfi_setpriv at
// negotiate (or connect) and taken back exactly once at close.
// Every failure becomes one outcome chosen by policy (see Session::on_error
// and process_message).
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <thread>

#include "milter/listener.h"
#include "milter/milter.h"
#include "milter/session.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/text.h"

namespace attachgate::milter {
namespace {

Runtime* g_runtime = nullptr;  // set once in run_milter before smfi_main

// The largest milter command libmilter takes (its 1 MiB bucket).
constexpr std::size_t kMaxMilterCommand = 1024 * 1024 - 1;

// One MTA connection: its Session and what its MTA agreed to at negotiate.
struct Connection {
  explicit Connection(Runtime& runtime) : session(runtime) {}
  Session session;
  bool leading_space = false;  // SMFIP_HDR_LEADSPC: header values keep their space
  bool noreply_conn = false;   // SMFIP_NR_CONN and friends: that stage is not answered
  bool noreply_rcpt = false;
  bool noreply_hdr = false;
};

Connection* connection(SMFICTX* ctx) { return static_cast<Connection*>(smfi_getpriv(ctx)); }

Session* session(SMFICTX* ctx) {
  Connection* c = connection(ctx);
  return c ? &c->session : nullptr;
}

// Creates the connection's context on first use (negotiate, or connect for
// an MTA that does not negotiate).
Connection& ensure_connection(SMFICTX* ctx) {
  if (Connection* c = connection(ctx)) return *c;
  auto c = std::make_unique<Connection>(*g_runtime);
  smfi_setpriv(ctx, c.get());
  return *c.release();
}

std::string macro(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  return v ? terminal_safe(v, 200) : "";
}

std::string queue_id(SMFICTX* ctx) {
  std::string id = macro(ctx, "{i}");
  return id.empty() ? "NOQUEUE" : id;
}

void count(MilterMetrics::Answer answer) { g_runtime->metrics().message(answer); }

// Observes end-of-message time on every way out of on_eom.
class EomTimer {
 public:
  ~EomTimer() {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
    g_runtime->metrics().end_of_message_seconds(took.count());
  }

 private:
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// Every answer that ends a message comes through here (a pass before end of
// message, any tempfail) or through on_eom's success path, so each is
// counted once.
sfsistat to_status(SMFICTX* ctx, Verdict v) {
  Session* s = session(ctx);
  switch (v) {
    case Verdict::next:
      return SMFIS_CONTINUE;
    case Verdict::accept:
      count(MilterMetrics::Answer::passed);
      if (s && s->skip_reason()) log_info(queue_id(ctx) + ": passed unchanged: " + *s->skip_reason());
      if (s) s->end_message();
      return SMFIS_ACCEPT;
    case Verdict::tempfail:
      count(MilterMetrics::Answer::tempfailed);
      smfi_setreply(ctx, const_cast<char*>("451"), const_cast<char*>("4.3.0"),
                    const_cast<char*>("attachgate: temporary failure, please try again later"));
      return SMFIS_TEMPFAIL;
  }
  return SMFIS_TEMPFAIL;
}

// With SMFIP_HDR_LEADSPC the MTA writes "Name:" and the value as given, so
// the space after the colon is ours to supply.
std::string wire_value(const std::string& value, bool leading_space) {
  if (!leading_space || value.empty() || value.front() == ' ' || value.front() == '\t') return value;
  return " " + value;
}

Status apply_headers(SMFICTX* ctx, const std::vector<HeaderChange>& changes) {
  const Connection* conn = connection(ctx);
  const bool leading_space = conn && conn->leading_space;
  for (const auto& c : changes) {
    const std::string v = wire_value(c.value, leading_space);
    char* name = const_cast<char*>(c.name.c_str());
    char* value = const_cast<char*>(v.c_str());
    int rc = MI_FAILURE;
    switch (c.op) {
      case HeaderChange::Op::add: rc = smfi_addheader(ctx, name, value); break;
      case HeaderChange::Op::change: rc = smfi_chgheader(ctx, name, 1, value); break;
      case HeaderChange::Op::remove: rc = smfi_chgheader(ctx, name, 1, nullptr); break;
    }
    if (rc != MI_SUCCESS) return make_error("MTA refused header change " + c.name);
  }
  return {};
}

Status apply_body(SMFICTX* ctx, const Spool& body) {
  return body.for_each_chunk(65535, [ctx](std::string_view chunk) -> Status {
    auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(chunk.data()));
    if (smfi_replacebody(ctx, p, static_cast<int>(chunk.size())) != MI_SUCCESS)
      return make_error("MTA refused the new body");
    return {};
  });
}

// Recipients who get their own recipient copy come off the MTA's message.
// Postfix compares the address without its angle brackets.
Status remove_recipients(SMFICTX* ctx, const std::vector<std::string>& recipients) {
  for (const auto& r : recipients) {
    std::string address = "<" + r + ">";
    if (smfi_delrcpt(ctx, address.data()) != MI_SUCCESS)
      return make_error("MTA refused to remove recipient " + terminal_safe(r, 200));
  }
  return {};
}

// The catalog rows and blobs of a message whose new body did not reach the
// MTA: the mail is tempfailed and will come again.
void undo(std::int64_t message_id) {
  auto& store = g_runtime->store();
  auto blobs = store.catalog.remove_message(message_id);
  if (!blobs) {
    log_warn("cannot undo message row " + std::to_string(message_id) + ": " + blobs.error().message);
    return;
  }
  for (const auto& id : *blobs) (void)store.blobs.remove(id);
}

sfsistat on_eom(SMFICTX* ctx) {
  Session* s = session(ctx);
  if (!s) return SMFIS_TEMPFAIL;
  EomTimer timer;
  Outcome out = s->on_end_of_message(queue_id(ctx), [ctx] { smfi_progress(ctx); });
  const std::string qid = queue_id(ctx);
  if (out.action == Outcome::Action::tempfail) {
    log_warn(qid + ": " + out.log);
    s->end_message();
    return to_status(ctx, Verdict::tempfail);
  }
  if (out.message_id) fault_point("catalog_committed");  // rows and blobs in place, MTA unaware
  Status applied = apply_headers(ctx, out.header_changes);
  if (applied && out.body) applied = apply_body(ctx, *out.body);
  if (applied) applied = remove_recipients(ctx, out.removed_recipients);
  if (!applied) {
    if (out.message_id) undo(out.message_id);
    log_warn(qid + ": error: " + applied.error().message + "; tempfail");
    s->end_message();
    return to_status(ctx, Verdict::tempfail);
  }
  // The MTA has the rewritten mail: the sender's receipt and the recipient
  // copies may go now.
  if (out.message_id) {
    if (auto released = g_runtime->store().catalog.release_outbox(out.message_id, std::time(nullptr)); !released)
      log_warn(qid + ": receipt stays queued: " + released.error().message);
  }
  log_info(qid + ": " + out.log);
  s->end_message();
  count(out.action == Outcome::Action::modified ? MilterMetrics::Answer::offloaded
                                                : MilterMetrics::Answer::passed);
  if (out.message_id) fault_point("before_reply");  // the MTA has the new body, not our answer
  return SMFIS_CONTINUE;
}

// ---- the callback table --------------------------------------------------

sfsistat xx_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
  const unsigned long want =
      SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_DELRCPT | SMFIF_SETSYMLIST;
  if ((f0 & want) != want) return SMFIS_REJECT;  // the MTA cannot do what we need
  *pf0 = want;
  // Skip the stages we do not use; keep header values byte for byte; and
  // spare the round trip for the stages whose answer is always "continue"
  // (a header over a limit is remembered and answered at end of headers).
  const unsigned long wanted = SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_HDR_LEADSPC |
                               SMFIP_NR_CONN | SMFIP_NR_RCPT | SMFIP_NR_HDR;
  *pf1 = f1 & wanted;
  Connection& conn = ensure_connection(ctx);
  conn.leading_space = (f1 & SMFIP_HDR_LEADSPC) != 0;
  conn.noreply_conn = (f1 & SMFIP_NR_CONN) != 0;
  conn.noreply_rcpt = (f1 & SMFIP_NR_RCPT) != 0;
  conn.noreply_hdr = (f1 & SMFIP_NR_HDR) != 0;
  *pf2 = *pf3 = 0;
  smfi_setsymlist(ctx, SMFIM_CONNECT, const_cast<char*>("{client_addr} {daemon_name}"));
  smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("{i} {auth_authen} {mail_addr}"));
  smfi_setsymlist(ctx, SMFIM_ENVRCPT, const_cast<char*>("{rcpt_addr}"));
  smfi_setsymlist(ctx, SMFIM_EOH, const_cast<char*>("{i}"));
  smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("{i}"));
  return SMFIS_CONTINUE;
}

sfsistat xx_connect(SMFICTX* ctx, char*, _SOCK_ADDR*) {
  Connection& conn = ensure_connection(ctx);
  conn.session.set_client(macro(ctx, "{client_addr}"), macro(ctx, "{daemon_name}"));
  return conn.noreply_conn ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

sfsistat xx_envfrom(SMFICTX* ctx, char** argv) {
  Session* s = session(ctx);
  if (!s) return SMFIS_TEMPFAIL;
  return to_status(ctx, s->on_mail_from(argv[0] ? argv[0] : "", macro(ctx, "{auth_authen}"),
                                        macro(ctx, "{i}")));
}

// The stages negotiated as no-reply must answer SMFIS_NOREPLY every time,
// so their Session handlers never stop a message themselves.
sfsistat xx_envrcpt(SMFICTX* ctx, char** argv) {
  Connection* c = connection(ctx);
  if (!c) return SMFIS_CONTINUE;  // cannot happen after connect; nothing to answer with
  (void)c->session.on_rcpt(argv[0] ? argv[0] : "");
  return c->noreply_rcpt ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

sfsistat xx_header(SMFICTX* ctx, char* name, char* value) {
  Connection* c = connection(ctx);
  if (!c) return SMFIS_CONTINUE;
  (void)c->session.on_header(name, value, c->leading_space);
  return c->noreply_hdr ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

sfsistat xx_eoh(SMFICTX* ctx) {
  Session* s = session(ctx);
  return s ? to_status(ctx, s->on_end_of_headers()) : SMFIS_TEMPFAIL;
}

sfsistat xx_body(SMFICTX* ctx, unsigned char* data, size_t size) {
  Session* s = session(ctx);
  return s ? to_status(ctx, s->on_body(data, size)) : SMFIS_TEMPFAIL;
}

// A message that ends without its end-of-message is not lost: the MTA
// still holds it (and applies its milter_default_action if the connection
// broke). The log must still say which one and how far it got. libmilter
// calls abort both when the MTA aborts (the client went away, every
// recipient was refused) and when it drops the connection itself, as it
// does for a command over its limit, such as one header over 1 MiB.
sfsistat xx_abort(SMFICTX* ctx) {
  Session* s = session(ctx);
  if (!s) return SMFIS_CONTINUE;
  if (const auto taken = s->unfinished_bytes())
    log_info((s->queue_id().empty() ? std::string("NOQUEUE") : s->queue_id()) +
             ": message ended before its end after " + std::to_string(*taken) +
             " bytes of headers and body (the MTA aborted it, or libmilter dropped a command "
             "over 1 MiB, such as one header); nothing was stored");
  s->end_message();
  return SMFIS_CONTINUE;
}

sfsistat xx_close(SMFICTX* ctx) {
  std::unique_ptr<Connection> c(connection(ctx));  // taken back exactly once
  smfi_setpriv(ctx, nullptr);
  return SMFIS_CONTINUE;
}

// ---- no exception may unwind into libmilter's C frames -------------------

// What a callback answers when its handler threw: the message is dropped and
// tempfailed, except where the stage was negotiated as no-reply (the failure
// is then logged and the message goes on to a stage that can answer).
sfsistat after_throw_tempfail(SMFICTX* ctx) {
  if (Session* s = session(ctx)) s->end_message();
  count(MilterMetrics::Answer::tempfailed);
  return SMFIS_TEMPFAIL;
}
sfsistat after_throw_reject(SMFICTX*) { return SMFIS_REJECT; }  // negotiate: milter not used
sfsistat after_throw_continue(SMFICTX*) { return SMFIS_CONTINUE; }
sfsistat after_throw_conn(SMFICTX* ctx) {
  const Connection* c = connection(ctx);
  return c && c->noreply_conn ? SMFIS_NOREPLY : SMFIS_TEMPFAIL;
}
sfsistat after_throw_rcpt(SMFICTX* ctx) {
  const Connection* c = connection(ctx);
  return c && c->noreply_rcpt ? SMFIS_NOREPLY : after_throw_tempfail(ctx);
}
sfsistat after_throw_header(SMFICTX* ctx) {
  const Connection* c = connection(ctx);
  return c && c->noreply_hdr ? SMFIS_NOREPLY : after_throw_tempfail(ctx);
}

template <auto Fn, auto Fallback>
struct Guard;

template <class... A, sfsistat (*Fn)(SMFICTX*, A...), sfsistat (*Fallback)(SMFICTX*)>
struct Guard<Fn, Fallback> {
  static sfsistat call(SMFICTX* ctx, A... args) noexcept {
    try {
      return Fn(ctx, args...);
    } catch (const std::exception& e) {
      log_warn(queue_id(ctx) + ": error: " + terminal_safe(e.what(), 200) + "; tempfail");
    } catch (...) {
      log_warn(queue_id(ctx) + ": error: unknown exception; tempfail");
    }
    try {
      return Fallback(ctx);
    } catch (...) {
      return SMFIS_TEMPFAIL;
    }
  }
};

smfiDesc g_desc = {
    const_cast<char*>("attachgate"),
    SMFI_VERSION,
    SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_DELRCPT | SMFIF_SETSYMLIST,
    Guard<xx_connect, after_throw_conn>::call,
    nullptr,
    Guard<xx_envfrom, after_throw_tempfail>::call,
    Guard<xx_envrcpt, after_throw_rcpt>::call,
    Guard<xx_header, after_throw_header>::call,
    Guard<xx_eoh, after_throw_tempfail>::call,
    Guard<xx_body, after_throw_tempfail>::call,
    Guard<on_eom, after_throw_tempfail>::call,
    Guard<xx_abort, after_throw_continue>::call,
    Guard<xx_close, after_throw_continue>::call,
    nullptr,
    nullptr,
    Guard<xx_negotiate, after_throw_reject>::call,
};

void control_loop(int fd) {
  char c;
  for (;;) {
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the supervisor is gone: stop taking mail
    if (c != 'R') continue;
    if (auto s = g_runtime->reload(); s) log_info("reloaded policy and templates");
    else log_warn("reload refused, the old policy and templates stay in force: " + s.error().message);
  }
  smfi_stop();
}

}  // namespace

int run_milter(Runtime& runtime, int control_fd) {
  g_runtime = &runtime;
  const std::string& socket = runtime.service().milter_socket;
  if (smfi_setconn(const_cast<char*>(socket.c_str())) != MI_SUCCESS) {
    log_warn("cannot use milter socket " + socket);
    return 2;
  }
  smfi_settimeout(600);
  // libmilter's default drops a connection whose command is over 64 KiB:
  // a header that long (legal, and under Postfix's 100 KiB
  // header_size_limit) would end the session with no word in our log.
  smfi_setmaxdatasize(kMaxMilterCommand);
  if (smfi_register(g_desc) != MI_SUCCESS) {
    log_warn("smfi_register failed");
    return 2;
  }
  if (smfi_opensocket(true) != MI_SUCCESS) {
    log_warn("cannot listen on milter socket " + socket +
             " (is another attachgate running, or is the directory missing?)");
    return 2;
  }
  // See listener.h: TCP_NODELAY on TCP, mode 0660 on a unix socket's file.
  // Without them Postfix cannot connect (or stalls), and all mail would wait.
  if (auto prepared = prepare_listeners(); !prepared) {
    log_warn(prepared.error().message);
    return 2;
  }
  // libmilter's signal thread sigwaits for these; every other thread must
  // have them blocked, or SIGTERM kills the process mid-message.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&stop_signals, sig);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  if (control_fd >= 0) std::thread(control_loop, control_fd).detach();
  log_info("milter listening on " + socket);
  int rc = smfi_main();
  int left = runtime.wait_idle(120);
  if (left > 0) {
    // Their threads still use the store: do not unwind it under them.
    log_warn(std::to_string(left) + " messages still in progress at exit; the MTA will retry them");
    std::_Exit(1);
  }
  // A message counts as finished just before libmilter sends its last reply;
  // give those replies a moment to leave before the process does.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  log_info("milter stopped");
  return rc == MI_SUCCESS ? 0 : 1;
}

}  // namespace attachgate::milter
