-- tests/milter/protocol/lib.lua - shared steps for the miltertest scripts.
--
-- run.sh passes the daemon's socket, its state directory and the attachgate
-- binary as Lua globals (miltertest -D). Every check that fails raises a
-- Lua error, which makes miltertest exit non-zero; nothing here retries or
-- skips. Messages are built in memory: a deterministic base64 attachment
-- and a few MIME skeletons.
--
-- Two limits of miltertest 1.6.0 (Debian 12) shape these tests:
--  - mt.eom reads each reply packet into a 1,024-byte stack buffer without
--    a bound, so a replacement body over ~1 KB crashes miltertest ("stack
--    smashing detected"). Messages that get rewritten here keep their text
--    part short and have no HTML part, so the new body stays under 1 KB.
--  - The new body's text cannot be read back (MT_BODYCHANGE compares the
--    whole body, and it holds a random token), so the scripts check the
--    replacement happened and cross-check the catalog; the golden tests
--    check the rewritten text.

local M = {}

M.socket = assert(socket, "run with -D socket=inet:PORT@127.0.0.1")
M.state_dir = assert(state_dir, "run with -D state_dir=DIR")
M.attachgate = assert(attachgate, "run with -D attachgate=PATH")
M.work_dir = assert(work_dir, "run with -D work_dir=DIR")

-- SMFIC_BODYEOB and SMFIC_EOH are not exported by miltertest; mt.macro
-- takes any command byte, and Postfix sends {i} with both.
M.SMFIC_EOH = string.byte("N")
M.SMFIC_BODYEOB = string.byte("E")

function M.fail(msg)
  mt.echo("FAIL: " .. msg)
  error(msg, 2)
end

function M.check(cond, msg)
  if not cond then M.fail(msg) end
end

local function reply_name(r)
  if r == nil or r == 0 then return "none" end
  return string.format("'%s'", string.char(math.tointeger(r)))
end

-- Every mt.* step returns nil on success or an error string.
function M.step(what, err)
  if err ~= nil then M.fail(what .. " failed: " .. tostring(err)) end
end

function M.expect_reply(conn, want, what)
  local got = mt.getreply(conn)
  if got ~= want then
    M.fail(string.format("%s: milter replied %s, want %s", what, reply_name(got), reply_name(want)))
  end
end

-- One connection, negotiated with the given protocol options (nil: all
-- that miltertest offers, which includes SMFIP_HDR_LEADSPC, as Postfix does).
function M.connect(protocol_options)
  mt.set_timeout(60)  -- an ASAN build is slow at end of message
  local conn = mt.connect(M.socket, 40, 0.25)
  M.check(conn ~= nil, "cannot connect to " .. M.socket)
  if protocol_options ~= nil then
    M.step("mt.negotiate", mt.negotiate(conn, nil, protocol_options, nil))
  end
  M.step("mt.conninfo", mt.conninfo(conn, "client.example.net", "192.0.2.10"))
  M.expect_reply(conn, SMFIR_CONTINUE, "connect")
  M.check(mt.test_action(conn, SMFIF_ADDHDRS), "milter did not ask for SMFIF_ADDHDRS")
  M.check(mt.test_action(conn, SMFIF_CHGHDRS), "milter did not ask for SMFIF_CHGHDRS")
  M.check(mt.test_action(conn, SMFIF_CHGBODY), "milter did not ask for SMFIF_CHGBODY")
  return conn
end

-- Header values as the MTA sends them: with SMFIP_HDR_LEADSPC the space
-- after the colon is part of the value, and the milter must supply it in
-- the values it adds or changes.
function M.leading_space(conn)
  return mt.test_option(conn, SMFIP_HDR_LEADSPC)
end

function M.hv(conn, value)
  if M.leading_space(conn) then return " " .. value end
  return value
end

-- Sends the envelope, headers and body (a list of chunks, each one
-- SMFIC_BODY packet) and end of message; returns nothing, the caller
-- inspects mt.getreply and mt.eom_check. For stages negotiated as no-reply
-- (SMFIP_NR_CONN, _RCPT, _HDR) miltertest reads nothing and reports
-- continue, so those checks only bite when the MTA did not offer them.
function M.send(conn, msg)
  mt.macro(conn, SMFIC_MAIL, "i", msg.queue_id, "{auth_authen}", msg.auth or "alice",
           "{mail_addr}", msg.from)
  M.step("mt.mailfrom", mt.mailfrom(conn, "<" .. msg.from .. ">"))
  M.expect_reply(conn, SMFIR_CONTINUE, "MAIL FROM")
  for _, rcpt in ipairs(msg.rcpts) do
    mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", rcpt)
    M.step("mt.rcptto", mt.rcptto(conn, "<" .. rcpt .. ">"))
    M.expect_reply(conn, SMFIR_CONTINUE, "RCPT TO " .. rcpt)
  end
  mt.macro(conn, M.SMFIC_EOH, "i", msg.queue_id)
  for _, h in ipairs(msg.headers) do
    M.step("mt.header " .. h[1], mt.header(conn, h[1], M.hv(conn, h[2])))
    M.expect_reply(conn, SMFIR_CONTINUE, "header " .. h[1])
  end
  M.step("mt.eoh", mt.eoh(conn))
  M.expect_reply(conn, SMFIR_CONTINUE, "end of headers")
  for n, chunk in ipairs(msg.body) do
    M.step("mt.bodystring", mt.bodystring(conn, chunk))
    M.expect_reply(conn, SMFIR_CONTINUE, "body chunk " .. n)
  end
  mt.macro(conn, M.SMFIC_BODYEOB, "i", msg.queue_id)
  M.step("mt.eom", mt.eom(conn))
