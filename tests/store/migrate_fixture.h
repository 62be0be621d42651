// tests/store/migrate_fixture.h - a catalog with rows in every table, and
// a table's rows as comparable text, for the migration tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "store/catalog.h"
#include "store/catalog_columns.h"
#include "store/secrets.h"
#include "store/sql.h"

namespace attachgate::store::testing_migrate {

constexpr std::int64_t kNow = 1'790'000'000;

// `messages` offloads, the i-th with blob_ids[i] (or a made-up id): two
// recipients with a link each, a receipt in the outbox, a claimed and
// completed download, an `opened` event; and a watch position, a webhook
// cursor and a key check value.
inline void seed_catalog(Catalog& c, int messages, const std::vector<std::string>& blob_ids = {}) {
  Key key{};
  key[0] = 7;
  ASSERT_TRUE(c.set_outbox_key(key).ok());
  TokenHasher hasher(key);
  for (int i = 0; i < messages; ++i) {
    Offload o;
    o.now = kNow + i;
    o.message = {"Q" + std::to_string(1000 + i), "alice@example.org", "Report \xc3\xa9 " + std::to_string(i),
                 "alice", "192.0.2.7", {"bob@example.net", "carol@example.com"},
                 MessageOutcome::offloaded};
    char id[33];
    std::snprintf(id, sizeof id, "%032x", 0xb10b0000u + static_cast<unsigned>(i));
    const std::string blob = static_cast<std::size_t>(i) < blob_ids.size() ? blob_ids[i] : id;
    o.files.push_back({"report-" + std::to_string(i) + ".pdf", "application/pdf",
                       BlobInfo{blob, 1234u + static_cast<unsigned>(i), std::string(64, 'e')}});
    for (const char* rcpt : {"bob@example.net", "carol@example.com"}) {
      NewLink link;
      link.token_hash = hasher.hash(new_token());
      link.pixel_id = new_public_id(16);
      link.recipient = rcpt;
      link.expires_at = kNow + 7 * 86400;
      link.max_downloads = 2;
      o.links.push_back(link);
    }
    NewOutboxItem receipt;
    receipt.kind = OutboxKind::receipt;
    receipt.target = "alice@example.org";
    receipt.payload = "access code 1234-" + std::to_string(i);
    receipt.now = o.now;
    o.outbox.push_back(receipt);
    o.status_token_hash = hasher.hash(new_token());
    auto ids = c.record_offload(o);
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    auto file = c.find_file(ids->file_public_ids[0]);
    ASSERT_TRUE(file.ok() && *file);
    NewDownload d;
    d.link_id = ids->link_ids[0];
    d.file_ids = {(*file)->id};
    d.ticket_hash = hasher.hash(new_token());
    d.now = o.now + 60;
    d.resume_until = o.now + 3600;
    d.remote_addr = "198.51.100.9";
    auto claimed = c.claim_download(d);
    ASSERT_TRUE(claimed.ok()) << claimed.error().message;
    ASSERT_TRUE(c.complete_download(claimed->download_id, o.now + 61).ok());
    EventRecord opened;
    opened.message_id = ids->message_id;
    opened.link_id = ids->link_ids[1];
    opened.kind = EventKind::opened;
    opened.at = o.now + 5;
    ASSERT_TRUE(c.add_event(opened).ok());
  }
  ASSERT_TRUE(c.save_watch_position({"/var/log/mail.log", 2049, 77, 4096}, kNow).ok());
  ASSERT_TRUE(c.start_webhook_cursor().ok());
  ASSERT_TRUE(c.adopt_key_check(std::string(32, '\x5a'), kNow).ok());
}

// Every row of a table in key order, each value as text (bytes as hex).
inline std::vector<std::string> dump_table(const Db& db, CatalogTable table) {
  const TableColumns& t = columns_of(table);
  std::string cols, order;
  for (std::size_t i = 0; i < t.columns.size(); ++i)
    cols += (i ? ", \"" : "\"") + std::string(t.columns[i].name) + "\"";
  for (int i = 0; i < t.key_columns; ++i)
    order += (i ? ", \"" : "\"") + std::string(t.columns[static_cast<std::size_t>(i)].name) + "\"";
  const std::string sql = "SELECT " + cols + " FROM " + table_name(table) + " ORDER BY " + order;
  Stmt st(db, sql.c_str());
  std::vector<std::string> rows;
  while (st.step().value()) {
    std::string row;
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      const int col = static_cast<int>(i);
      row += i ? "|" : "";
      if (st.is_null(col)) { row += "NULL"; continue; }
      if (t.columns[i].type == ColumnType::integer) { row += std::to_string(st.int64(col)); continue; }
      const std::string v = st.text(col);
      if (t.columns[i].type == ColumnType::text) { row += v; continue; }
      for (unsigned char ch : v) {
        char hex[3];
        std::snprintf(hex, sizeof hex, "%02x", ch);
        row += hex;
      }
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace attachgate::store::testing_migrate
