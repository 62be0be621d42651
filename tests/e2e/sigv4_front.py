"""A loopback front for s3rver that checks AWS Signature Version 4.

s3rver (tests/s3) speaks the S3 protocol but does not check V4 signatures:
it looks the access key up and lets the request through whatever its
signature (lib/middleware/authentication.js: "Signature version 4
calculation is unimplemented"). This front does what S3 does before s3rver
sees a request: it requires an Authorization header for the one configured
key, recomputes the signature (header form, as libcurl's CURLOPT_AWS_SIGV4
signs) and refuses a mismatch with S3's 403 SignatureDoesNotMatch. The
payload is checked as x-amz-content-sha256 says: a SHA-256 that must match
the body, UNSIGNED-PAYLOAD, or STREAMING-AWS4-HMAC-SHA256-PAYLOAD whose
chunk signatures are each checked. It also answers the two multipart calls
s3rver lacks (abort, and a part or completion for an unknown upload id).

Everything it reads is untrusted: bodies are spooled to disk (never held
whole in memory) and the header block is bounded by http.server.
Usage: sigv4_front.py --listen PORT --upstream PORT --credentials FILE
--s3rver-dir DIR, where FILE is JSON {"access_key", "secret_key", "region"}
(kept out of argv, so ps never shows the secret). Python standard library only.
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import hmac
import http.client
import http.server
import json
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = 15 * 60  # seconds, as S3 allows
SPOOL_IN_MEMORY = 1 << 20
# Headers that describe one hop, not the request: never forwarded.
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "expect", "upgrade",
               "proxy-connection", "content-length", "authorization", "host"}


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    region: str
    service: str = "s3"


class S3Refusal(Exception):
    """An S3 error answer: status, S3 error code, message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ----------------------------------------------------------- signing ----
# Shared by the front (to check) and the tests (to sign what curl cannot,
# such as a streaming upload).

def uri_encode(text: str, keep_slash: bool) -> str:
    return urllib.parse.quote(text, safe="-_.~" + ("/" if keep_slash else ""))


def canonical_query(raw_query: str) -> str:
    pairs = []
    for item in raw_query.split("&") if raw_query else []:
        name, _, value = item.partition("=")
        pairs.append((uri_encode(urllib.parse.unquote(name), False),
                      uri_encode(urllib.parse.unquote(value), False)))
    return "&".join("%s=%s" % p for p in sorted(pairs))


