// app/cmd_admin.cc - `attachgate revoke ID [--recipient ADDR]`, `extend ID
// DURATION`, `resend ID --recipient ADDR`, `stats` and `events ID`: what an
// admin does to and learns about messages after they left. ID is a
// message's public id or its Postfix queue id, as for `show`. Revoke,
// extend and resend write to the catalog (one transaction each) and record
// who did it; stats and events only read. Like list and show they never
// create a state directory or a catalog that is not there.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <ctime>
#include <iostream>
#include <pwd.h>
#include <unistd.h>

#include "app/commands.h"
#include "app/render.h"
#include "store/catalog.h"
#include "store/store.h"
#include "util/text.h"
#include "util/units.h"

namespace attachgate::app {
namespace {

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Who to name in the revoked/extended event: the admin's login, so the
// audit trail says which person acted (sudo keeps the real one).
std::string acting_admin() {
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo)
    return std::string("admin ") + sudo;
  if (const passwd* pw = ::getpwuid(::getuid())) return std::string("admin ") + pw->pw_name;
  return "admin";
}

int fail(const std::string& what) {
  std::cerr << "attachgate: " << what << "\n";
  return 2;
}

int not_found(const std::string& id) {
  std::cerr << "attachgate: no message with id or queue id '" << id << "' (see attachgate list)\n";
  return 1;
}

// The message to act on: 0 and the message; 1 not found; 2 could not look.
int find_target(store::AdminCatalog& catalog, const std::string& id, store::MessageRecord& out) {
  auto row = catalog.message_row_id(id);
  if (!row) return fail(row.error().message);
  if (!*row) return not_found(id);
  auto message = catalog.find_message(**row);
  if (!message) return fail(message.error().message);
  if (!*message) return not_found(id);  // forgotten in between
  out = **message;
  return 0;
}

nlohmann::json target_json(const store::MessageRecord& m) {
  return {{"id", m.public_id}, {"queue_id", m.queue_id}};
}

std::string target_text(const store::MessageRecord& m) {
  return "message " + m.public_id + " (queue id " + terminal_safe(m.queue_id) + ")";
}

// `revoke ID --recipient ADDR`: 1 when the message has no link of that
// recipient's own (a shared link, or one who got the attachment in the mail).
int revoke_recipient(store::AdminCatalog& catalog, const store::MessageRecord& t,
                     const std::string& recipient, bool json) {
  auto change = catalog.revoke_recipient_link(t.id, recipient, now(), acting_admin());
  if (!change) return fail("revoke: " + change.error().message);
  if (!*change) {
    std::cerr << "attachgate: " << target_text(t) << " has no link of its own for '"
              << terminal_safe(recipient)
              << "' (see attachgate show; a message with one link for all recipients is revoked "
                 "whole, without --recipient)\n";
    return 1;
  }
  if (json) {
    nlohmann::json j = target_json(t);
    j["recipient"] = recipient;
    j["revoked"] = (*change)->links;
    std::cout << json_text(j);
  } else if ((*change)->links == 0) {
    std::cout << target_text(t) << ": the link of " << terminal_safe(recipient)
              << " was revoked already\n";
  } else {
    std::cout << target_text(t) << ": revoked the link of " << terminal_safe(recipient)
              << "; the other recipients' links keep working\n";
  }
  return 0;
}

}  // namespace

Runner add_revoke_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand(
      "revoke", "Revoke every link of a message at once, or with --recipient only that "
                "recipient's own link: downloads through it stop (410), and once no link can "
                "download its files the next purge deletes them. Revoking is final; revoking "
                "again changes nothing");
  static std::string id, recipient;
  sub->add_option("ID", id, "Message id (from list or the X-Attachgate header) or Postfix queue id")
      ->required();
  sub->add_option("--recipient", recipient,
                  "Revoke only this recipient's own link (an address from show, matched "
                  "without regard to case); the other recipients' links keep working");
  sub->add_flag("--json", options.json, "Print the result as JSON");
  return [&options] {
    auto catalog = open_catalog(options);
    if (!catalog) return fail(catalog.error().message);
    store::MessageRecord t;
    if (int rc = find_target(*catalog, id, t); rc != 0) return rc;
    if (!recipient.empty()) return revoke_recipient(*catalog, t, recipient, options.json);
    auto change = catalog->revoke_message_links(t.id, now(), acting_admin());
    if (!change) return fail("revoke: " + change.error().message);
    if (options.json) {
      nlohmann::json j = target_json(t);
      j["revoked"] = change->links;
      std::cout << json_text(j);
    } else if (change->links == 0) {
      std::cout << target_text(t) << ": no link left to revoke (already revoked)\n";
    } else {
      std::cout << target_text(t) << ": revoked " << change->links << " link"
                << (change->links == 1 ? "" : "s")
                << "; the next purge deletes its files (attachgate purge)\n";
    }
    return 0;
  };
}

