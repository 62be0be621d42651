// store/catalog_schema.h - the catalog's migrations, oldest first.
//
// Migration N (1-based) takes user_version N-1 to N. Never edit a shipped
// migration: add the next one.
#pragma once

namespace attachgate::store {

inline constexpr const char* kMigrations[] = {
    // 1: messages, recipients, files, links, link_files, events.
    R"sql(
CREATE TABLE messages (
  id          INTEGER PRIMARY KEY,
  public_id   TEXT NOT NULL UNIQUE,
  queue_id    TEXT NOT NULL DEFAULT '',
  sender      TEXT NOT NULL DEFAULT '',
  subject     TEXT NOT NULL DEFAULT '',
  auth_user   TEXT NOT NULL DEFAULT '',
  client_addr TEXT NOT NULL DEFAULT '',
  outcome     TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX messages_queue_id ON messages(queue_id);
CREATE INDEX messages_created ON messages(created_at);

CREATE TABLE recipients (
  id         INTEGER PRIMARY KEY,
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  address    TEXT NOT NULL
);
CREATE INDEX recipients_message ON recipients(message_id);

CREATE TABLE files (
  id           INTEGER PRIMARY KEY,
  public_id    TEXT NOT NULL UNIQUE,
  message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  filename     TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size         INTEGER NOT NULL CHECK (size >= 0),
  sha256       TEXT NOT NULL,
  blob_id      TEXT NOT NULL UNIQUE,
  state        TEXT NOT NULL DEFAULT 'stored' CHECK (state IN ('stored', 'missing', 'purged')),
  created_at   INTEGER NOT NULL
);
CREATE INDEX files_message ON files(message_id);

CREATE TABLE links (
  id            INTEGER PRIMARY KEY,
  message_id    INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  token_hash    BLOB NOT NULL UNIQUE,
  pixel_id      TEXT NOT NULL UNIQUE,
  recipient     TEXT,
  expires_at    INTEGER NOT NULL,
  max_downloads INTEGER NOT NULL CHECK (max_downloads >= 1),
  code_hash     TEXT,
  track_opens   INTEGER NOT NULL DEFAULT 1,
  failed_codes  INTEGER NOT NULL DEFAULT 0,
  locked_until  INTEGER NOT NULL DEFAULT 0,
  revoked_at    INTEGER,
  created_at    INTEGER NOT NULL
);
CREATE INDEX links_message ON links(message_id);

CREATE TABLE link_files (
  link_id   INTEGER NOT NULL REFERENCES links(id) ON DELETE CASCADE,
  file_id   INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  downloads INTEGER NOT NULL DEFAULT 0 CHECK (downloads >= 0),
  PRIMARY KEY (link_id, file_id)
) WITHOUT ROWID;

CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  message_id  INTEGER REFERENCES messages(id) ON DELETE SET NULL,
  file_id     INTEGER REFERENCES files(id) ON DELETE SET NULL,
  link_id     INTEGER REFERENCES links(id) ON DELETE SET NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('offloaded', 'delivered', 'deferred', 'bounced',
                'opened', 'viewed', 'downloaded', 'denied', 'expired', 'revoked', 'purged')),
  at          INTEGER NOT NULL,
  recipient   TEXT NOT NULL DEFAULT '',
  remote_addr TEXT NOT NULL DEFAULT '',
  user_agent  TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_message ON events(message_id, at);
CREATE INDEX events_at ON events(at);
)sql",
    // 2: downloads in progress or done: the claim's ticket, for resuming.
    R"sql(
CREATE TABLE downloads (
  id           INTEGER PRIMARY KEY,
  ticket_hash  BLOB NOT NULL UNIQUE,
  link_id      INTEGER NOT NULL REFERENCES links(id) ON DELETE CASCADE,
  is_zip       INTEGER NOT NULL DEFAULT 0,
  claimed_at   INTEGER NOT NULL,
  resume_until INTEGER NOT NULL,
  completed_at INTEGER,
  remote_addr  TEXT NOT NULL DEFAULT '',
  user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX downloads_link ON downloads(link_id);

CREATE TABLE download_files (
  download_id INTEGER NOT NULL REFERENCES downloads(id) ON DELETE CASCADE,
  file_id     INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  PRIMARY KEY (download_id, file_id)
) WITHOUT ROWID;
CREATE INDEX download_files_file ON download_files(file_id);
)sql",
    // 3: the sender's status page and notice choice, the outbox (receipts,
    // download notices, webhooks waiting to go out), the delivery watcher's
    // place in the Postfix log, and an 'extended' event kind.
    R"sql(
ALTER TABLE messages ADD COLUMN status_token_hash BLOB;
ALTER TABLE messages ADD COLUMN download_notice TEXT NOT NULL DEFAULT 'never'
  CHECK (download_notice IN ('never', 'first', 'every'));
CREATE UNIQUE INDEX messages_status_token ON messages(status_token_hash);

CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('receipt', 'download notice', 'webhook')),
  message_id      INTEGER REFERENCES messages(id) ON DELETE CASCADE,
  target          TEXT NOT NULL,
  payload         BLOB NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER,
  failed_at       INTEGER
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

CREATE TABLE watch_position (
  log_path   TEXT PRIMARY KEY,
  device     INTEGER NOT NULL,
  inode      INTEGER NOT NULL,
  offset     INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE events_v3 (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: webhooks follow ids
  message_id  INTEGER REFERENCES messages(id) ON DELETE SET NULL,
  file_id     INTEGER REFERENCES files(id) ON DELETE SET NULL,
  link_id     INTEGER REFERENCES links(id) ON DELETE SET NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('offloaded', 'delivered', 'deferred', 'bounced',
                'opened', 'viewed', 'downloaded', 'denied', 'expired', 'revoked', 'purged',
                'extended')),
  at          INTEGER NOT NULL,
  recipient   TEXT NOT NULL DEFAULT '',
  remote_addr TEXT NOT NULL DEFAULT '',
  user_agent  TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT ''
);
INSERT INTO events_v3 SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_v3 RENAME TO events;
CREATE INDEX events_message ON events(message_id, at);
CREATE INDEX events_at ON events(at);
)sql",
    // 4: the webhook feed's place in the events table: the last event id
    // already turned into webhook rows. One row, absent until webhooks are
    // first configured (then it starts at the newest event: no history).
    R"sql(
