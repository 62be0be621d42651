"""A recipient's HTTP client for the end-to-end tests: Python's http.client
over a real loopback socket, one connection per request, no redirect
followed unless asked, large bodies hashed as they stream in.
"""

from __future__ import annotations

import hashlib
import html.parser
import http.client
import threading
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    size: int = 0          # bytes of body received (also when not kept)
    sha256: str = ""       # of the body received

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _FileButtons(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.buttons: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "button" and attrs.get("name") == "file":
            self.buttons.append(attrs)


def file_buttons(page: str) -> list[dict]:
    """The landing page's download buttons (value: file id or "all";
    aria-label: "Download NAME"), as a browser reads them."""
    parser = _FileButtons()
    parser.feed(page)
    parser.close()
    return parser.buttons


@dataclass
class Recipient:
    base_url: str
    user_agent: str = "attachgate-e2e/1"
    timeout: float = 60
    extra_headers: dict = field(default_factory=dict)

    def _connection(self) -> http.client.HTTPConnection:
        url = urllib.parse.urlsplit(self.base_url)
        return http.client.HTTPConnection(url.hostname, url.port, timeout=self.timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, keep_body: bool = True) -> Reply:
        conn = self._connection()
        try:
            h = {"User-Agent": self.user_agent, **self.extra_headers, **(headers or {})}
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            reply = Reply(resp.status, resp.getheaders())
            digest = hashlib.sha256()
            kept = []
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                reply.size += len(chunk)
                digest.update(chunk)
                if keep_body:
                    kept.append(chunk)
            reply.body = b"".join(kept)
            reply.sha256 = digest.hexdigest()
            return reply
        finally:
            conn.close()

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def post_form(self, path: str, fields: dict) -> Reply:
        body = urllib.parse.urlencode(fields).encode()
        return self.request("POST", path, body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def claim(self, token: str, file: str, code: str | None = None) -> Reply:
        """Press a Download button: POST /d/TOKEN; a win answers 303."""
        fields = {"file": file}
        if code is not None:
            fields["code"] = code
        return self.post_form("/d/" + token, fields)

    def download(self, token: str, file: str, code: str | None = None,
                 keep_body: bool = True) -> tuple[Reply, Reply | None]:
        """Claim, then follow the 303 to the ticket: (claim reply, file reply
        or None when the claim was refused)."""
        claimed = self.claim(token, file, code)
        if claimed.status != 303:
            return claimed, None
        return claimed, self.get(claimed.header("Location"), keep_body=keep_body)


def race_claims(token: str, file: str, base_urls: list[str],
                racers: int = 50) -> list[tuple[int, Reply | None]]:
    """racers POSTs on one link released together (each connected first,
    then all sent at a barrier), spread in turn over base_urls; a winner
    follows its 303 on the same node. Returns each racer's (claim status,
    download reply or None)."""
    barrier = threading.Barrier(racers)
    results: list = [None] * racers

    def race(i: int) -> None:
        base = urllib.parse.urlsplit(base_urls[i % len(base_urls)])
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
        try:
            conn.connect()
            barrier.wait(30)
            conn.request("POST", "/d/" + token, body=urllib.parse.urlencode({"file": file}),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            resp = conn.getresponse()
            resp.read()
            status, location = resp.status, resp.getheader("Location")
        finally:
            conn.close()
        node = Recipient(base_urls[i % len(base_urls)])
        results[i] = (status, node.get(location) if status == 303 else None)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if None in results:
        raise AssertionError("a racer did not finish")
    return results