end

-- The reply to end of message: libmilter sends SMFIR_CONTINUE for
-- SMFIS_CONTINUE and SMFIR_ACCEPT for SMFIS_ACCEPT; both deliver.
function M.expect_delivered(conn, what)
  local r = mt.getreply(conn)
  M.check(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT,
          what .. ": end of message reply " .. reply_name(r) .. ", want continue or accept")
end

-- The message must pass with no change at all.
function M.expect_untouched(conn, what)
  M.expect_delivered(conn, what)
  M.check(not mt.eom_check(conn, MT_BODYCHANGE), what .. ": body was replaced")
  M.check(not mt.eom_check(conn, MT_HDRADD), what .. ": a header was added")
  M.check(not mt.eom_check(conn, MT_HDRCHANGE), what .. ": a header was changed or removed")
  M.check(not mt.eom_check(conn, MT_HDRINSERT), what .. ": a header was inserted")
end

-- ---- message parts ---------------------------------------------------------

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- `lines` lines of 76 base64 characters (57 bytes each when decoded),
-- CRLF-terminated. Deterministic, so a failure reproduces.
function M.base64_lines(lines, seed)
  local out = {}
  local x = seed or 12345
  for i = 1, lines do
    local line = {}
    for j = 1, 76 do
      x = (x * 1103515245 + 12345) % 2147483648
      local k = (x >> 16) % 64 + 1
      line[j] = alphabet:sub(k, k)
    end
    out[i] = table.concat(line) .. "\r\n"
  end
  return out
end

function M.text_part(boundary, text)
  return "--" .. boundary .. "\r\n" ..
         "Content-Type: text/plain; charset=utf-8\r\n" ..
         "Content-Transfer-Encoding: 7bit\r\n\r\n" .. text .. "\r\n"
end

function M.attachment_head(boundary, filename, content_type)
  return "--" .. boundary .. "\r\n" ..
         "Content-Type: " .. content_type .. "; name=\"" .. filename .. "\"\r\n" ..
         "Content-Disposition: attachment; filename=\"" .. filename .. "\"\r\n" ..
         "Content-Transfer-Encoding: base64\r\n\r\n"
end

-- Groups lines into chunks of about `size` bytes, so the body reaches the
-- milter in several SMFIC_BODY packets with boundaries inside lines too.
function M.chunks(text, size)
  local out = {}
  for i = 1, #text, size do out[#out + 1] = text:sub(i, i + size - 1) end
  return out
end

-- ---- catalog cross-checks ----------------------------------------------------

function M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.shell_quote = shell_quote

-- Runs a command; returns its stdout and whether it exited 0.
function M.run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok == true
end

-- `attachgate --json show ID`: the catalog's record of a message.
function M.show(id)
  return M.run(shell_quote(M.attachgate) .. " --state-dir " .. shell_quote(M.state_dir) ..
               " --json show " .. shell_quote(id))
end

-- sha256 and decoded size of base64 text, by coreutils.
function M.decoded_digest(name, b64)
  local path = M.work_dir .. "/" .. name
  M.write_file(path .. ".b64", (b64:gsub("\r", "")))
  local out, ok = M.run("base64 -d " .. shell_quote(path .. ".b64") .. " > " .. shell_quote(path) ..
                        " && sha256sum < " .. shell_quote(path) .. " && wc -c < " .. shell_quote(path))
  M.check(ok, "decoding the attachment failed: " .. out)
  local sha, size = out:match("^(%x+)%s.-\n%s*(%d+)")
  M.check(sha ~= nil, "cannot read sha256sum / wc output: " .. out)
  return sha, tonumber(size)
end

-- The object or array under "key" in JSON text (first occurrence), so a
-- field can be looked up inside it: nlohmann sorts keys, and "id" appears in
-- files and links as well as in the message.
function M.json_section(text, key)
  local s = text:match('"' .. key .. '"%s*:%s*(%b{})') or text:match('"' .. key .. '"%s*:%s*(%b[])')
  if s == nil then M.fail('no "' .. key .. '" in ' .. text) end
  return s
end

-- A field of a flat JSON object, as a string ("..." stripped), a number or
-- true/false/null as a string.
function M.json_field(text, key)
  local s = text:match('"' .. key .. '"%s*:%s*"([^"]*)"')
  if s then return s end
  local n = text:match('"' .. key .. '"%s*:%s*(-?%d+)')
  if n then return tonumber(n) end
  local b = text:match('"' .. key .. '"%s*:%s*(%a+)')
  return b
end

return M