CREATE TABLE webhook_cursor (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  last_event_id INTEGER NOT NULL
);
)sql",
    // 5: a ticket carries one transfer at a time. The transfer holding the
    // ticket is named by lease_owner until lease_until (Unix seconds); it
    // renews the lease while it sends, and a lease that a crashed process
    // left runs out, so the recipient can resume.
    R"sql(
ALTER TABLE downloads ADD COLUMN lease_owner TEXT;
ALTER TABLE downloads ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
)sql",
    // 6: the master key's check value (an HMAC of a fixed label, never the
    // key), written on the first start with a key; a start with a key whose
    // check value differs is refused. Outbox payloads are sealed from now
    // on; rows left in clear are sealed by the first start (set_outbox_key).
    R"sql(
CREATE TABLE key_check (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  value      BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
)sql",
    // 7: links per recipient. A recipient copy is the mail that carries one
    // recipient's own link when the MTA's original went to someone else: a
    // whole message, kept as an encrypted blob (outbox.blob_id) until the
    // notify role has injected it, for the link outbox.link_id. The MTA's
    // queue id for it goes on the link (links.queue_id), so the delivery
    // watcher can match it. New event kinds: queued (a copy reached the MTA)
    // and resent (a sender or admin sent a recipient a fresh link).
    R"sql(
CREATE TABLE outbox_v7 (
  id              INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('receipt', 'download notice', 'webhook',
                    'recipient copy')),
  message_id      INTEGER REFERENCES messages(id) ON DELETE CASCADE,
  target          TEXT NOT NULL,
  payload         BLOB NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER,
  failed_at       INTEGER,
  blob_id         TEXT,
  link_id         INTEGER REFERENCES links(id) ON DELETE SET NULL
);
INSERT INTO outbox_v7 (id, kind, message_id, target, payload, attempts, next_attempt_at,
                       last_error, created_at, sent_at, failed_at)
  SELECT id, kind, message_id, target, payload, attempts, next_attempt_at, last_error,
         created_at, sent_at, failed_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v7 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

ALTER TABLE links ADD COLUMN queue_id TEXT NOT NULL DEFAULT '';
CREATE INDEX links_queue_id ON links(queue_id) WHERE queue_id != '';

CREATE TABLE events_v7 (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: webhooks follow ids
  message_id  INTEGER REFERENCES messages(id) ON DELETE SET NULL,
  file_id     INTEGER REFERENCES files(id) ON DELETE SET NULL,
  link_id     INTEGER REFERENCES links(id) ON DELETE SET NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('offloaded', 'delivered', 'deferred', 'bounced',
                'opened', 'viewed', 'downloaded', 'denied', 'expired', 'revoked', 'purged',
                'extended', 'queued', 'resent')),
  at          INTEGER NOT NULL,
  recipient   TEXT NOT NULL DEFAULT '',
  remote_addr TEXT NOT NULL DEFAULT '',
  user_agent  TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT ''
);
INSERT INTO events_v7 SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_v7 RENAME TO events;
CREATE INDEX events_message ON events(message_id, at);
CREATE INDEX events_at ON events(at);
)sql",
    // 8: "send again". A fresh link is the mail that carries a recipient's
    // new link after the sender or an admin re-issued it; its payload holds
    // the new token (sealed) until it is sent, and link_id names the link.
    // And the message's Message-ID header, to tell a retry of a message
    // whose recipient copies went out already (see Catalog::copy_queued),
    // and an index of the outbox by message.
    R"sql(
CREATE TABLE outbox_v8 (
  id              INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('receipt', 'download notice', 'webhook',
                    'recipient copy', 'fresh link')),
  message_id      INTEGER REFERENCES messages(id) ON DELETE CASCADE,
  target          TEXT NOT NULL,
  payload         BLOB NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER,
  failed_at       INTEGER,
  blob_id         TEXT,
  link_id         INTEGER REFERENCES links(id) ON DELETE SET NULL
);
INSERT INTO outbox_v8 SELECT * FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v8 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
-- release_outbox, a retry's earlier attempt (copy_queued) and the cascade
-- of remove_message look rows up by message: without it, a scan of every
-- row ever sent, per message.
CREATE INDEX outbox_message ON outbox(message_id);

ALTER TABLE messages ADD COLUMN header_message_id TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_header_id ON messages(sender, header_message_id) WHERE header_message_id != '';
)sql",
    // 9: the indexes PostgreSQL's schema has had from its first version, for
    // the lookups by file and by link. A purge asks for every stored file
    // whether a link can still download it (catalog_purge.cc), and deleting
    // a message (the milter's undo, forgetting old messages) cascades to
    // link_files by file and sets events and outbox rows' file_id and
    // link_id to NULL: without these, each was a scan of the whole table
    // (EXPLAIN QUERY PLAN: SCAN lf), so a purge grew with the square of the
    // catalog (bench/run --only growth).
    R"sql(
CREATE INDEX link_files_file ON link_files(file_id);
CREATE INDEX events_file ON events(file_id);
CREATE INDEX events_link ON events(link_id);
CREATE INDEX outbox_link ON outbox(link_id);
)sql",
};

}  // namespace attachgate::store