Runner add_extend_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand(
      "extend", "Give a message's links more time: each expires DURATION after its current "
                "expiry, or after now if it has expired already. Revoked links stay revoked, "
                "and the download limit is unchanged");
  static std::string id, duration;
  sub->add_option("ID", id, "Message id (from list or the X-Attachgate header) or Postfix queue id")
      ->required();
  sub->add_option("DURATION", duration, "How much longer: 90s, 30m, 12h, 7d, 2w")->required();
  sub->add_flag("--json", options.json, "Print the result as JSON");
  return [&options] {
    auto seconds = parse_duration(duration);
    if (!seconds || *seconds <= 0)
      return fail("extend: '" + duration +
                  "' is not a duration of 1s or more; write e.g. 12h, 7d or 2w");
    auto catalog = open_catalog(options);
    if (!catalog) return fail(catalog.error().message);
    store::MessageRecord t;
    if (int rc = find_target(*catalog, id, t); rc != 0) return rc;
    auto change = catalog->extend_message_links(t.id, *seconds, now(), acting_admin());
    if (!change) return fail("extend: " + change.error().message);
    if (options.json) {
      nlohmann::json j = target_json(t);
      j["extended"] = change->links;
      j["expires_at"] = change->links ? nlohmann::json(iso_time(change->expires_at)) : nullptr;
      std::cout << json_text(j);
    }
    if (change->links == 0) {
      std::cerr << "attachgate: " << target_text(t)
                << ": its links are revoked, and a revoked link cannot be extended\n";
      return 1;
    }
    if (!options.json)
      std::cout << target_text(t) << ": extended " << change->links << " link"
                << (change->links == 1 ? "" : "s") << " until " << format_time(change->expires_at)
                << " UTC\n";
    return 0;
  };
}

Runner add_resend_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand(
      "resend", "Send one recipient a new link, when theirs is lost or used up: their old link "
                "is revoked, and a new one to the same files, with the same download limit and "
                "access code and as long a lifetime from now, goes out through the notify role "
                "(the same MTA service as recipient copies). Recorded in the trail");
  static std::string id, recipient;
  sub->add_option("ID", id, "Message id (from list or the X-Attachgate header) or Postfix queue id")
      ->required();
  sub->add_option("--recipient", recipient,
                  "The recipient's address, as show lists it (matched without regard to case)")
      ->required();
  sub->add_flag("--json", options.json, "Print the result as JSON");
  return [&options] {
    // The whole store: the new token is hashed with the master key, and
    // sealed into the outbox.
    auto store = open_store(options);
    if (!store) return fail(store.error().message);
    store::AdminCatalog& catalog = (*store)->catalog;
    store::MessageRecord t;
    if (int rc = find_target(catalog, id, t); rc != 0) return rc;
    auto done = catalog.resend_recipient_link(
        t.id, recipient, store::new_resend_request((*store)->tokens, now(), acting_admin()));
    if (!done) return fail("resend: " + done.error().message);
    switch (done->outcome) {
      case store::ResendOutcome::no_link:
        std::cerr << "attachgate: " << target_text(t) << " has no link of its own for '"
                  << terminal_safe(recipient)
                  << "' (see attachgate show: a shared link cannot be sent to one recipient "
                     "again, and an internal recipient got the attachments in the mail)\n";
        return 1;
      case store::ResendOutcome::no_files:
        std::cerr << "attachgate: " << target_text(t)
                  << ": its files are purged or missing, so there is nothing to send again\n";
        return 1;
      case store::ResendOutcome::too_many:
      case store::ResendOutcome::too_late:  // an admin's resend sets neither bound
      case store::ResendOutcome::sent:
        break;
    }
    if (options.json) {
      nlohmann::json j = target_json(t);
      j["recipient"] = recipient;
      j["expires_at"] = iso_time(done->expires_at);
      j["links"] = done->links;
      std::cout << json_text(j);
    } else {
      std::cout << target_text(t) << ": a new link for " << terminal_safe(recipient)
                << " (until " << format_time(done->expires_at)
                << " UTC) goes out with the notify role's next pass; their old link is revoked\n";
    }
    return 0;
  };
}

Runner add_stats_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand(
      "stats", "Messages offloaded, files, bytes and completed downloads per UTC day, and what "
               "is stored now. Counts what the catalog still holds (see event_retention)");
  static int days = 14;
  sub->add_option("--days", days, "How many days, ending today")
      ->check(CLI::Range(1, 3660))->capture_default_str();
  sub->add_flag("--json", options.json, "Print a JSON object");
  return [&options] {
    auto catalog = open_catalog(options);
    if (!catalog) return fail(catalog.error().message);
    auto by_day = catalog->stats_by_day(days, now());
    if (!by_day) return fail("stats: " + by_day.error().message);
    auto stored = catalog->stored_totals();
    if (!stored) return fail("stats: " + stored.error().message);
    std::cout << (options.json ? json_text(stats_json(*by_day, *stored))
                               : stats_text(*by_day, *stored));
    return 0;
  };
}

Runner add_events_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand(
      "events", "A message's audit trail (offloaded, viewed, downloaded, revoked, ...), oldest "
                "first, as CSV for a spreadsheet or JSON for scripts");
  static std::string id, format = "csv";
  sub->add_option("ID", id, "Message id (from list or the X-Attachgate header) or Postfix queue id")
      ->required();
  sub->add_option("--format", format,
                  "csv (RFC 4180: quoted where needed; text starting like a formula gets a "
                  "leading ') or json")
      ->check(CLI::IsMember({"csv", "json"}))->capture_default_str();
  sub->add_flag("--json", options.json, "Same as --format json");
  return [&options] {
    auto catalog = open_catalog(options);
    if (!catalog) return fail(catalog.error().message);
    auto detail = catalog->show_message(id);
    if (!detail) return fail("events: " + detail.error().message);
    if (!*detail) return not_found(id);
    const bool json = options.json || format == "json";
    std::cout << (json ? json_text(events_json(**detail)) : events_csv(**detail));
    return 0;
  };
}

}  // namespace attachgate::app
