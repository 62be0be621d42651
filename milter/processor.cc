// milter/processor.cc - see processor.h.
#include "milter/processor.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include <nlohmann/json.hpp>

#include "milter/filename.h"
#include "milter/gobject_ptr.h"
#include "milter/offload.h"
#include "milter/rewrite.h"
#include "milter/scan.h"
#include "store/secrets.h"
#include "util/text.h"
#include "util/units.h"

namespace attachgate::milter {
namespace {

using config::Action;

struct Parsed {
  GPtr<GMimeMessage> message;
  GPtr<GMimeParser> parser;
};

Result<GPtr<GMimeStream>> open_spool(const Spool& spool) {
  if (spool.in_memory()) {
    const std::string& m = spool.memory();
    return adopt(g_mime_stream_mem_new_with_buffer(m.data(), m.size()));
  }
  auto fd = spool.reopen();
  if (!fd) return fd.error();
  return adopt(g_mime_stream_fs_new(*fd));  // the stream owns fd
}

// An Error here means the message itself cannot be parsed.
Result<Parsed> parse(GMimeStream* stream) {
  Parsed p;
  p.parser = adopt(g_mime_parser_new_with_stream(stream));
  // Persistent: parts keep offsets into the spool instead of copies.
  g_mime_parser_set_persist_stream(p.parser.get(), TRUE);
  g_mime_parser_set_format(p.parser.get(), GMIME_FORMAT_MESSAGE);
  GMimeParserOptions* options = g_mime_parser_options_new();
  g_mime_parser_options_set_rfc2047_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  p.message = adopt(g_mime_parser_construct_message(p.parser.get(), options));
  g_mime_parser_options_free(options);
  if (!p.message) return make_error("not a parseable message");
  return p;
}

// One link serves every offloaded file, so when rules differ the strictest
// terms win: the earliest expiry, the fewest downloads, a code if any asks.
config::LinkTerms strictest(const std::vector<config::LinkTerms>& all) {
  config::LinkTerms t = all.front();
  for (const auto& o : all) {
    t.expires_seconds = std::min(t.expires_seconds, o.expires_seconds);
    t.max_downloads = std::min(t.max_downloads, o.max_downloads);
    t.access_code = t.access_code || o.access_code;
    t.track_opens = t.track_opens && o.track_opens;
  }
  return t;
}

// RFC 2047 words for non-ASCII text; ASCII passes as it is.
std::string encode_header_text(const std::string& text) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    return text;
  char* encoded = g_mime_utils_header_encode_text(nullptr, text.c_str(), "utf-8");
  std::string out = encoded ? encoded : text;
  g_free(encoded);
  return out;
}

// attachgate's own receipts and download notices pass untouched, even when
// the notice relay is a Postfix service that runs this milter: they come
// from [notify] from, to one recipient, with a fresh keyed mark of their
// Message-ID and that recipient (see store::notice_mark).
bool is_own_notice(GMimeMessage* message, const Envelope& env, const ProcessorContext& ctx) {
  const char* mark = g_mime_object_get_header(GMIME_OBJECT(message), store::kNoticeHeader);
  const char* id = g_mime_message_get_message_id(message);
  if (mark == nullptr || id == nullptr || env.recipients.size() != 1 ||
      !equals_nocase(env.sender, ctx.service.relay.from))
    return false;
  return store::check_notice_mark(ctx.store.tokens, mark, id, env.recipients[0], ctx.now);
}

// The receipt's payload: what only the milter knows (the status page's
// token and the access code in clear), for the notifier to put in the mail.
std::string receipt_payload(const std::string& status_token, const std::string& code) {
  return nlohmann::json{{"status_token", status_token}, {"access_code", code}}.dump();
}

std::string access_code() {
  // 10 digits: easy to read out over the phone; wrong tries are rate limited.
  std::string code;
  for (int i = 0; i < 10; ++i) code += static_cast<char>('0' + randombytes_uniform(10));
  return code;
}

Outcome fail(const config::Policy& policy, const std::string& why) {
  Outcome out;
  const bool accept = policy.on_error == config::OnError::accept;
  out.action = accept ? Outcome::Action::pass : Outcome::Action::tempfail;
  out.log = "error: " + why + (accept ? "; passed unchanged (on_error = accept)" : "; tempfail");
  return out;
}

Outcome pass(std::string why, std::vector<HeaderChange> changes = {}) {
  Outcome out;
  out.action = Outcome::Action::pass;
  out.log = std::move(why);
  out.header_changes = std::move(changes);
  return out;
}

}  // namespace

