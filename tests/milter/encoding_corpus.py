#!/usr/bin/env python3
"""Random attachments in every transfer encoding, with Python's own reading.

Writes COUNT messages (NNNNN.eml) and a manifest.json into OUT. Each message
holds one or two attachments, each encoded at random in base64,
quoted-printable, x-uuencode, 7bit, 8bit or binary, with the variations
real encoders and transports produce: line lengths, CRLF or bare-LF soft
breaks, long runs of soft breaks, lowercase hex, whitespace runs, missing
padding, backquote or space for zero, and so on.

Each attachment is either "stored" (every mail client reads it alike: the
milter must store exactly the bytes Python's email package decodes, and the
generator checks that those are the bytes it encoded) or "kept" (clients
part ways, or it is not an encoding at all: the milter must leave it in the
mail). The reference is Python's email package, independent of attachgate
and of GMime.

    encoding_corpus.py --out DIR [--count N] [--seed S]
"""
import argparse
import base64
import binascii
import email
import email.policy
import hashlib
import json
import os
import random

CRLF = b"\r\n"


PRINTABLE = bytes(0x20 + b % 0x5F for b in range(256))
EIGHT_BIT = bytes(b if b >= 0x80 else 0x20 + b % 0x5F for b in range(256))
NO_BREAKS = bytes(b if b not in (0x0D, 0x0A) else 0x00 for b in range(256))


def text_bytes(rng, n, eight_bit):
    """Lines of printable text (8-bit bytes too if asked), CRLF between."""
    lines, size = [], 0
    while size < n:
        width = rng.choice([0, 1, 20, 72, 200, rng.randrange(1, 990)])
        chars = rng.randbytes(width).translate(EIGHT_BIT if eight_bit else PRINTABLE)
        if chars.startswith(b"-") or chars.startswith(b"begin"):
            chars = b"x" + chars
        lines.append(chars)
        size += width + 2
    return CRLF.join(lines)


