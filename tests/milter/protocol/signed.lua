-- tests/milter/protocol/signed.lua - signed and encrypted mail is never
-- modified.
--
-- A multipart/signed message with a large attachment inside, to an
-- external recipient and with a [secure] tag (both of which would otherwise
-- offload), and an S/MIME application/pkcs7-mime message: neither may get
-- a body change, a header change (not even the tag removed), or a catalog
-- row.
local t = dofile(lib_dir .. "/lib.lua")

local outer, inner = "=_protocol_signed", "=_protocol_signed_inner"
local signed_body =
  "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n" ..
  "--" .. outer .. "\r\n" ..
  'Content-Type: multipart/mixed; boundary="' .. inner .. '"\r\n\r\n' ..
  t.text_part(inner, "Signed data set attached.") ..
  t.attachment_head(inner, "signed-data.bin", "application/octet-stream") ..
  table.concat(t.base64_lines(1200, 99)) ..
  "--" .. inner .. "--\r\n\r\n" ..
  "--" .. outer .. "\r\n" ..
  'Content-Type: application/pgp-signature; name="signature.asc"\r\n' ..
  "Content-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n" ..
  "-----BEGIN PGP SIGNATURE-----\r\n\r\n" ..
  "iHUEARYKAB0WIQQm2AAAAAAAAAAAAAAAAAAAAAAAAAUCZ0AAAAAKCRAAAAAAAAAA\r\n" ..
  "-----END PGP SIGNATURE-----\r\n" ..
  "--" .. outer .. "--\r\n"
t.check(#signed_body > 64 * 1024, "signed message must be large")

local conn = t.connect()
t.send(conn, {
  queue_id = "4PRT4SIGNED", from = "alice@example.org", rcpts = {"bob@partner.example"},
  headers = {
    {"From", "Alice <alice@example.org>"},
    {"To", "bob@partner.example"},
    {"Subject", "[secure] Signed data"},
    {"MIME-Version", "1.0"},
    {"Content-Type", 'multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; ' ..
                     'boundary="' .. outer .. '"'},
  },
  body = t.chunks(signed_body, 20000),
})
t.expect_untouched(conn, "multipart/signed message")

t.send(conn, {
  queue_id = "4PRT4SMIME", from = "alice@example.org", rcpts = {"bob@partner.example"},
  headers = {
    {"From", "Alice <alice@example.org>"},
    {"To", "bob@partner.example"},
    {"Subject", "[secure] Encrypted"},
    {"MIME-Version", "1.0"},
    {"Content-Type", 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'},
    {"Content-Disposition", 'attachment; filename="smime.p7m"'},
    {"Content-Transfer-Encoding", "base64"},
  },
  body = t.chunks(table.concat(t.base64_lines(1000, 5)), 30000),
})
t.expect_untouched(conn, "application/pkcs7-mime message")
mt.disconnect(conn)

for _, qid in ipairs({"4PRT4SIGNED", "4PRT4SMIME"}) do
  local out, found = t.show(qid)
  t.check(not found, qid .. ": catalog has a message for signed or encrypted mail: " .. out)
end

mt.echo("ok: signed and encrypted mail passed untouched")
