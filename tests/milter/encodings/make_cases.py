#!/usr/bin/env python3
"""Writes the golden transfer-encoding cases in this directory.

Each case is NAME.eml, a message with one attachment "f.bin", and either
NAME.bin, the bytes Python's email package decodes the attachment to (the
milter must store exactly these), or NAME.kept, a phrase of the reason the
milter must log when it keeps the attachment in the mail because mail
clients decode the part in different ways. Run it again only to add a case;
review the diff of the files it writes.

Usage: python3 tests/milter/encodings/make_cases.py
"""
import base64
import binascii
import email
import email.policy
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
CRLF = b"\r\n"


def message(cte, body):
    headers = (b"Content-Type: application/octet-stream; name=\"f.bin\"\r\n"
               b"Content-Disposition: attachment; filename=\"f.bin\"\r\n")
    if cte is not None:
        for value in (cte if isinstance(cte, list) else [cte]):
            headers += b"Content-Transfer-Encoding: " + value.encode() + CRLF
    return (b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n"
            b"Subject: encoding case\r\nMessage-ID: <encoding-case@example.org>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
            b"--b\r\n" + headers + CRLF + body + b"\r\n--b--\r\n")


def python_decodes(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in msg.walk():
        if part.get_filename() == "f.bin":
            return part.get_payload(decode=True)
    raise SystemExit("Python sees no attachment")


def uuencode(data, line=45):
    out = b"begin 644 f.bin\r\n"
    for i in range(0, len(data), line):
        out += binascii.b2a_uu(data[i:i + line]).rstrip(b"\n") + CRLF
    return out + b"`\r\nend"


def lines(flat, width):
    return CRLF.join(flat[i:i + width] for i in range(0, len(flat), width))


rng = random.Random(13)
pdfish = b"%PDF-1.4 golden\n" + bytes(rng.randrange(256) for _ in range(3000))
rand100k = bytes(rng.randrange(256) for _ in range(100000))
text = b"".join(b"line %d of the text file\r\n" % i for i in range(200))

# name: (Content-Transfer-Encoding, body, expected data or None for kept, kept reason)
STORED = {
    # The outside review's reproduction: 1,366 soft breaks that decode to
    # nothing, then 540 lines of 75 'A' with soft breaks, then END.
    "qp_soft_break_run": ("quoted-printable", b"=\r\n" * 1366 + (b"A" * 75 + b"=\r\n") * 540 + b"END"),
    "qp_lowercase_hex": ("quoted-printable", b"caf=c3=a9 =3d =3D na=C3=AFve=\r\nend"),
    "qp_soft_break_at_end": ("quoted-printable", b"no final line break=\r\n"),
    "qp_soft_break_mid_escape_line": ("quoted-printable", b"=41=\r\n=42=\r\n=\r\n=\r\n=43"),
    "qp_binary_bytes": ("quoted-printable", lines(b"".join(b"=%02X" % b for b in pdfish), 75).replace(CRLF, b"=\r\n")),
    "b64_no_padding": ("base64", base64.b64encode(pdfish[:3001]).rstrip(b"=")),
    "b64_long_line": ("base64", base64.b64encode(pdfish)),
    "b64_short_lines": ("base64", lines(base64.b64encode(pdfish), 4)),
    "b64_junk_between": ("base64", lines(base64.b64encode(pdfish), 76).replace(b"A", b"A!*", 10)),
    "b64_upper_case_token": ("BASE64", lines(base64.b64encode(pdfish), 76)),
    "uu_100k_random": ("x-uuencode", uuencode(rand100k)),
    "uu_uuencode_token": ("uuencode", uuencode(pdfish)),
    "uu_short_last_line": ("x-uuencode", uuencode(pdfish[:1000])),
    "7bit_text": ("7bit", text),
    "8bit_text": ("8bit", "Grüße, ça va — ok\r\n".encode() * 40),
    "binary_bytes": ("binary", bytes(b for b in pdfish if b not in (10, 13))),
    "no_encoding_header": (None, text),
}
KEPT = {
    "b64_data_after_padding": ("base64", base64.b64encode(b"ab") + b"Zm9v" + CRLF, "after"),
    "b64_lone_last_char": ("base64", base64.b64encode(pdfish[:300]) + b"Q", "base64"),
    "qp_stray_equals": ("quoted-printable", b"a = b=\r\n" + b"x=ZZy", "'='"),
    "qp_trailing_space": ("quoted-printable", b"text with trailing space \r\nmore", "whitespace"),
    "uu_no_end": ("x-uuencode", uuencode(pdfish[:500])[:-len(b"\r\nend")], "end"),
    "uu_no_begin": ("x-uuencode", uuencode(pdfish[:500]).split(CRLF, 1)[1], "begin"),
    "unknown_x_gzip64": ("x-gzip64", lines(base64.b64encode(pdfish), 76), "unknown Content-Transfer-Encoding"),
    "two_encoding_headers": (["base64", "quoted-printable"], lines(base64.b64encode(pdfish), 76), "Content-Transfer-Encoding"),
}


def main():
    for name in os.listdir(HERE):
        if name.endswith((".eml", ".bin", ".kept")):
            os.remove(os.path.join(HERE, name))
    for name, (cte, body) in STORED.items():
        raw = message(cte, body)
        with open(os.path.join(HERE, name + ".eml"), "wb") as f:
            f.write(raw)
        with open(os.path.join(HERE, name + ".bin"), "wb") as f:
            f.write(python_decodes(raw))
    for name, (cte, body, why) in KEPT.items():
        with open(os.path.join(HERE, name + ".eml"), "wb") as f:
            f.write(message(cte, body))
        with open(os.path.join(HERE, name + ".kept"), "w") as f:
            f.write(why + "\n")
    print("wrote %d stored and %d kept cases" % (len(STORED), len(KEPT)))


if __name__ == "__main__":
    main()