def binary_bytes(rng, n):
    """Any byte, but CR and LF only as CRLF pairs: an MTA keeps nothing else."""
    raw = bytearray(rng.randbytes(n).translate(NO_BREAKS))
    # Pairs at distinct even offsets, so no two overlap into a lone CR or LF.
    for pos in rng.sample(range(0, max(n - 1, 0), 2), min(n // 500, max(n - 1, 0) // 2)):
        raw[pos:pos + 2] = CRLF
    return bytes(raw)


def random_size(rng):
    return rng.choice([0, 1, 2, 3] + [rng.randrange(4, 200)] * 3 + [rng.randrange(200, 5000)] * 4 +
                      [rng.randrange(5000, 30000)] * 2 + [rng.randrange(65000, 140000)])


# --- base64 -----------------------------------------------------------------

def enc_base64(rng, data):
    flat = base64.b64encode(data)
    if rng.random() < 0.2:
        flat = flat.rstrip(b"=")  # missing padding: clients add it
    width = rng.choice([76, 64, 4, 72, rng.randrange(1, 300)])
    lines = [flat[i:i + width] for i in range(0, len(flat), width)]
    noisy = rng.random() < 0.2
    out = []
    for line in lines:
        if noisy:  # white space and junk inside lines: skipped alike
            pos = rng.randrange(len(line) + 1)
            line = line[:pos] + rng.choice([b" ", b"\t", b"  ", b"!", b"*", b"\x00"]) + line[pos:]
        if rng.random() < 0.05:
            line += b"  "  # trailing white space
        out.append(line)
    if rng.random() < 0.1:
        out.append(b"")  # a blank line before the boundary
    return CRLF.join(out)


def enc_base64_doubt(rng, data):
    flat = base64.b64encode(data + b"xy")
    kind = rng.randrange(3)
    if kind == 0:  # two encodings glued: Python stops at the first padding
        flat = base64.b64encode(b"a") + base64.b64encode(data + b"xy")
    elif kind == 1:  # a lone last character: Python returns the text itself
        flat = base64.b64encode(data[:len(data) // 3 * 3]) + b"Q"
    else:  # '=' where no padding can stand
        flat = flat[:1] + b"=" + flat[1:]
    return CRLF.join(flat[i:i + 76] for i in range(0, len(flat), 76))


# --- quoted-printable -------------------------------------------------------

def qp_units(rng, data):
    """Encoded units: one per input byte, CRLF pairs as hard breaks."""
    units, i = [], 0
    while i < len(data):
        b = data[i]
        if data[i:i + 2] == CRLF and rng.random() < 0.8:
            units.append(CRLF)
            i += 2
            continue
        literal = (33 <= b <= 126 and b != ord("=")) or (b in (9, 32) and rng.random() < 0.7)
        if literal and rng.random() < 0.9:
            units.append(bytes([b]))
        else:
            hexed = b"=%02X" % b
            units.append(hexed.lower() if rng.random() < 0.3 else hexed)
        i += 1
    return units


def enc_qp(rng, data):
    eol = CRLF if rng.random() < 0.9 else b"\n"
    soft = b"=" + eol
    width = rng.choice([76, 76, 40, 200, 1000, rng.randrange(2, 120)])
    out, line = bytearray(), bytearray()
    for unit in qp_units(rng, data):
        if unit == CRLF:
            out += line + CRLF
            line = bytearray()
            continue
        if len(line) + len(unit) > width - 1 or rng.random() < 0.01:
            out += line + soft
            line = bytearray()
        if rng.random() < 0.002:  # a run of soft breaks that decodes to nothing
            out += soft * rng.choice([1, 2, 50, 1366, 3000])
        line += unit
    out += line
    if rng.random() < 0.2:
        out += soft.rstrip(b"\r\n") if rng.random() < 0.5 else soft  # soft break at the very end
    # White space the encoder left unencoded must not end a line.
    fixed = bytearray()
    for i, b in enumerate(out):
        nxt = out[i + 1] if i + 1 < len(out) else None
        if b in (9, 32) and nxt in (13, 10, None):
            fixed += b"=%02X" % b
        else:
            fixed.append(b)
    return bytes(fixed)


def enc_qp_doubt(rng, data):
    good = enc_qp(rng, data + b"tail")
    kind = rng.randrange(4)
    pos = rng.randrange(len(good) + 1)
    while 0 < pos < len(good) and (good[pos - 1:pos] == b"=" or good[pos - 2:pos - 1] == b"="):
        pos -= 1
    if kind == 0:
        return good[:pos] + b"=G1" + good[pos:]  # stray '='
    if kind == 1:
        return good[:pos] + b"==41" + good[pos:]
    if kind == 2:
        return good + b"\r\nwhite space at the end \r\nx"  # RFC: delete it; Python: keep it
    return good + b"= \r\nmore"  # transport padding after a soft break


# --- x-uuencode ---------------------------------------------------------------

def uu_line(chunk, backquote):
    if len(chunk) <= 45:
        return binascii.b2a_uu(chunk, backtick=backquote).rstrip(b"\n")
    # Up to 63 bytes a line is legal, but binascii writes at most 45.
    def char(v):
        return 0x60 if v == 0 and backquote else 0x20 + v
    out = bytearray([char(len(chunk))])
    padded = chunk + bytes(-len(chunk) % 3)
    for i in range(0, len(padded), 3):
        bits = int.from_bytes(padded[i:i + 3], "big")
        out += bytes(char(bits >> s & 63) for s in (18, 12, 6, 0))
    return bytes(out)


def enc_uu(rng, data):
    eol = CRLF if rng.random() < 0.9 else b"\n"
    per_line = rng.choice([45, 45, 1, 30, 63, rng.randrange(1, 46)])
    backquote = rng.random() < 0.7
    out = []
    if rng.random() < 0.1:
        out += [b"", b"  "]
    out.append(b"begin %o %s" % (rng.choice([0o644, 0o600, 0o755]), rng.choice([b"data.bin", b"a b.txt", b"x"])))
    for i in range(0, len(data), per_line):
        out.append(uu_line(data[i:i + per_line], backquote))
    if rng.random() < 0.8:
        out.append(b"`" if backquote else b" ")
    out.append(rng.choice([b"end", b"end", b"end  "]))
    if rng.random() < 0.2:
        out += [b"", b""]
    return eol.join(out)


def enc_uu_doubt(rng, data):
    lines = enc_uu(rng, data + b"0123456789" * 5).split(b"\n")
    lines = [l.rstrip(b"\r") for l in lines]
    kind = rng.randrange(3)
    if kind == 0:  # no end line: Python returns the encoded text
        lines = [l for l in lines if l.strip() != b"end"]
    elif kind == 1:  # a data line cut short
        idx = next(i for i, l in enumerate(lines) if l.startswith(b"begin")) + 1
        lines[idx] = lines[idx][:len(lines[idx]) // 2]
    else:  # data after the zero-length line
        idx = next(i for i, l in enumerate(lines) if l.strip() == b"end")
        lines.insert(idx, uu_line(b"more", True))
        lines.insert(idx, b"`")
    return CRLF.join(lines)


# --- messages ---------------------------------------------------------------

SURE = ["base64", "quoted-printable", "x-uuencode", "7bit", "8bit", "binary"]


def make_attachment(rng, index, k):
    size = random_size(rng)
    cte = rng.choice(SURE)
    doubt = rng.random() < 0.15
    if cte in ("7bit", "8bit"):
        data = text_bytes(rng, size, cte == "8bit")
    elif cte == "binary":
        data = binary_bytes(rng, size)
    else:
        data = rng.randbytes(size) if rng.random() < 0.6 else text_bytes(rng, size, True)
    if cte == "base64":
        body = enc_base64_doubt(rng, data) if doubt else enc_base64(rng, data)
    elif cte == "quoted-printable":
        body = enc_qp_doubt(rng, data) if doubt else enc_qp(rng, data)
    elif cte == "x-uuencode":
        body = enc_uu_doubt(rng, data) if doubt else enc_uu(rng, data)
    else:
        body = data
        if doubt:
            cte = rng.choice(["x-gzip64", "base64 (really)", "quoted_printable"])
    name = "f%05d-%d.bin" % (index, k)
    header = (b"Content-Type: application/octet-stream; name=\"%s\"\r\n"
              b"Content-Disposition: attachment; filename=\"%s\"\r\n"
              b"Content-Transfer-Encoding: %s\r\n\r\n" % (name.encode(), name.encode(), cte.encode()))
    return {"filename": name, "cte": cte, "data": data, "body": body, "header": header,
            "expect": "kept" if doubt else "stored"}


def make_message(rng, index):
    boundary = b"=_ag_diff_%05d" % index
    parts = [make_attachment(rng, index, k) for k in range(rng.choice([1, 1, 1, 2]))]
    out = (b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n"
           b"Subject: differential %d\r\nMessage-ID: <diff-%d@example.org>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n" % (index, index, boundary))
    out += b"--" + boundary + b"\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee attached.\r\n"
    for p in parts:
        out += b"--" + boundary + b"\r\n" + p["header"] + p["body"] + b"\r\n"
    out += b"--" + boundary + b"--\r\n"
    return out, parts


def probe(body):
    """A line of the encoded body, in hex: the output must still hold it when kept."""
    lines = [l for l in body.split(b"\n")[:8] if l.strip(b"\r")]
    return (lines[0].rstrip(b"\r")[:60] if lines else b"").hex()


def reference(raw):
    """{filename: decoded bytes} as Python's email package reads the message."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    found = {}
    for part in msg.walk():
        if part.get_filename():
            found[part.get_filename()] = part.get_payload(decode=True)
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    manifest = []
    for i in range(args.count):
        raw, parts = make_message(rng, i)
        ref = reference(raw)
        entry = {"file": "%05d.eml" % i, "attachments": []}
        for p in parts:
            decoded = ref.get(p["filename"])
            if decoded is None:
                raise SystemExit("generator bug: Python sees no %s in message %d" % (p["filename"], i))
            if p["expect"] == "stored" and decoded != p["data"]:
                raise SystemExit("generator bug: Python decodes %s in message %d (%s) to other bytes"
                                 % (p["filename"], i, p["cte"]))
            entry["attachments"].append({
                "filename": p["filename"], "cte": p["cte"], "expect": p["expect"],
                "size": len(decoded), "sha256": hashlib.sha256(decoded).hexdigest(),
                # A line of the encoded body the output must still hold when kept.
                "probe": probe(p["body"]),
            })
        with open(os.path.join(args.out, entry["file"]), "wb") as f:
            f.write(raw)
        manifest.append(entry)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f)


if __name__ == "__main__":
    main()
