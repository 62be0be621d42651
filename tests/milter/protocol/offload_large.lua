-- tests/milter/protocol/offload_large.lua - a message over 64 KB, sent in
-- several body chunks, whose base64 attachment policy offloads.
--
-- Expects: the body is replaced, X-Attachgate is added with the catalog's
-- message id, and the catalog holds the file under the queue id with the
-- decoded attachment's size and sha256.
local t = dofile(lib_dir .. "/lib.lua")

local boundary = "=_protocol_large"
local attachment = table.concat(t.base64_lines(1300, 4242))  -- ~101 KB base64, 74,100 bytes decoded
local body = "This is a multi-part message in MIME format.\r\n" ..
             t.text_part(boundary, "Here is the quarterly data set.\r\n\r\nRegards, Alice") ..
             t.attachment_head(boundary, "dataset.bin", "application/octet-stream") ..
             attachment ..
             "--" .. boundary .. "--\r\n"
t.check(#body > 64 * 1024, "test message must be over 64 KB")

-- Chunks that cut lines (and the attachment) in odd places.
local chunks = t.chunks(body, 9973)
t.check(#chunks >= 5, "test message must arrive in several body chunks")

local conn = t.connect()
t.send(conn, {
  queue_id = "4PRT1LARGE",
  from = "alice@example.org",
  rcpts = {"bob@partner.example", "dave@client.example"},
  headers = {
    {"From", "Alice <alice@example.org>"},
    {"To", "Bob <bob@partner.example>, Dave <dave@client.example>"},
    {"Subject", "Quarterly data"},
    {"Date", "Tue, 03 Jun 2025 10:00:00 +0000"},
    {"Message-ID", "<large.1@example.org>"},
    {"MIME-Version", "1.0"},
    {"Content-Type", 'multipart/mixed; boundary="' .. boundary .. '"'},
  },
  body = chunks,
})

t.expect_delivered(conn, "large message")
t.check(mt.eom_check(conn, MT_BODYCHANGE), "body was not replaced")
-- A link per recipient: Bob keeps the MTA's message, rewritten with his
-- link; Dave gets a recipient copy with his own instead, so he comes off it.
t.check(mt.eom_check(conn, MT_RCPTDELETE, "<dave@client.example>"), "Dave was not removed")
t.check(not mt.eom_check(conn, MT_RCPTDELETE, "<bob@partner.example>"), "Bob was removed")
t.check(mt.eom_check(conn, MT_HDRADD, "X-Attachgate"), "X-Attachgate was not added")
local header = mt.getheader(conn, "X-Attachgate", 0)
t.check(header ~= nil, "X-Attachgate value not readable")
t.check(mt.getheader(conn, "X-Attachgate", 1) == nil, "X-Attachgate added twice")
-- With SMFIP_HDR_LEADSPC the MTA inserts no space after the colon itself.
local want_prefix = t.leading_space(conn) and "^ " or "^[^ ]"
t.check(header:find(want_prefix), "X-Attachgate value has the wrong leading space: '" .. header .. "'")
local message_id = header:match("^ ?offloaded=1; message=(%S+)$")
t.check(message_id ~= nil, "X-Attachgate value '" .. header .. "' is not 'offloaded=1; message=ID'")
-- The subject carries no tag: it must be left alone.
t.check(not mt.eom_check(conn, MT_HDRCHANGE, "Subject"), "Subject changed without a tag")
mt.disconnect(conn)

-- The catalog: the same message under the queue id, the file's decoded bytes.
local json, ok = t.show("4PRT1LARGE")
t.check(ok, "attachgate show 4PRT1LARGE failed: " .. json)
local message = t.json_section(json, "message")
local files = t.json_section(json, "files")
local links = t.json_section(json, "links")
t.check(t.json_field(message, "id") == message_id,
        "catalog message id differs from the X-Attachgate header: " .. json)
t.check(t.json_field(message, "queue_id") == "4PRT1LARGE", "queue id not recorded: " .. json)
t.check(t.json_field(message, "outcome") == "offloaded", "outcome is not offloaded: " .. json)
t.check(select(2, files:gsub('"sha256"', "")) == 1, "catalog holds other than one file: " .. files)
t.check(t.json_field(files, "filename") == "dataset.bin", "file name not recorded: " .. files)
local sha, size = t.decoded_digest("dataset", attachment)
t.check(t.json_field(files, "size") == size,
        string.format("file size %s, want %d", tostring(t.json_field(files, "size")), size))
t.check(t.json_field(files, "sha256") == sha, "file sha256 differs from the attachment's: " .. files)
-- A link each: 2 downloads each (the first link shown is Bob's); no code
-- without a tag.
t.check(select(2, links:gsub('"max_downloads"', "")) == 2, "not a link per recipient: " .. links)
t.check(t.json_field(links, "max_downloads") == 2, "link max_downloads is not 2: " .. links)
t.check(t.json_field(links, "access_code") == "false", "link asks for an access code: " .. links)

mt.echo("ok: large message offloaded as " .. message_id)
