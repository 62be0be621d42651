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
#include "milter/recipient_copy.h"
#include "milter/recipient_plan.h"
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

// A recipient copy the notify role injected (it carries its link already)
// goes to the one recipient its mark was made for (store::copy_mark).
bool is_own_copy(GMimeMessage* message, const Envelope& env, const ProcessorContext& ctx) {
  const char* mark = g_mime_object_get_header(GMIME_OBJECT(message), store::kCopyHeader);
  if (mark == nullptr || env.recipients.size() != 1) return false;
  return store::check_notice_mark(ctx.store.tokens, mark, store::kCopyMarkLabel,
                                  env.recipients[0], ctx.now);
}

// One link as the milter made it: the secrets only the mail and the
// receipt will carry.
struct IssuedLink {
  std::string recipient;  // empty: the shared link
  std::string token, pixel_id, code;
  std::int64_t expires_at = 0;
};

// The receipt's payload: what only the milter knows (the status page's
// token and the access codes in clear), for the notifier to put in the
// mail. access_code is the message's one code; with a code per recipient
// it is empty and access_codes lists them.
std::string receipt_payload(const std::string& status_token, const std::string& code,
                            const std::vector<IssuedLink>& links) {
  nlohmann::json j{{"status_token", status_token}, {"access_code", code}};
  if (code.empty()) {
    nlohmann::json codes = nlohmann::json::array();
    for (const auto& l : links)
      if (!l.code.empty()) codes.push_back({{"recipient", l.recipient}, {"code", l.code}});
    if (!codes.empty()) j["access_codes"] = std::move(codes);
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The log's word on who got which links; nothing when one recipient got
// the one link.
std::string describe_links(const RecipientPlan& plan, std::size_t copies) {
  if (!plan.per_recipient)
    return plan.shared_because.empty() ? "" : "; one shared link: " + plan.shared_because;
  if (plan.linked.size() == 1 && plan.keep.empty()) return "";
  std::string out = plan.keep.empty()
                        ? ", each their own link"
                        : ", " + std::to_string(plan.linked.size()) + " with their own link";
  if (copies > 0)
    out += " (" + std::to_string(copies) + (copies == 1 ? " recipient copy" : " recipient copies") +
           " queued)";
  if (!plan.keep.empty())
    out += "; " + std::to_string(plan.keep.size()) +
           (plan.keep.size() == 1 ? " keeps" : " keep") + " the attachments";
  return out;
}

std::string access_code() {
  // 10 digits: easy to read out over the phone; wrong tries are rate limited.
  std::string code;
  for (int i = 0; i < 10; ++i) code += static_cast<char>('0' + randombytes_uniform(10));
  return code;
}

// One recipient's mail: the message parsed again from the spool (the first
// parse is, or will be, rewritten for another link), the same attachments
// taken out and this link's notice put in, the header block as the MTA
// will write it. Into the blob store: it carries a link.
Result<store::BlobInfo> write_recipient_copy(const MessageInput& in, const ProcessorContext& ctx,
                                             const std::vector<std::size_t>& stored,
                                             const NoticeText& notice,
                                             const std::vector<HeaderChange>& changes,
                                             const HeaderChange& mark) {
  const auto& limits = ctx.service.limits;
  auto stream = open_spool(*in.spool);
  if (!stream) return stream.error();
  auto parsed = parse(stream->get());
  if (!parsed) return parsed.error();
  Scan scan = scan_message(parsed->message.get(), ScanLimits{limits.max_mime_depth, limits.max_mime_parts});
  std::vector<const Attachment*> offloaded;
  for (std::size_t i : stored) {
    if (scan.skip_reason || i >= scan.attachments.size())
      return make_error("the message read differently the second time");
    offloaded.push_back(&scan.attachments[i]);
  }
  auto mime_changes = rewrite_message(parsed->message.get(), offloaded, scan.body_texts, notice, 4u << 20);
  if (!mime_changes) return mime_changes.error();
  Spool body(spool_dir(ctx.service), limits.spool_memory_threshold);
  if (auto s = write_body(parsed->message.get(), body); !s) return s.error();
  auto block = header_block(*in.spool, limits.max_header_bytes + 64 * 1024);
  if (!block) return block.error();
  std::vector<HeaderChange> all = changes;
  all.insert(all.end(), mime_changes->begin(), mime_changes->end());
  all.push_back(mark);
  return write_copy(apply_header_changes(*block, all), body, ctx.store.blobs);
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

// The policy's download_notice as the catalog records it. config/ and
// store/ sit on one floor and include nothing of each other, so each has
// its own enum; the milter reads the one and writes the other.
store::DownloadNotice recorded(config::DownloadNotice notice) {
  switch (notice) {
    case config::DownloadNotice::never: return store::DownloadNotice::never;
    case config::DownloadNotice::first: return store::DownloadNotice::first;
    case config::DownloadNotice::every: return store::DownloadNotice::every;
  }
  panic("unknown config::DownloadNotice");
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
  if (is_own_copy(message, env, ctx))
    return pass("passed unchanged: attachgate's own recipient copy");

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
  std::vector<config::AttachmentFacts> attachment_facts;
  for (const auto& a : scan.attachments)
    attachment_facts.push_back({a.filename, a.mime_type, a.size_estimate});
  const RecipientPlan plan = plan_recipients(policy, facts, attachment_facts);
  std::vector<std::size_t> selected;  // indices into scan.attachments
  for (std::size_t i = 0; i < plan.decisions.size(); ++i)
    if (plan.decisions[i].action == Action::offload) selected.push_back(i);
  if (selected.empty())
    return pass(scan.attachments.empty()
                    ? "kept: no attachments"
                    : "kept: " + std::to_string(scan.attachments.size()) +
                          (scan.attachments.size() == 1 ? " attachment" : " attachments") +
                          ", none selected by policy",
                std::move(changes));

  const auto& st = ctx.store;
  store::PendingBlobs pending(st.blobs);
  store::Offload record;
  record.now = ctx.now;
  record.public_id = store::new_public_id();
  record.message = {env.queue_id, env.sender, stripped, env.auth_user, env.client_addr,
                    env.recipients, store::MessageOutcome::offloaded};
  if (const char* id = g_mime_message_get_message_id(message))
    record.message.header_message_id = clean_display_text(id, 998);
  std::vector<NoticeFile> notice_files;
  std::uint64_t bytes = 0;
  std::vector<std::size_t> stored;  // indices into scan.attachments
  std::vector<config::LinkTerms> stored_terms;
  std::string kept;  // attachments we could not be sure to decode whole
  for (std::size_t i : selected) {
    const Attachment& a = scan.attachments[i];
    auto part = store_part(a.part, st.blobs, ctx.progress);
    if (!part) return fail(policy, "storing " + a.filename + ": " + part.error().message);
    if (!part->blob) {
      kept += "; kept " + a.filename + " in the mail: " + part->kept_because;
      continue;
    }
    const store::BlobInfo& blob = *part->blob;
    pending.add(blob.id);
    bytes += blob.size;
    stored.push_back(i);
    stored_terms.push_back(plan.decisions[i].terms);
    notice_files.push_back({a.filename, blob.size, a.mime_type});
    record.files.push_back({a.filename, a.mime_type, blob});
  }
  if (stored.empty()) return pass(kept.substr(2), std::move(changes));
  const config::LinkTerms t = strictest(stored_terms);

  // The links: one per recipient in plan.linked, or one for them all.
  const std::size_t link_count = plan.per_recipient ? plan.linked.size() : 1;
  std::vector<IssuedLink> issued;
  std::string message_code;  // one code for every link, unless each has its own
  std::optional<std::string> message_code_hash;
  if (t.access_code && !(plan.per_recipient && t.code_per_recipient)) {
    message_code = access_code();
    auto hashed = store::hash_access_code(message_code);
    if (!hashed) return fail(policy, hashed.error().message);
    message_code_hash = *hashed;
  }
  for (std::size_t i = 0; i < link_count; ++i) {
    IssuedLink l;
    l.token = ctx.new_token();
    store::NewLink link;
    link.token_hash = st.tokens.hash(l.token);
    link.pixel_id = ctx.new_pixel_id();
    link.expires_at = ctx.now + t.expires_seconds;
    link.track_opens = t.track_opens;
    if (plan.per_recipient) {
      l.recipient = plan.linked[i];
      link.recipient = plan.linked[i];
      link.max_downloads = t.max_downloads;
    } else {
      // One link for all recipients: each may download each file max_downloads times.
      const int recipients = std::max<int>(1, static_cast<int>(env.recipients.size()));
      link.max_downloads = t.max_downloads * recipients;
    }
    if (message_code_hash) {
      l.code = message_code;
      link.code_hash = message_code_hash;
    } else if (t.access_code) {
      l.code = access_code();
      auto hashed = store::hash_access_code(l.code);
      if (!hashed) return fail(policy, hashed.error().message);
      link.code_hash = *hashed;
    }
    l.pixel_id = link.pixel_id;
    l.expires_at = link.expires_at;
    record.links.push_back(std::move(link));
    issued.push_back(std::move(l));
  }
  record.download_notice = recorded(policy.download_notice);
  // The receipt is queued in the offload's own transaction, so it is sent
  // exactly when the offload happened. Bounces (null sender) get none.
  if (policy.receipts && !env.sender.empty()) {
    const std::string status_token = ctx.new_token();
    record.status_token_hash = st.tokens.hash(status_token);
    // Held until the MTA has the rewritten mail (callbacks.cc releases it).
    record.outbox.push_back({store::OutboxKind::receipt, std::nullopt, env.sender,
                             receipt_payload(status_token, message_code, issued), ctx.now, true});
  }

  auto notice_for = [&](const IssuedLink& l) {
    Notice notice;
    notice.files = notice_files;
    notice.download_url = ctx.service.public_url + "/d/" + l.token;
    if (t.track_opens) notice.pixel_url = ctx.service.public_url + "/o/" + l.pixel_id + ".gif";
    notice.expires_at = l.expires_at;
    notice.downloads_allowed = t.max_downloads;
    notice.code_required = t.access_code;
    notice.sender = env.sender;
    return NoticeText{ctx.notices->text(notice), ctx.notices->html(notice),
                      "=_attachgate_" + l.pixel_id.substr(0, 16)};
  };
  const HeaderChange mark{HeaderChange::Op::add, "X-Attachgate",
                          "offloaded=" + std::to_string(stored.size()) +
                              "; message=" + record.public_id};

  // Who gets the MTA's own message: with per-recipient links, the
  // recipients who keep the attachments (it then passes with its body as
  // it is), or else the first recipient with a link. Everyone else with a
  // link is taken off it and gets a recipient copy.
  const bool original_kept = plan.per_recipient && !plan.keep.empty();
  const std::size_t first_copy = original_kept ? 0 : 1;
  std::vector<std::string> removed;
  for (std::size_t i = first_copy; plan.per_recipient && i < link_count; ++i) {
    auto copy = write_recipient_copy(in, ctx, stored, notice_for(issued[i]), changes, mark);
    if (!copy) return fail(policy, "recipient copy for " + issued[i].recipient + ": " + copy.error().message);
    pending.add(copy->id);
    store::NewOutboxItem item{store::OutboxKind::recipient_copy, std::nullopt, issued[i].recipient,
                              "{}", ctx.now, true};
    item.blob_id = copy->id;
    item.link_index = i;
    record.outbox.push_back(std::move(item));
    removed.push_back(issued[i].recipient);
  }

  std::optional<Spool> body;
  std::vector<HeaderChange> mime_changes;
  if (!original_kept) {
    std::vector<const Attachment*> offloaded;
    for (std::size_t i : stored) offloaded.push_back(&scan.attachments[i]);
    auto rewritten = rewrite_message(message, offloaded, scan.body_texts, notice_for(issued[0]), 4u << 20);
    if (!rewritten) return fail(policy, rewritten.error().message);
    mime_changes = std::move(*rewritten);
    body.emplace(spool_dir(ctx.service), limits.spool_memory_threshold);
    if (auto s = write_body(message, *body); !s) return fail(policy, s.error().message);
  }

  auto ids = st.catalog.record_offload(record);
  if (!ids) return fail(policy, "catalog: " + ids.error().message);
  pending.keep();

  Outcome out;
  out.action = Outcome::Action::modified;
  out.message_id = ids->message_id;
  out.header_changes = std::move(changes);
  for (auto& c : mime_changes) out.header_changes.push_back(std::move(c));
  if (!original_kept) out.header_changes.push_back(mark);
  out.body = std::move(body);
  out.removed_recipients = std::move(removed);
  out.log = "offloaded " + std::to_string(stored.size()) + (stored.size() == 1 ? " file (" : " files (") +
            format_size(bytes) + ") for " + std::to_string(env.recipients.size()) +
            (env.recipients.size() == 1 ? " recipient" : " recipients") +
            describe_links(plan, out.removed_recipients.size()) + "; links expire " +
            format_date(issued[0].expires_at) + "; message=" + ids->message_public_id + kept;
  return out;
}

}  // namespace attachgate::milter