void init_gmime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string spool_dir(const config::ServiceConfig& service) { return service.state_dir + "/spool"; }

Outcome process_message(const MessageInput& in, const ProcessorContext& ctx) {
  init_gmime();
  const auto& policy = *ctx.policy;
  const auto& limits = ctx.service.limits;
  const Envelope& env = in.envelope;
  if (in.spool->size() > limits.max_message_size)
    return pass("passed unchanged: message of " + format_size(in.spool->size()) +
                " exceeds max_message_size");

  // Our own failure to read the spool (say, out of descriptors) follows
  // on_error; only a message GMime cannot read passes unchanged.
  auto stream = open_spool(*in.spool);
  if (!stream) return fail(policy, "spool: " + stream.error().message);
  auto parsed = parse(stream->get());
  if (!parsed) return pass("passed unchanged: " + parsed.error().message);
  GMimeMessage* message = parsed->message.get();
  if (is_own_notice(message, env, ctx))
    return pass("passed unchanged: attachgate's own notice to a sender");

  // Subject tags are instructions to the gateway: they come off whatever
  // else happens, except for mail we must not touch at all.
  const char* decoded_subject = g_mime_message_get_subject(message);
  const std::string subject = decoded_subject ? decoded_subject : "";
  std::vector<HeaderChange> changes;
  // A decoded subject may hold CR/LF (=?us-ascii?q?a=0D=0ABcc:...?=); the
  // value we write back is one line.
  const std::string stripped = clean_display_text(policy.strip_subject_tags(subject), 2000);

  Scan scan = scan_message(message, ScanLimits{limits.max_mime_depth, limits.max_mime_parts});
  if (scan.skip_reason) return pass("passed unchanged: " + *scan.skip_reason);
  if (stripped != clean_display_text(subject, 2000)) changes.push_back({HeaderChange::Op::change, "Subject", encode_header_text(stripped)});

  config::MessageFacts facts{env.sender, env.auth_user, env.daemon_name, subject, env.recipients,
                             in.spool->size()};
  std::vector<const Attachment*> selected;
  std::vector<config::LinkTerms> terms;
  for (const auto& a : scan.attachments) {
    auto d = policy.decide(facts, config::AttachmentFacts{a.filename, a.mime_type, a.size_estimate});
    if (d.action == Action::offload) {
      selected.push_back(&a);
      terms.push_back(d.terms);
    }
  }
  if (selected.empty())
    return pass(scan.attachments.empty()
                    ? "kept: no attachments"
                    : "kept: " + std::to_string(scan.attachments.size()) +
                          (scan.attachments.size() == 1 ? " attachment" : " attachments") +
                          ", none selected by policy",
                std::move(changes));

  store::Store& st = ctx.store;
  store::PendingBlobs pending(st.blobs);
  store::Offload record;
  record.now = ctx.now;
  record.message = {env.queue_id, env.sender, stripped, env.auth_user, env.client_addr,
                    env.recipients, "offloaded"};
  Notice notice;
  std::uint64_t bytes = 0;
  std::vector<const Attachment*> stored;
  std::vector<config::LinkTerms> stored_terms;
  std::string kept;  // attachments we could not be sure to decode whole
  for (std::size_t i = 0; i < selected.size(); ++i) {
    const Attachment* a = selected[i];
    auto part = store_part(a->part, st.blobs, ctx.progress);
    if (!part) return fail(policy, "storing " + a->filename + ": " + part.error().message);
    if (!part->blob) {
      kept += "; kept " + a->filename + " in the mail: " + part->kept_because;
      continue;
    }
    const store::BlobInfo& blob = *part->blob;
    pending.add(blob.id);
    bytes += blob.size;
    stored.push_back(a);
    stored_terms.push_back(terms[i]);
    notice.files.push_back({a->filename, blob.size, a->mime_type});
    record.files.push_back({a->filename, a->mime_type, blob});
  }
  if (stored.empty()) return pass(kept.substr(2), std::move(changes));
  selected = std::move(stored);
  const config::LinkTerms t = strictest(stored_terms);

  const std::string token = ctx.new_token();
  store::NewLink link;
  link.token_hash = st.tokens.hash(token);
  link.pixel_id = ctx.new_pixel_id();
  link.expires_at = ctx.now + t.expires_seconds;
  // One link for all recipients: each may download each file max_downloads times.
  const int recipients = std::max<int>(1, static_cast<int>(env.recipients.size()));
  link.max_downloads = t.max_downloads * recipients;
  link.track_opens = t.track_opens;
  std::string code;
  if (t.access_code) {
    code = access_code();
    auto hashed = store::hash_access_code(code);
    if (!hashed) return fail(policy, hashed.error().message);
    link.code_hash = *hashed;
  }
  record.links.push_back(link);
  record.download_notice = std::string(config::to_string(policy.download_notice));
  // The receipt is queued in the offload's own transaction, so it is sent
  // exactly when the offload happened. Bounces (null sender) get none.
  if (policy.receipts && !env.sender.empty()) {
    const std::string status_token = ctx.new_token();
    record.status_token_hash = st.tokens.hash(status_token);
    // Held until the MTA has the rewritten mail (callbacks.cc releases it).
    record.outbox.push_back(
        {store::OutboxKind::receipt, std::nullopt, env.sender, receipt_payload(status_token, code),
         ctx.now, true});
  }

  notice.download_url = ctx.service.public_url + "/d/" + token;
  if (t.track_opens) notice.pixel_url = ctx.service.public_url + "/o/" + link.pixel_id + ".gif";
  notice.expires_at = link.expires_at;
  notice.downloads_allowed = t.max_downloads;
  notice.code_required = t.access_code;
  notice.sender = env.sender;
  NoticeText text{ctx.notices->text(notice), ctx.notices->html(notice),
                  "=_attachgate_" + link.pixel_id.substr(0, 16)};

  auto mime_changes = rewrite_message(message, selected, scan.body_texts, text, 4u << 20);
  if (!mime_changes) return fail(policy, mime_changes.error().message);
  Spool body(spool_dir(ctx.service), limits.spool_memory_threshold);
  if (auto s = write_body(message, body); !s) return fail(policy, s.error().message);

  auto ids = st.catalog.record_offload(record);
  if (!ids) return fail(policy, "catalog: " + ids.error().message);
  pending.keep();

  Outcome out;
  out.action = Outcome::Action::modified;
  out.message_id = ids->message_id;
  out.header_changes = std::move(changes);
  for (auto& c : *mime_changes) out.header_changes.push_back(std::move(c));
  out.header_changes.push_back({HeaderChange::Op::add, "X-Attachgate",
                                "offloaded=" + std::to_string(selected.size()) +
                                    "; message=" + ids->message_public_id});
  out.body = std::move(body);
  out.log = "offloaded " + std::to_string(selected.size()) + (selected.size() == 1 ? " file (" : " files (") +
            format_size(bytes) + ") for " + std::to_string(env.recipients.size()) +
            (env.recipients.size() == 1 ? " recipient" : " recipients") + "; links expire " +
            format_date(link.expires_at) + "; message=" + ids->message_public_id + kept;
  return out;
}

}  // namespace attachgate::milter
