-- tests/milter/protocol/headers.lua - header changes at end of message.
--
-- A [secure] tag in the Subject is an instruction to the gateway: the milter
-- changes the Subject to the text without the tag (with and without an
-- attachment to offload), adds X-Attachgate only when it offloaded, and
-- writes header values with the leading space exactly when
-- SMFIP_HDR_LEADSPC was negotiated (Postfix adds none itself then).
local t = dofile(lib_dir .. "/lib.lua")

local boundary = "=_protocol_headers"
local small = table.concat(t.base64_lines(30, 7))  -- 1,710 bytes: under min_size

local function with_attachment(note)
  return "This is a multi-part message in MIME format.\r\n" ..
         t.text_part(boundary, note) ..
         t.attachment_head(boundary, "contract.pdf", "application/pdf") .. small ..
         "--" .. boundary .. "--\r\n"
end

local function headers(subject, multipart)
  local h = {
    {"From", "Alice <alice@example.org>"},
    {"To", "Bob <bob@partner.example>"},
    {"Subject", subject},
    {"Date", "Tue, 03 Jun 2025 10:00:00 +0000"},
    {"MIME-Version", "1.0"},
  }
  if multipart then
    h[#h + 1] = {"Content-Type", 'multipart/mixed; boundary="' .. boundary .. '"'}
  else
    h[#h + 1] = {"Content-Type", "text/plain; charset=us-ascii"}
  end
  return h
end

local function expect_subject(conn, want, what)
  t.check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", t.hv(conn, want)),
          what .. ": Subject not changed to '" .. t.hv(conn, want) .. "'")
end

-- 1. Postfix's negotiation: values keep their leading space both ways.
local conn = t.connect()
t.check(t.leading_space(conn), "milter did not take SMFIP_HDR_LEADSPC when offered")

-- 1a. Tagged, with a small attachment the tag rule offloads anyway.
t.send(conn, {
  queue_id = "4PRT2SECURE", from = "alice@example.org", rcpts = {"bob@partner.example"},
  headers = headers("[secure] Quarterly report", true),
  body = {with_attachment("The signed contract is attached.")},
})
t.expect_delivered(conn, "tagged message")
expect_subject(conn, "Quarterly report", "tagged message")
t.check(mt.eom_check(conn, MT_BODYCHANGE), "tagged message: body not replaced")
local header = mt.getheader(conn, "X-Attachgate", 0)
t.check(header ~= nil and header:match("^ offloaded=1; message=%S+$"),
        "tagged message: X-Attachgate is '" .. tostring(header) .. "'")
t.check(not mt.eom_check(conn, MT_HDRADD, "Subject"), "tagged message: Subject added, not changed")

local json, ok = t.show("4PRT2SECURE")
t.check(ok, "attachgate show 4PRT2SECURE failed: " .. json)
t.check(t.json_field(t.json_section(json, "message"), "subject") == "Quarterly report",
        "catalog subject still tagged: " .. json)
t.check(t.json_field(t.json_section(json, "links"), "access_code") == "true",
        "[secure] link has no access code: " .. json)

-- 1b. Same connection, tag in another case, nothing to offload: only the Subject changes.
t.send(conn, {
  queue_id = "4PRT2PLAIN", from = "alice@example.org", rcpts = {"bob@partner.example"},
  headers = headers("Lunch [SECURE] plans", false),
  body = {"See you at noon.\r\n"},
})
t.expect_delivered(conn, "tagged text message")
expect_subject(conn, "Lunch plans", "tagged text message")
t.check(not mt.eom_check(conn, MT_BODYCHANGE), "tagged text message: body replaced")
t.check(not mt.eom_check(conn, MT_HDRADD), "tagged text message: a header was added")
local _, recorded = t.show("4PRT2PLAIN")
t.check(not recorded, "tagged text message: catalog has a message for it")

-- 1c. No tag: no header change at all.
t.send(conn, {
  queue_id = "4PRT2NOTAG", from = "alice@example.org", rcpts = {"bob@partner.example"},
  headers = headers("Security review notes", false),
  body = {"Notes attached inline.\r\n"},
})
t.expect_untouched(conn, "untagged text message")
mt.disconnect(conn)

-- 2. An MTA that does not offer SMFIP_HDR_LEADSPC: values carry no leading space.
local all = math.tointeger(0x1FFFFF)  -- SMFI_CURR_PROT, what miltertest offers by default
conn = t.connect(all & ~math.tointeger(SMFIP_HDR_LEADSPC))
t.check(not t.leading_space(conn), "SMFIP_HDR_LEADSPC negotiated although not offered")
t.send(conn, {
  queue_id = "4PRT2NOSPC", from = "alice@example.org", rcpts = {"bob@partner.example"},
  headers = headers("Re: [secure] contract", true),
  body = {with_attachment("Signed copy attached.")},
})
t.expect_delivered(conn, "tagged message without leading space")
expect_subject(conn, "Re: contract", "tagged message without leading space")
header = mt.getheader(conn, "X-Attachgate", 0)
t.check(header ~= nil and header:match("^offloaded=1; message=%S+$"),
        "without leading space: X-Attachgate is '" .. tostring(header) .. "'")
mt.disconnect(conn)

mt.echo("ok: subject tags removed, header values spaced as negotiated")
