-- tests/milter/protocol/nothing_to_offload.lua - messages policy keeps whole.
--
-- Three messages on one connection, none with anything to offload: a small
-- attachment to an external recipient, a large one to internal recipients
-- only, and plain text. Each must pass with no body change, no header
-- change or addition, and no catalog row.
local t = dofile(lib_dir .. "/lib.lua")

local boundary = "=_protocol_keep"

local function with_attachment(lines, filename)
  return "This is a multi-part message in MIME format.\r\n" ..
         t.text_part(boundary, "Attached, as promised.") ..
         t.attachment_head(boundary, filename, "application/octet-stream") ..
         table.concat(t.base64_lines(lines, lines)) ..
         "--" .. boundary .. "--\r\n"
end

local function headers(to, multipart)
  return {
    {"From", "Alice <alice@example.org>"},
    {"To", to},
    {"Subject", "Files"},
    {"MIME-Version", "1.0"},
    {"Content-Type", multipart and ('multipart/mixed; boundary="' .. boundary .. '"')
                               or "text/plain; charset=us-ascii"},
  }
end

local conn = t.connect()

-- 1. External recipient, attachment under min_size (1,710 bytes < 32 KB).
t.send(conn, {
  queue_id = "4PRT3SMALL", from = "alice@example.org", rcpts = {"bob@partner.example"},
  headers = headers("bob@partner.example", true),
  body = {with_attachment(30, "small.bin")},
})
t.expect_untouched(conn, "small attachment")

-- 2. Internal recipients only, attachment over min_size (~85 KB), in chunks.
local large = with_attachment(1500, "large.bin")
t.check(#large > 64 * 1024, "internal message must be large")
t.send(conn, {
  queue_id = "4PRT3INTERNAL", from = "alice@example.org",
  rcpts = {"carol@example.org", "dave@EXAMPLE.ORG"},
  headers = headers("carol@example.org, dave@example.org", true),
  body = t.chunks(large, 16384),
})
t.expect_untouched(conn, "internal-only message")

-- 3. Plain text, no MIME structure at all.
t.send(conn, {
  queue_id = "4PRT3TEXT", from = "alice@example.org", rcpts = {"bob@partner.example"},
  headers = headers("bob@partner.example", false),
  body = {"Just text.\r\n", "No attachments here.\r\n"},
})
t.expect_untouched(conn, "plain text message")
mt.disconnect(conn)

for _, qid in ipairs({"4PRT3SMALL", "4PRT3INTERNAL", "4PRT3TEXT"}) do
  local out, found = t.show(qid)
  t.check(not found, qid .. ": catalog has a message for a mail that was kept: " .. out)
  t.check(out:find("no message", 1, true), qid .. ": unexpected answer from show: " .. out)
end

mt.echo("ok: nothing offloaded, nothing changed")