def signing_key(creds: Credentials, day: str) -> bytes:
    key = ("AWS4" + creds.secret_key).encode()
    for part in (day, creds.region, creds.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def scope(creds: Credentials, day: str) -> str:
    return "%s/%s/%s/aws4_request" % (day, creds.region, creds.service)


def request_signature(creds: Credentials, method: str, raw_path: str,
                      headers: dict[str, str], signed: list[str], payload_hash: str,
                      amz_date: str) -> str:
    """The V4 signature of a request; headers maps lower-case names to values."""
    path, _, raw_query = raw_path.partition("?")
    canonical_headers = "".join(
        "%s:%s\n" % (name, re.sub(r"\s+", " ", headers.get(name, "")).strip()) for name in signed)
    canonical = "\n".join([method, uri_encode(urllib.parse.unquote(path), True),
                           canonical_query(raw_query), canonical_headers, ";".join(signed),
                           payload_hash])
    to_sign = "\n".join([ALGORITHM, amz_date, scope(creds, amz_date[:8]),
                         hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(signing_key(creds, amz_date[:8]), to_sign.encode(), hashlib.sha256).hexdigest()


def chunk_signature(creds: Credentials, amz_date: str, previous: str, data: bytes) -> str:
    to_sign = "\n".join([ALGORITHM + "-PAYLOAD", amz_date, scope(creds, amz_date[:8]), previous,
                         EMPTY_SHA256, hashlib.sha256(data).hexdigest()])
    return hmac.new(signing_key(creds, amz_date[:8]), to_sign.encode(), hashlib.sha256).hexdigest()


def sign_headers(creds: Credentials, method: str, raw_path: str, headers: dict[str, str],
                 payload_hash: str, now: float | None = None) -> dict[str, str]:
    """headers (lower-case names, with host) plus x-amz-date,
    x-amz-content-sha256 and an Authorization signing all of them."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    out = dict(headers, **{"x-amz-date": amz_date, "x-amz-content-sha256": payload_hash})
    signed = sorted(out)
    sig = request_signature(creds, method, raw_path, out, signed, payload_hash, amz_date)
    out["authorization"] = "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ALGORITHM, creds.access_key, scope(creds, amz_date[:8]), ";".join(signed), sig)
    return out


# ------------------------------------------------------------ checking ----

@dataclass
class Verified:
    amz_date: str
    signature: str
    payload: str  # a hex SHA-256, UNSIGNED or STREAMING


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise S3Refusal(400, "InvalidArgument", "unsupported Authorization type %r" % algorithm)
    fields = {}
    for part in rest.split(","):
        name, _, val = part.strip().partition("=")
        fields[name] = val
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise S3Refusal(400, "AuthorizationHeaderMalformed",
                        "Credential, SignedHeaders and Signature are required")
    return fields["Credential"], fields["SignedHeaders"].split(";"), fields["Signature"]


def verify_request(creds: Credentials, method: str, raw_path: str,
                   headers: dict[str, str], now: float) -> Verified:
    """Checks the header signature; raises S3Refusal. The payload is checked later."""
    if "authorization" not in headers:
        raise S3Refusal(403, "AccessDenied", "anonymous requests are refused")
    credential, signed, signature = parse_authorization(headers["authorization"])
    key, _, cred_scope = credential.partition("/")
    if not hmac.compare_digest(key, creds.access_key):
        raise S3Refusal(403, "InvalidAccessKeyId", "the access key id does not exist")
    amz_date = headers.get("x-amz-date", "")
    try:
        stamp = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise S3Refusal(403, "AccessDenied", "a valid x-amz-date header is required") from None
    if abs(now - stamp) > MAX_SKEW:
        raise S3Refusal(403, "RequestTimeTooSkewed", "request time too far from the server's")
    if cred_scope != scope(creds, amz_date[:8]):
        raise S3Refusal(403, "SignatureDoesNotMatch", "credential scope %r is not %r"
                        % (cred_scope, scope(creds, amz_date[:8])))
    if "host" not in signed or signed != sorted(signed) or any(n not in headers for n in signed):
        raise S3Refusal(403, "SignatureDoesNotMatch", "SignedHeaders must list host and be sorted")
    payload = headers.get("x-amz-content-sha256")
    if payload is None:
        raise S3Refusal(400, "InvalidRequest",
                        "Missing required header for this request: x-amz-content-sha256")
    if payload not in (UNSIGNED, STREAMING) and not re.fullmatch(r"[0-9a-f]{64}", payload):
        raise S3Refusal(400, "InvalidArgument", "bad x-amz-content-sha256 %r" % payload)
    expected = request_signature(creds, method, raw_path, headers, signed, payload, amz_date)
    if not hmac.compare_digest(expected, signature):
        raise S3Refusal(403, "SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature "
                        "you provided. Check your key and signing method.")
    return Verified(amz_date, signature, payload)


def read_line(stream, limit: int = 4096) -> bytes:
    line = stream.readline(limit + 1)
    if len(line) > limit or not line.endswith(b"\r\n"):
        raise S3Refusal(400, "IncompleteBody", "malformed chunk header")
    return line[:-2]


def copy_chunked(stream, out) -> None:
    """Decodes an HTTP/1.1 chunked body from stream into out."""
    while True:
        size = int(read_line(stream).split(b";")[0], 16)
        if size == 0:
            while read_line(stream):  # trailers
                pass
            return
        copy_exact(stream, out, size)
        if read_line(stream) != b"":
            raise S3Refusal(400, "IncompleteBody", "chunk longer than its size")


def copy_exact(stream, out, size: int, digest=None) -> None:
    while size > 0:
        data = stream.read(min(size, 1 << 16))
        if not data:
            raise S3Refusal(400, "IncompleteBody", "the body ended early")
        out.write(data)
        if digest is not None:
            digest.update(data)
        size -= len(data)


def decode_aws_chunked(creds: Credentials, verified: Verified, body, out) -> None:
    """aws-chunked: 'HEX;chunk-signature=SIG\\r\\n DATA \\r\\n' ... a 0-size
    chunk; each signature chains on the previous, from the header's."""
    previous = verified.signature
    while True:
        header = read_line(body).decode("ascii", "replace")
        match = re.fullmatch(r"([0-9a-fA-F]+);chunk-signature=([0-9a-f]{64})", header)
        if not match:
            raise S3Refusal(400, "IncompleteBody", "malformed aws-chunked header")
        size = int(match.group(1), 16)
        if size > 64 << 20:
            raise S3Refusal(400, "InvalidArgument", "chunk over 64 MiB")
        data = body.read(size)
        if len(data) != size or read_line(body) != b"":
            raise S3Refusal(400, "IncompleteBody", "chunk shorter or longer than its size")
        expected = chunk_signature(creds, verified.amz_date, previous, data)
        if not hmac.compare_digest(expected, match.group(2)):
            raise S3Refusal(403, "SignatureDoesNotMatch", "a chunk signature does not match")
        out.write(data)
        previous = expected
        if size == 0:
            return


# --------------------------------------------------------------- front ----

def error_xml(refusal: S3Refusal) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '</Error>\n' % (refusal.code, refusal.message.replace("&", "&amp;")
                            .replace("<", "&lt;"))).encode()


class Front(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, listen: tuple[str, int], creds: Credentials, upstream: tuple[str, int],
                 s3rver_dir: Path, spool_dir: Path):
        super().__init__(listen, Handler)
        self.creds, self.upstream, self.s3rver_dir, self.spool_dir = \
            creds, upstream, s3rver_dir, spool_dir


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Front

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    def headers_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            out[name] = out[name] + "," + value if name in out else value
        return out

    def check_signature(self) -> Verified:
        return verify_request(self.server.creds, self.command, self.path, self.headers_dict(),
                              time.time())

    # Checked before "100 Continue", so a refused upload never sends its body.
    def handle_expect_100(self) -> bool:
        try:
            self.verified = self.check_signature()
        except S3Refusal as refusal:
            self.refuse(refusal)
            return False
        return super().handle_expect_100()

    def refuse(self, refusal: S3Refusal) -> None:
        body = error_xml(refusal)
        self.log_message("refused %s %s: %s %s", self.command, self.path, refusal.code,
                         refusal.message)
        self.close_connection = True
        self.send_response(refusal.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self) -> None:
        try:
            verified = getattr(self, "verified", None) or self.check_signature()
            self.verified = None
            with tempfile.TemporaryFile(dir=self.server.spool_dir) as body:
                self.read_body(verified, body)
                body.seek(0, 2)
                length = body.tell()
                body.seek(0)
                if self.answer_multipart_gap():
                    return
                self.forward(body, length)
        except S3Refusal as refusal:
            self.refuse(refusal)
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            self.refuse(S3Refusal(503, "ServiceUnavailable", "s3rver: %s" % e))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    def read_body(self, verified: Verified, out) -> None:
        headers = self.headers_dict()
        digest = hashlib.sha256()
        raw = tempfile.TemporaryFile(dir=self.server.spool_dir) \
            if verified.payload == STREAMING else out
        try:
            if headers.get("transfer-encoding", "").lower() == "chunked":
                copy_chunked(self.rfile, raw)
            elif "transfer-encoding" in headers:
                raise S3Refusal(501, "NotImplemented", "unsupported Transfer-Encoding")
            else:
                copy_exact(self.rfile, raw, int(headers.get("content-length", "0")))
            if verified.payload == STREAMING:
                raw.seek(0)
                decode_aws_chunked(self.server.creds, verified, raw, out)
                declared = headers.get("x-amz-decoded-content-length")
                if declared is not None and int(declared) != out.tell():
                    raise S3Refusal(400, "IncompleteBody", "x-amz-decoded-content-length differs")
            elif verified.payload != UNSIGNED:
                out.seek(0)
                while chunk := out.read(1 << 16):
                    digest.update(chunk)
                if not hmac.compare_digest(digest.hexdigest(), verified.payload):
                    raise S3Refusal(400, "XAmzContentSHA256Mismatch",
                                    "The provided 'x-amz-content-sha256' header does not match "
                                    "what was computed.")
        except ValueError:
            raise S3Refusal(400, "InvalidArgument", "bad Content-Length or chunk size") from None
        finally:
            if raw is not out:
                raw.close()

    def upload_dir(self, bucket: str, upload_id: str) -> Path | None:
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id):
            return None
        return self.server.s3rver_dir / bucket / "._S3rver_uploads" / upload_id

    def answer_multipart_gap(self) -> bool:
        """Abort, and calls naming an unknown upload id, which s3rver does not
        check (it would make the id up). Its layout: BUCKET/._S3rver_uploads/ID/."""
        path, _, raw_query = self.path.partition("?")
        query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        if "uploadId" not in query:
            return False
        bucket = urllib.parse.unquote(path.lstrip("/").split("/", 1)[0])
        upload = self.upload_dir(bucket, query["uploadId"][0])
        if upload is None or not (upload / "key").is_file():
            self.refuse(S3Refusal(404, "NoSuchUpload", "The specified upload does not exist."))
            return True
        if self.command != "DELETE":
            return False
        shutil.rmtree(upload)
        self.log_message("aborted upload %s", upload.name)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def forward(self, body, length: int) -> None:
        conn = http.client.HTTPConnection(*self.server.upstream, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", "%s:%d" % self.server.upstream)
            for name, value in self.headers.items():
                lower = name.lower()
                if lower in HOP_HEADERS or lower == "content-encoding" and value == "aws-chunked":
                    continue
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(length))
            conn.endheaders()
            shutil.copyfileobj(body, _Sender(conn), 1 << 16)
            resp = conn.getresponse()
            self.send_response(resp.status, resp.reason)
            for name, value in resp.getheaders():
                if name.lower() not in HOP_HEADERS | {"date", "server"}:  # send_response's own
                    self.send_header(name, value)
            declared = resp.getheader("Content-Length")
            if self.command == "HEAD" or resp.status in (204, 304):
                self.send_header("Content-Length", declared or "0")
                self.end_headers()
                return
            if declared is not None:
                self.send_header("Content-Length", declared)
                self.end_headers()
                shutil.copyfileobj(resp, self.wfile, 1 << 16)
            else:  # s3rver streamed it chunked: pass it on chunked
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while chunk := resp.read1(1 << 16):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
        finally:
            conn.close()


class _Sender:
    """A file-like writer onto an HTTPConnection (send() takes bytes)."""

    def __init__(self, conn: http.client.HTTPConnection):
        self.conn = conn

    def write(self, data: bytes) -> None:
        self.conn.send(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--credentials", type=Path, required=True)
    parser.add_argument("--s3rver-dir", type=Path, required=True)
    args = parser.parse_args()
    spec = json.loads(args.credentials.read_text())
    creds = Credentials(spec["access_key"], spec["secret_key"], spec["region"])
    spool = args.s3rver_dir.parent / "front-spool"
    spool.mkdir(exist_ok=True)
    front = Front(("127.0.0.1", args.listen), creds, ("127.0.0.1", args.upstream),
                  args.s3rver_dir, spool)
    print("sigv4 front on 127.0.0.1:%d for s3rver on :%d" % (args.listen, args.upstream),
          file=sys.stderr, flush=True)
    front.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
