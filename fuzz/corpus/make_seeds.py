#!/usr/bin/env python3
"""fuzz/corpus/make_seeds.py - writes the seed corpora in fuzz/corpus/<harness>/.

The seeds are small, real-looking inputs: each harness's fuzzer mutates them
rather than starting from nothing. Run from anywhere; it rewrites the files
it owns and leaves any others (crash reproducers added by hand) alone.
"""
import base64
import binascii
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(harness, name, data):
    d = os.path.join(HERE, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


PDF = b"%PDF-1.4 seed \x00\x01\x02\xff\xfe binary tail\n" * 3
B64 = base64.encodebytes(PDF).decode()
HEAD = ("From: Alice <alice@example.org>\nTo: Bob <bob@example.net>\n"
        "Date: Sun, 22 Nov 2026 10:00:00 +0000\nMessage-ID: <seed@example.org>\n"
        "Subject: {subject}\nMIME-Version: 1.0\n")


def mixed(parts, boundary="b1", subject="Report", preamble="", epilogue=""):
    body = preamble
    for p in parts:
        body += f"--{boundary}\n{p}\n"
    body += f"--{boundary}--\n{epilogue}"
    return (HEAD.format(subject=subject) +
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n' + body)


TEXT = "Content-Type: text/plain; charset=utf-8\n\nHello, the file is attached.\n"


def attachment(name_headers, encoding, payload, ctype="application/pdf"):
    return (f"Content-Type: {ctype}\n{name_headers}\n"
            f"Content-Transfer-Encoding: {encoding}\n\n{payload}")


# --- processor: whole messages, one per transfer encoding and MIME shape ---
P = "processor"
write(P, "base64.eml", mixed([TEXT, attachment('Content-Disposition: attachment; filename="q3.pdf"', "base64", B64)]))
qp = "=25PDF-1.4 seed =00=01=02=FF=FE binary tail=\n" + "=\n" * 20 + "more=3D text=20\nEND"
write(P, "quoted_printable_soft_breaks.eml", mixed([TEXT, attachment('Content-Disposition: attachment; filename="q.pdf"', "quoted-printable", qp)]))
write(P, "qp_lowercase_hex.eml", mixed([TEXT, attachment('Content-Disposition: attachment; filename="l.bin"', "quoted-printable", "=e2=82=ac=3d=\nend=", "application/octet-stream")]))
uu = ("begin 644 data.bin\n" + "".join(binascii.b2a_uu(PDF[i:i + 45], backtick=True).decode()
                                       for i in range(0, len(PDF), 45)) + "`\nend\n")
write(P, "uuencode.eml", mixed([TEXT, attachment('Content-Disposition: attachment; filename="data.bin"', "x-uuencode", uu, "application/octet-stream")]))
write(P, "7bit_8bit_binary.eml", mixed([TEXT,
    attachment('Content-Disposition: attachment; filename="a.txt"', "7bit", "plain ascii\n", "text/plain"),
    attachment('Content-Disposition: attachment; filename="b.csv"', "8bit", "caf\u00e9;1\n", "text/csv"),
    attachment('Content-Disposition: attachment; filename="c.bin"', "binary", "\x01\x02\x7f\n", "application/octet-stream")]))
write(P, "alternative_inline_image.eml", mixed([
    'Content-Type: multipart/alternative; boundary="alt"\n\n--alt\nContent-Type: text/plain\n\nhi\n--alt\n'
    'Content-Type: text/html\n\n<p>hi</p>\n--alt--\n',
    attachment('Content-Disposition: inline; filename="logo.png"\nContent-ID: <logo@x>', "base64", "iVBORw0KGgo=\n", "image/png")]))
write(P, "forwarded_rfc822.eml", mixed([TEXT,
    "Content-Type: message/rfc822\nContent-Disposition: inline\n\nFrom: carol@example.com\nSubject: inner\n"
    'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="in"\n\n--in\nContent-Type: text/plain\n\ninner\n--in\n'
    + attachment('Content-Disposition: attachment; filename="inner.pdf"', "base64", B64) + "--in--\n"]))
write(P, "rfc2231_rfc2047_names.eml", mixed([TEXT,
    attachment("Content-Disposition: attachment;\n filename*0*=UTF-8''%E2%82%AC%20rates;\n filename*1*=%20Q3.pdf", "base64", B64),
    attachment('Content-Disposition: attachment; filename="=?ISO-8859-1?Q?r=E9sum=E9.pdf?="', "base64", B64)]))
write(P, "missing_closing_boundary.eml", mixed([TEXT, attachment('Content-Disposition: attachment; filename="x.pdf"', "base64", B64)]).rsplit("--b1--", 1)[0])
write(P, "signed.eml", HEAD.format(subject="signed") +
      'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="s"\n\n'
      "--s\n" + TEXT + "--s\nContent-Type: application/pkcs7-signature; name=smime.p7s\nContent-Transfer-Encoding: base64\n\nMIIB\n--s--\n")
write(P, "digest.eml", HEAD.format(subject="digest") + 'Content-Type: multipart/digest; boundary="d"\n\n'
      "--d\n\nFrom: x@example.com\nSubject: one\n\nbody one\n--d\n\nFrom: y@example.com\nSubject: two\n\nbody two\n--d--\n")
write(P, "single_part_attachment.eml", HEAD.format(subject="[secure] single") +
      'Content-Type: application/zip; name="a.zip"\nContent-Disposition: attachment\nContent-Transfer-Encoding: base64\n\n' + B64)

# --- structure_check: first line the top-level Content-Type, then the body ---
S = "structure_check"
def body_of(eml):
    return eml.split("\n\n", 1)[1]
write(S, "mixed.txt", 'multipart/mixed; boundary="b1"\n' + body_of(mixed([TEXT, attachment('Content-Disposition: attachment; filename="q3.pdf"', "base64", B64)], preamble="This is a multi-part message in MIME format.\n", epilogue="epilogue\n")))
write(S, "nested.txt", 'multipart/mixed; boundary=outer\n--outer\nContent-Type: multipart/alternative;\n boundary="inner"\n\n'
      "pre\n--inner\nContent-Type: text/plain\n\na\n--inner\nContent-Type: text/html\n\n<b>a</b>\n--outer\nContent-Type: image/gif\n\nGIF89a\n--outer--\n")
write(S, "rfc822_inside.txt", 'multipart/mixed; boundary="m"\n--m\nContent-Type: message/rfc822\n\nSubject: in\n'
      'Content-Type: multipart/mixed; boundary="n"\n\n--n\n\nx\n--n--\n--m\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoK\n--m--\n')
write(S, "digest.txt", 'multipart/digest; boundary="d"\n--d\n\nSubject: one\n\nbody\n--d\nContent-Type: text/plain\n\nnot a message\n--d--\n')
write(S, "boundary_lookalikes.txt", "multipart/mixed; boundary=\"frontier\" (comment)\n--frontier\nContent-Type: text/plain\n\n--frontier-x\n--frontier \t\n"
      "Content-Type: text/plain\n\n--frontierX\n--frontier--   \n")
write(S, "header_folding.txt", 'Multipart/Mixed; charset=x; BOUNDARY = "q;\\"z"\n--q;"z\nContent-Type: multipart/related;\n\tboundary=\n  r2\nX-Long: a\n b\n\n--r2\n\nz\n--r2--\n--q;"z--\n')
write(S, "rfc2231_boundary.txt", "multipart/mixed; boundary*=utf-8''b%41\n--bA\n\nx\n--bA--\n")
write(S, "unterminated.txt", 'multipart/mixed; boundary="u"\n--u\nContent-Type: multipart/mixed; boundary="v"\n\n--v\nContent-Type: text/plain\n')

# --- part_filename: messages whose interest is in the name headers ---
F = "part_filename"
names = {
    "quoted.eml": 'Content-Disposition: attachment; filename="report final.pdf"',
    "rfc2231_continuation.eml": "Content-Disposition: attachment;\n filename*0*=UTF-8''%E2%82%AC%20ex;\n filename*1=change.pdf",
    "rfc2231_latin1.eml": "Content-Disposition: attachment; filename*=iso-8859-1'fr'r%E9sum%E9.doc",
    "rfc2047_quoted.eml": 'Content-Disposition: attachment; filename="=?UTF-8?B?0L7RgtGH0ZHRgi5wZGY=?="',
    "rfc2047_bad_charset.eml": 'Content-Type: application/pdf; name="=?x-unknown?Q?caf=E9.pdf?="',
    "bidi_override.eml": 'Content-Disposition: attachment; filename="invoice\u202egpj.exe"',
    "path_and_device.eml": 'Content-Disposition: attachment; filename="..\\\\..\\\\CON.txt"',
    "name_only.eml": 'Content-Type: image/jpeg; name=photo.JPG',
    "raw_8bit.eml": b'Content-Disposition: attachment; filename="\xe9t\xe9 \xff.pdf"'.decode("latin-1"),
    "long_name.eml": 'Content-Disposition: attachment; filename="' + "a" * 300 + '.tar.gz"',
}
for fname, hdr in names.items():
    data = (HEAD.format(subject="names") + 'Content-Type: multipart/mixed; boundary="n"\n\n--n\n'
            + hdr + "\n\nxx\n--n--\n")
    write(F, fname, data.encode("latin-1") if fname == "raw_8bit.eml" else data)

# --- multipart: first line the request's Content-Type, then the body ---
M = "multipart"
def form(parts, b="----WebKitFormBoundary7MA4YWxkTrZu0gW"):
    s = "".join(f"--{b}\r\n{h}\r\n\r\n{v}\r\n" for h, v in parts)
    return f"multipart/form-data; boundary={b}\n{s}--{b}--\r\n"
write(M, "upload.txt", form([('Content-Disposition: form-data; name="expires_days"', "7"),
                             ('Content-Disposition: form-data; name="file"; filename="q3.pdf"\r\nContent-Type: application/pdf', PDF.decode("latin-1"))]))
write(M, "two_files.txt", form([('Content-Disposition: form-data; name="file"; filename="a.txt"', "aaa"),
                                ('Content-Disposition: form-data; name="file"; filename="b \\"q\\".txt"', "b\r\n--not")], b="xYz"))
write(M, "quoted_boundary.txt", 'multipart/form-data; charset=utf-8; boundary="a b:c"\npreamble\r\n--a b:c  \r\n'
      'content-disposition: form-data; name=n\r\n\r\nv\r\n--a b:c--\r\nepilogue')
write(M, "truncated.txt", "multipart/form-data; boundary=t\n--t\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\npartial")

# --- web_headers: Range values, form bodies, names for Content-Disposition ---
W = "web_headers"
for i, v in enumerate(["bytes=0-499", "bytes=-500", "bytes=9500-", "Bytes = 0-0 ,", "bytes=0-1,5-9",
                       "bytes=18446744073709551615-", "items=0-1",
                       "code=1234567890&next=%2Fd%2Fabc", "a=1&a=2&&b=%E2%82%AC+x",
                       "report (final) v2.PDF", "\u202eexe.pdf", "..\\..\\nul", "caf\u00e9 \u2014 r\u00e9sum\u00e9.docx",
                       "application/x-www-form-urlencoded; charset=UTF-8",
                       "multipart/form-data; boundary=\"xyz\"", "image/svg+xml"]):
    write(W, f"seed{i:02d}.txt", v)

# --- config: policy and service config files ---
C = "config"
write(C, "policy.toml", '''on_error = "tempfail"
internal_domains = ["example.org", "corp.example"]
receipts = true
download_notice = "first"

[defaults]
expires = "7d"
max_downloads = 3
track_opens = true

[[rule]]
name = "secure-tag"
subject_tag = "[secure]"
action = "offload"
access_code = true
expires = "3d"

[[rule]]
name = "archives"
filenames = ["*.zip", "*.7z", "report-??.pdf"]
mime_types = ["application/*"]
senders = ["*@example.org"]
min_size = "1MB"
action = "offload"

[[rule]]
name = "internal-only"
recipients = "all_internal"
action = "keep"
''')
write(C, "service.toml", '''state_dir = "/var/lib/attachgate"
templates_dir = "/usr/share/attachgate/templates"
public_url = "https://files.example.com"

[milter]
listen = "inet:8890@127.0.0.1"

[http]
listen = "127.0.0.1:8080"
max_upload = "1GB"

[limits]
max_message_size = "50MB"
max_mime_depth = 32
max_mime_parts = 500

[notify]
from = "attachgate@example.com"
relay = "smtp://127.0.0.1:25"

[watch]
log = "/var/log/mail.log"
''')
write(C, "errors.toml", 'on_error = tempfail\n[[rule]]\nname = 1\nexpires = "3 fortnights"\nunknown = [1, [2, [3]]]\n')
write(C, "glob.txt", b"*.p?f\x00Report.PDF")

# --- postfix_log: log lines ---
L = "postfix_log"
lines = [
    "Nov 23 18:00:32 mx postfix/smtp[12345]: 4F2A1B3C5D: to=<bob@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ABC)",
    "2026-11-23T18:00:32.123456+01:00 mx postfix/smtp[12345]: 4F2A1B3C5D: to=<bob@example.net>, orig_to=<b, ob@example.net>, relay=none, delay=300, dsn=4.4.1, status=deferred (connect to mx.example.net[192.0.2.1]:25: Connection refused)",
    "Nov  3 01:02:03 mx postfix/local[9]: 4F2A1B3C5D: to=<carol@example.org>, relay=local, dsn=5.1.1, status=bounced (unknown user: \"carol\")",
    "2026-11-23T18:00:32Z mx postfix-out/lmtp[1]: ABCDEF: to=<>, relay=x, status=sent",
    "Nov 23 18:00:32 mx postfix/qmgr[2]: 4F2A1B3C5D: from=<alice@example.org>, size=1234, nrcpt=1 (queue active)",
    "Dec 31 23:59:60 mx postfix/smtp[3]: 4F2A1B3C5D: to=<a@b>, dsn=2.0.0, status=sent (250 ok)",
]
for i, line in enumerate(lines):
    write(L, f"line{i}.txt", line)
