"""bench/run's outputs: the targets judged, a Markdown report, an SVG chart.

The chart is SVG written by hand, so the benchmark needs no plotting
package. Everything here reads the results dict that bench/run.py builds
(the same one --json writes).
"""

from __future__ import annotations

import html
from pathlib import Path

MIB = 1024


def targets(r: dict) -> list[dict]:
    """Each target of issue 6 with its figure: name, value, limit, kind
    ('min': value >= limit is met; 'max': value <= limit; 'lt': value < limit)."""
    out = []
    mail = {m["mix"]: m for m in r.get("mail", {}).get("mixes", [])}
    for mix, limit, label in (("10KB-text", 0.9, "Postfix throughput with/without milter, 10 KB text"),
                              ("2MB-attachment", 1.0, "Postfix throughput with/without milter, 2 MB attachment"),
                              ("25MB-attachment", 1.0, "Postfix throughput with/without milter, 25 MB attachment")):
        if mix in mail:
            out.append({"name": label, "short": "mail %s" % mix.split("-")[0],
                        "value": mail[mix]["ratio"], "limit": limit, "kind": "min",
                        "unit": "x", "panel": "ratio"})
    if "2MB-attachment" in mail:
        out.append({"name": "Milter CPU time per 2 MB-attachment message",
                    "short": "milter CPU / 2 MB msg",
                    "value": mail["2MB-attachment"]["milter_cpu_seconds_per_message"] * 1000,
                    "limit": 10.0, "kind": "max", "unit": "ms", "panel": "budget"})
    sizes = r.get("milter", {}).get("sizes", [])
    if sizes:
        peak = max(s["milter_peak_rss_kb"] for s in sizes) * 1024 / 1e6
        out.append({"name": "Milter peak RSS, largest over %s"
                            % ", ".join(s["label"] for s in sizes),
                    "short": "milter peak RSS", "value": peak, "limit": 64.0, "kind": "lt",
                    "unit": "MB", "panel": "budget"})
    dl = r.get("downloads", {}).get("downloads", {})
    for key, label in (("1_clients", "1 client"), ("8_clients", "8 clients")):
        if key in dl:
            out.append({"name": "Download throughput attachgate/nginx, %s" % label,
                        "short": "download %s" % label, "value": dl[key]["ratio"], "limit": 0.9,
                        "kind": "min", "unit": "x", "panel": "ratio"})
    conn = r.get("downloads", {}).get("connections")
    if conn:
        out.append({"name": "Errors with %d idle connections held %g s during downloads"
                            % (conn["connections"], conn["hold_seconds"]),
                    "short": "idle-connection errors", "value": conn["errors"], "limit": 0,
                    "kind": "max", "unit": "", "panel": None})
    codes = r.get("codes")
    if codes:
        for key, label in (("healthz", "/healthz"), ("landing", "landing page")):
            out.append({"name": "p99 latency of %s added by %d clients checking access codes"
                                % (label, codes["flooders"]),
                        "short": "p99 %s, code flood" % label, "value": codes[key]["added_ms_p99"],
                        "limit": 5.0, "kind": "max", "unit": "ms", "panel": "budget"})
    for t in out:
        v, lim = t["value"], t["limit"]
        t["met"] = v >= lim if t["kind"] == "min" else v <= lim if t["kind"] == "max" else v < lim
    return out


def _fmt_target(t: dict) -> str:
    op = {"min": ">=", "max": "<=", "lt": "<"}[t["kind"]]
    unit = (" " + t["unit"]) if t["unit"] not in ("", "x") else ""
    return "%s %g%s" % (op, t["limit"], unit)


def _fmt_value(t: dict) -> str:
    if t["unit"] == "x":
        return "%.2f" % t["value"]
    if t["unit"] == "":
        return "%d" % t["value"]
    return "%.1f %s" % (t["value"], t["unit"])


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(r: dict, chart_name: str, analysis: str | None) -> str:
    m, a = r["machine"], r["attachgate"]
    rev = a.get("git_head", "?")
    dirty = a.get("git_dirty_files") or []
    if dirty:
        rev += " + uncommitted changes (%d files)" % len(dirty)
    out = ["# Benchmarks", "",
           "Written by `%s` on %s. Every comparison was run side by side in that one "
           "invocation, taking turns, and is given as a ratio: the machine is shared, so "
           "absolute figures drift from run to run and the ratios are what to compare."
           % (r["command"], r["date"]), "",
           "- **Machine:** %s, %d CPUs, %.1f GiB RAM; kernel %s; Postfix %s; nginx %s; "
           "Python %s." % (m["cpu"], m["cpus"], m["mem_total_mb"] / 1024, m["kernel"],
                           m.get("postfix", "?"), m.get("nginx", "?"), m["python"]),
           "- **attachgate:** revision %s, %s build (`%s`)." % (rev, a.get("build_type", "?"),
                                                               a.get("binary", "?")),
           "- **Load average** before %s, after %s; the run took %.0f s."
           % (r["loadavg_before"], r.get("loadavg_after", "?"), r.get("elapsed_seconds", 0)),
           ""]
    ts = targets(r)
    if ts:
        out += ["## Targets", "",
                _table(["target", "figure", "limit", "result"],
                       [[t["name"], _fmt_value(t), _fmt_target(t),
                         "**met**" if t["met"] else "**MISSED**"] for t in ts]),
                "", "![ratios and budgets against their targets](%s)" % chart_name, ""]
    if "mail" in r:
        p = r["mail"]
        out += ["## 1. Mail throughput", "",
                "`smtp-source -s %d -m %d` → private Postfix on 127.0.0.1 → `smtp-sink`, "
                "for each mix without a milter and with `attachgate milter` (over %s), taking "
                "turns; rounds (passes per side) are in the table and the figures are medians "
                "over them. A pass is timed from smtp-source's start to Postfix "
                "logging the last message sent to the sink; every message was checked at the "
                "sink (whole, or offloaded with `X-Attachgate: offloaded=1`). MB/s counts the "
                "message bytes sent by smtp-source (MB = 10^6 bytes). CPU is user+system "
                "time per message: of the milter worker, and of the Postfix instance's master "
                "and daemons (live or exited); smtp-sink's and smtp-source's (the mean of both "
                "sides) are given apart, since they stand in for the next hop and the clients."
                % (p["concurrency"], p["messages"], p["milter_socket"]), "",
                _table(["mix", "rounds", "message MB", "msg/s without", "msg/s with", "MB/s without",
                        "MB/s with", "ratio", "milter CPU ms/msg", "Postfix CPU ms/msg without / with",
                        "smtp-sink CPU ms/msg without / with", "smtp-source CPU ms/msg"],
                       [[x["mix"], str(x["rounds"]), "%.2f" % (x["wire_bytes_per_message"] / 1e6),
                         "%.1f" % x["plain_messages_per_s"], "%.1f" % x["milter_messages_per_s"],
                         "%.1f" % x["plain_mb_per_s"], "%.1f" % x["milter_mb_per_s"],
                         "**%.2f**" % x["ratio"], "%.1f" % (1000 * x["milter_cpu_seconds_per_message"]),
                         "%.1f / %.1f" % (1000 * x["postfix_cpu_seconds_per_message"]["plain"],
                                          1000 * x["postfix_cpu_seconds_per_message"]["milter"]),
                         _pair(x.get("smtp_sink_cpu_seconds_per_message")),
                         "%.1f" % (1000 * _avg(x.get("smtp_source_cpu_seconds_per_message",
                                                     {"-": float("nan")}).values()))]
                        for x in p["mixes"]]),
                "", "Milter worker peak RSS over all of part 1: %.1f MiB."
                % (p["milter_worker_peak_rss_kb"] / MIB), ""]
    if "milter" in r:
        p = r["milter"]
        out += ["## 2. Milter cost per message", "",
                "`bench/milter_message_size.py`: one message at a time with one base64 "
                "attachment, through Postfix with and without the milter (over %s), taking "
                "turns; a fresh milter per size. End of message is timed by the client from "
                "the final `.` to Postfix's reply. Peak RSS is the milter worker's VmHWM. "
                "p99 is nearest-rank, so with fewer than 100 messages it is the slowest one."
                % {"inet": "loopback TCP", "unix": "a unix socket"}.get(p["milter_socket"],
                                                                        p["milter_socket"]), "",
                _table(["message", "n", "decoded MB", "eom p50 s", "eom p99 s", "eom p50 s without",
                        "ratio", "decoded MB/s", "milter CPU s/msg", "peak RSS MiB"],
                       [[s["label"], str(s.get("repeat", p["repeat"])),
                         "%.1f" % (s["attachment_bytes"] / 1e6),
                         "%.3f" % s["eom_seconds_milter"], "%.3f" % s["eom_seconds_milter_p99"],
                         "%.3f" % s["eom_seconds_plain"], "%.1f" % s["eom_ratio"],
                         "%.1f" % s["decoded_mb_per_s"],
                         "%.3f" % s["milter_cpu_seconds_per_message"],
                         "%.1f" % (s["milter_peak_rss_kb"] / MIB)] for s in p["sizes"]]), ""]
    d = r.get("downloads", {})
    if "downloads" in d:
        rows = []
        for key in ("1_clients", "8_clients"):
            x = d["downloads"][key]
            rows.append(["%d" % x["clients"], "%.0f" % x["attachgate_mb_per_s"],
                         "%.0f" % x["nginx_mb_per_s"], "**%.2f**" % x["ratio"],
                         "%.2f" % x["attachgate_cpu_s_per_gb"], "%.2f" % x["nginx_cpu_s_per_gb"]])
        l = d["landing"]
        out += ["## 3. Downloads", "",
                "A %d MB file of random bytes behind one link (seeded with tests/e2e/seed_link, "
                "so stored encrypted), served by `attachgate web`; the same plaintext file "
                "served by nginx (private config, `sendfile on`, %d workers). 1 or 8 curl clients "
                "at once, %d round(s) each, taking turns; only the `GET /t/{ticket}` that carries "
                "the bytes is timed (tickets are claimed first). Figures are total MB/s "
                "(10^6 bytes) over the batch's wall time, medians over rounds; server CPU is "
                "user+system time of the serving processes per GB sent."
                % (d["file_bytes"] // 1_000_000, d["nginx_workers"],
                   len(d["downloads"]["1_clients"]["runs"]["attachgate"])), "",
                _table(["clients", "attachgate MB/s", "nginx MB/s", "ratio",
                        "attachgate CPU s/GB", "nginx CPU s/GB"], rows), "",
                "Landing page: `wrk -t2 -c%d -d%ds` on `GET /d/{token}` (renders the page and "
                "records a `viewed` event) against nginx serving the same %d bytes as a static "
                "file."
                % (l["connections"], l["seconds"], d["landing_page_bytes"]), "",
                _table(["", "attachgate", "nginx", "ratio"],
                       [["requests/s", "%.0f" % l["attachgate_requests_per_s"],
                         "%.0f" % l["nginx_requests_per_s"], "**%.3f**" % l["ratio"]],
                        ["latency p50 ms", "%.2f" % _med(l["runs"]["attachgate"], "latency_ms_p50"),
                         "%.2f" % _med(l["runs"]["nginx"], "latency_ms_p50"), ""],
                        ["latency p99 ms", "%.2f" % _med(l["runs"]["attachgate"], "latency_ms_p99"),
                         "%.2f" % _med(l["runs"]["nginx"], "latency_ms_p99"), ""]]), "",
                "attachgate downloads recorded as complete `downloaded` events: %d of the %d "
                "claimed (timed, hash check and part 4). Web worker peak RSS (VmHWM) over "
                "parts 3 and 4: %.1f MiB."
                % (d.get("complete_download_events", 0), d.get("claims", 0),
                   d.get("web_vmhwm_kb", 0) / MIB), ""]
    if "connections" in d:
        c = d["connections"]
        out += ["## 4. Idle connections", "",
                "%d TCP connections opened to attachgate's web port (in %.2f s) and held "
                "for %g s, sending nothing, while single-client downloads ran back to back. "
                "The web server's read timeout was set to %s for this run (the shipped 30 s "
                "would close the first of them at the end of the hold); the bench raises its "
                "own RLIMIT_NOFILE (soft %s → %s, hard %s) before starting the server, which "
                "inherits it."
                % (c["connections"], c["open_seconds"], c["hold_seconds"], d["server_timeout"],
                   d["fd_limit"]["before"], d["fd_limit"]["now"], d["fd_limit"]["hard"]), "",
                _table(["figure", "value"],
                       [["connections refused / failed", str(c["connect_errors"])],
                        ["closed by the server during the hold", str(c["closed_by_server"])],
                        ["answered `GET /healthz` sent on them after the hold",
                         "%d of %d" % (c["answered_after_hold"], c["opened"])],
                        ["downloads during the hold (failed)",
                         "%d (%d)" % (c["downloads"], c["download_errors"])],
                        ["download MB/s during the hold (median)",
                         "%.0f" % (c["download_mb_per_s"] or 0)],
                        ["**errors in all**", "**%d**" % c["errors"]],
                        ["web worker RSS during the hold, MiB",
                         "%.1f – %.1f" % (c["web_rss_kb_min"] / MIB, c["web_rss_kb_max"] / MIB)],
                        ["web worker open fds, most", str(c["web_fds_max"])]]), ""]
    if "codes" in r:
        c = r["codes"]
        rows = []
        for key, label in (("healthz", "`GET /healthz`"), ("landing", "landing page")):
            x = c[key]
            for pct in (50, 99):
                rows.append(["%s p%d" % (label, pct), "%.2f" % x["quiet_ms_p%d" % pct],
                             "%.2f" % x["flood_ms_p%d" % pct], "**%.2f**" % x["ratio_p%d" % pct],
                             "%+.2f" % x["added_ms_p%d" % pct]])
        out += ["## 5. Other clients during a flood of access-code checks", "",
                "`bench/code_flood.py`: `attachgate web` with two seeded links, one behind an "
                "access code. A probe times `GET /healthz` and `GET /d/{token}` (the other "
                "link's landing page: renders it and records a `viewed` event) in turn on "
                "kept-alive connections, one request every %g s, for %g s per phase, quiet "
                "and while %d clients post the right code as fast as they are answered (each "
                "one a full Argon2id check); %d round(s), taking turns. p50/p99 are nearest "
                "rank over all rounds (%d and %d /healthz samples)."
                % (c["probe_gap"], c["seconds_per_phase"], c["flooders"], c["rounds"],
                   c["healthz"]["samples_quiet"], c["healthz"]["samples_flood"]), "",
                _table(["latency", "quiet ms", "flood ms", "ratio", "added ms"], rows), "",
                "Code checks answered during the flood: %.1f per second (%s)."
                % (c["code_checks_per_s"], ", ".join("%s × %s" % (v, k) for k, v in
                                                      sorted(c["code_check_answers"].items()))), ""]
    if "recipients" in r:
        out += recipients_section(r["recipients"])
    if "backends" in r:
        out += backends_section(r["backends"], r)
    if "growth" in r:
        out += growth_section(r["growth"])
    if analysis:
        out += [analysis.strip(), ""]
    return "\n".join(out)


def recipients_section(p: dict) -> list[str]:
    """Part 6: per_recipient against shared, side by side with their ratio."""
    pr, sh = p["per_recipient"], p["shared"]

    def row(label: str, key: str, fmt: str, scale: float = 1, bold: bool = False) -> list[str]:
        a, b = pr[key] * scale, sh[key] * scale
        ratio = ("**%.2f**" if bold else "%.2f") % (a / b) if b else "-"
        return [label, fmt % a, fmt % b, ratio]

    return ["## 6. Links per recipient against one shared link", "",
            "`bench/recipient_links.py`: `smtp-source -s %d -m %d -r %d`, a %.0f MB attachment "
            "(a %.2f MB message) to %d external recipients, into two private Postfix instances "
            "relaying to `smtp-sink`, each with its own `attachgate run` (milter over %s, web "
            "server, notify role) and Postfix's injection service as `[notify] inject`: one with "
            "`links = \"per_recipient\"` (the MTA's message keeps the first recipient; the "
            "milter writes a recipient copy for each of the other %d, which the notify role "
            "injects), one with `links = \"shared\"`. %d round(s), taking turns; medians. A "
            "pass is timed from smtp-source's start until Postfix logged all %d × %d "
            "deliveries sent, injected copies included; every delivery was checked at the sink "
            "(per_recipient: %d mails per message with %d different links, %d of them injected; "
            "shared: one link for all). Receipts are off on both sides. CPU is user+system "
            "time per message sent; Postfix's includes its injection smtpd."
            % (p["concurrency"], p["messages"], p["recipients"], p["attachment_bytes"] / 1e6,
               p["wire_bytes_per_message"] / 1e6, p["recipients"], p["milter_socket"],
               p["recipients"] - 1, p["rounds"], p["messages"], p["recipients"],
               p["recipients"], p["recipients"], p["recipients"] - 1), "",
            _table(["", "per_recipient", "shared", "ratio"],
                   [row("messages/s, all deliveries at the sink", "messages_per_s", "%.2f",
                        bold=True),
                    row("messages/s accepted (smtp-source done)", "accepted_per_s", "%.2f"),
                    row("s until all deliveries were at the sink", "seconds", "%.1f"),
                    row("s until the MTA's own messages were sent", "originals_seconds", "%.1f"),
                    row("milter CPU ms/msg", "milter_cpu_seconds_per_message", "%.1f", 1000,
                        bold=True),
                    row("notify CPU ms/msg", "notify_cpu_seconds_per_message", "%.1f", 1000),
                    row("Postfix CPU ms/msg", "postfix_cpu_seconds_per_message", "%.1f", 1000)]),
            ""]


def backends_section(p: dict, r: dict) -> list[str]:
    """Part 7: SQLite + files against PostgreSQL + S3, and two nodes against
    one, with the CPU each engine spent, which is what limits the figures.
    Names its own run, since it may be added to a report of another one."""
    m, dl, land, two = p["mail"], p["downloads"], p["landing"], p["two_nodes"]
    e = p["engines"]
    mail_rows = []
    for x in m["mixes"]:
        ms, cpu, eng = x["messages_per_s"], x["milter_cpu_ms_per_message"], \
            x["engines_cpu_ms_per_message"]["pg"]
        mail_rows.append([x["mix"], "%.2f" % (x["wire_bytes_per_message"] / 1e6),
                          "%.1f" % ms["sqlite"], "%.1f" % ms["pg"], "**%.2f**" % x["ratio"],
                          "%.1f / %.1f" % (cpu["sqlite"], cpu["pg"]),
                          "%.1f / %.1f / %.1f" % (eng["postgres"], eng["sigv4_front"],
                                                  eng["s3rver"])])
    dl_rows = []
    for key in ("1_clients", "4_clients"):
        x = dl[key]
        mbs, web, eng = x["mb_per_s"], x["web_cpu_s_per_gb"], x["engines_cpu_s_per_gb"]
        dl_rows.append(["%d" % x["clients"], "%.0f" % mbs["sqlite"], "%.0f" % mbs["pg"],
                        "**%.2f**" % (mbs["pg"] / mbs["sqlite"]), "%.0f" % mbs["pg_direct"],
                        "%.2f" % (mbs["pg_direct"] / mbs["sqlite"]),
                        "%.2f / %.2f / %.2f" % (web["sqlite"], web["pg"], web["pg_direct"]),
                        "%.2f / %.2f" % (eng["pg"]["sigv4_front"], eng["pg"]["s3rver"]),
                        "%.2f" % eng["pg_direct"]["s3rver"]])
    rq, lp99 = land["requests_per_s"], land["latency_ms_p99"]
    tdl, tland = two["downloads"], two["landing"]
    pg_ms = land["engines_cpu_ms_per_request"]["pg"]["postgres"]
    return ["## 7. Back ends: SQLite + files against PostgreSQL + S3", "",
            "`bench/backends.py`: one node keeps its catalog in SQLite and its blobs in files "
            "(the default); the other in PostgreSQL (%s, started by tests/e2e/engines.py on "
            "loopback, fsync %s) and S3 (s3rver %s on node %s, behind tests/e2e/"
            "sigv4_front.py, which checks every request's SigV4 signature and payload hash). "
            "Both sides, both engines and every client run on this one machine, taking turns, "
            "%d round(s) per figure; medians. CPU is user+system time: PostgreSQL's is its "
            "postmaster and backends, the front and s3rver are one process each."
            % (e["postgres"].replace("postgres (PostgreSQL) ", ""),
               "on" if p["postgres_fsync"] else "off", e["s3rver"], e["node"], m["rounds"]), "",
            "Measured by `%s` on %s: revision %s, %s build; load average before %s, after %s."
            % (r["command"], r["date"], r["attachgate"].get("git_head", "?"),
               r["attachgate"].get("build_type", "?"), r["loadavg_before"],
               r.get("loadavg_after", "?")), "",
            "**Mail**: `smtp-source -s %d -m %d` into a private Postfix per side, each with "
            "its own `attachgate milter` (over %s), relaying to `smtp-sink`; every message "
            "carries one attachment that is offloaded (checked at the sink), so each is one "
            "blob written and one catalog transaction. After the run the bucket held one "
            "object per message sent to the PostgreSQL side (%d)."
            % (m["concurrency"], m["messages"], m["milter_socket"], m["bucket_objects"]), "",
            _table(["mix", "message MB", "msg/s SQLite + files", "msg/s PostgreSQL + S3",
                    "ratio", "milter CPU ms/msg SQLite / PG", "PostgreSQL / front / s3rver "
                    "CPU ms/msg"], mail_rows), "",
            "**Downloads**: a %d MB file behind one link (seed_link `--config`, so stored as "
            "each node stores it), 1 or 4 curl clients, only the `GET /t/{ticket}` timed; "
            "MB/s over the batch's wall time. *Direct* is a third node on the same catalog "
            "and bucket that reads s3rver without the front (s3rver accepts any signature "
            "for its built-in key), to show what the front costs."
            % (p["file_bytes"] // 1_000_000), "",
            _table(["clients", "SQLite + files MB/s", "PostgreSQL + S3 MB/s", "ratio",
                    "direct MB/s", "ratio", "web CPU s/GB SQLite / PG / direct",
                    "front / s3rver CPU s/GB", "s3rver CPU s/GB direct"], dl_rows), "",
            "**Landing page**: `wrk -c%d -d%ds` (two wrk processes of one thread, %d "
            "connections each) on `GET /d/{token}`, which reads the link and records a "
            "`viewed` event after the response."
            % (land["connections"], land["seconds"], land["connections"] // 2), "",
            _table(["", "SQLite + files", "PostgreSQL + S3", "ratio"],
                   [["requests/s", "%.0f" % rq["sqlite"], "%.0f" % rq["pg"],
                     "**%.2f**" % (rq["pg"] / rq["sqlite"])],
                    ["latency p99 ms (the slower wrk)", "%.2f" % lp99["sqlite"],
                     "%.2f" % lp99["pg"], ""],
                    ["PostgreSQL CPU ms/request", "-", "%.3f" % pg_ms, ""]]), "",
            "**Two nodes against one**, both on PostgreSQL + S3: node B is a second "
            "`attachgate web` with its own state directory and the same master key file, "
            "catalog and bucket. The client spreads the load: 4 download clients, 2 on each "
            "node (against 4 on node A), and one wrk per node (against two on node A).", "",
            _table(["", "one node", "two nodes", "ratio"],
                   [["download MB/s, 4 clients", "%.0f" % tdl["mb_per_s"]["one"],
                     "%.0f" % tdl["mb_per_s"]["two"],
                     "**%.2f**" % (tdl["mb_per_s"]["two"] / tdl["mb_per_s"]["one"])],
                    ["front CPU s/GB", "%.2f" % tdl["engines_cpu_s_per_gb"]["one"]["sigv4_front"],
                     "%.2f" % tdl["engines_cpu_s_per_gb"]["two"]["sigv4_front"], ""],
                    ["landing requests/s", "%.0f" % tland["requests_per_s"]["one"],
                     "%.0f" % tland["requests_per_s"]["two"],
                     "**%.2f**" % (tland["requests_per_s"]["two"] / tland["requests_per_s"]["one"])],
                    ["PostgreSQL CPU ms/request",
                     "%.3f" % tland["engines_cpu_ms_per_request"]["one"]["postgres"],
                     "%.3f" % tland["engines_cpu_ms_per_request"]["two"]["postgres"], ""]]), "",
            "**What limits these figures.**", ""] + backends_limits(p) + [""]


def backends_limits(p: dict) -> list[str]:
    """Part 7's limits, from the CPU each process spent on each figure."""
    mix = {x["mix"]: x for x in p["mail"]["mixes"]}
    big = mix.get("2MB-attachment") or p["mail"]["mixes"][-1]
    eng = big["engines_cpu_ms_per_message"]["pg"]
    four = p["downloads"]["4_clients"]
    per_gb = four["web_cpu_s_per_gb"]["pg"] + four["engines_cpu_s_per_gb"]["pg"]["sigv4_front"] \
        + four["engines_cpu_s_per_gb"]["pg"]["s3rver"]
    land = p["landing"]
    web_ms = land["web_cpu_ms_per_request"]
    pg_ms = land["engines_cpu_ms_per_request"]["pg"]["postgres"]
    return [
        "- **One machine.** Both sides, both engines, Postfix and every client share this "
        "machine's 2 CPUs (and other people's builds and runs: the machine is shared and "
        "noisy), so a second node adds no CPU: two nodes against one measures what sharing "
        "the catalog and the bucket costs, not how far two machines would scale. Ratios "
        "taken in one run are what to compare.",
        "- **Mail.** Per %s message the PostgreSQL side cost, besides the milter's %.1f ms, "
        "%.1f ms of PostgreSQL, %.1f ms of the front and %.1f ms of s3rver: on 2 shared CPUs "
        "that CPU is taken from Postfix and the milter. The milter also waits for each S3 "
        "request and the commit (one advisory-locked transaction) on loopback."
        % (big["mix"], big["milter_cpu_ms_per_message"]["pg"], eng["postgres"],
           eng["sigv4_front"], eng["s3rver"]),
        "- **Downloads.** Per GB sent from S3 to 4 clients, the web worker spent %.2f s, "
        "the SigV4 front %.2f s and s3rver %.2f s of CPU (SQLite + files: the web worker "
        "%.2f s): %.1f CPU s per GB on the serving side alone, which caps it near %.0f MB/s "
        "on 2 CPUs before curl and the kernel's copies. s3rver (node.js, reading the object "
        "file and answering through Koa) costs more than the front; reading s3rver "
        "directly (*direct*) gave %.0f against %.0f MB/s. These are s3rver's and the "
        "front's limits, not a real object store's; the file fits the page cache on both "
        "sides." % (four["web_cpu_s_per_gb"]["pg"],
                    four["engines_cpu_s_per_gb"]["pg"]["sigv4_front"],
                    four["engines_cpu_s_per_gb"]["pg"]["s3rver"],
                    four["web_cpu_s_per_gb"]["sqlite"], per_gb, 2000 / per_gb,
                    four["mb_per_s"]["pg_direct"], four["mb_per_s"]["pg"]),
        "- **Landing page.** Each view cost %.3f ms of PostgreSQL CPU (its reads, and the "
        "`viewed` event, a write transaction under the advisory lock) and %.3f ms of the "
        "web worker's (against %.3f ms on SQLite, where the catalog is in the process), "
        "and every statement is a loopback round trip through libpq."
        % (pg_ms, web_ms["pg"], web_ms["sqlite"]),
        "- **PostgreSQL** runs with fsync on (as SQLite's catalog syncs), 32 MB of shared "
        "buffers, on loopback with no network between node and database.",
    ]


GROWTH_KINDS = [("landing", "landing page GET /d/{token}"), ("claim", "claim POST /d/{token} (303)"),
                ("status", "status page GET /s/{token}, 50 events"), ("healthz", "GET /healthz"),
                ("metrics", "GET /metrics (metrics port)"),
                ("list", "`attachgate list` (whole command)"),
                ("commit", "offload commit (record_offload + release_outbox)"),
                ("undo", "offload undone (remove_message)")]
GROWTH_TITLE = "## 8. Cost as the catalog grows"


def growth_section(g: dict) -> list[str]:
    """Part 8: p50/p99 per request kind at each catalog size, per engine."""
    out = [GROWTH_TITLE, "",
           "`bench/growth.py`: for each engine and size, `bench/growth_seed` writes a catalog "
           "of N messages by rows (2 recipients, 1 file, a link per recipient, a status page, "
           "a sent receipt and 4-5 events each; every tenth message's links expired with its "
           "file still stored), with token hashes made by the state directory's own hasher. "
           "Then one `attachgate purge`, `attachgate list` run %s times, %s offload commits "
           "through the milter's MilterCatalog (`bench/growth_commit`), and `attachgate web` "
           "with %d probe messages spread over the ids, each asked in turn (landing, claim, "
           "status, /healthz; /metrics after every fifth) %d time(s) on kept-alive "
           "connections. p50/p99 are nearest rank, in ms.%s The machine is shared: compare "
           "within a row, and look for growth with every size, not for tens of percent."
           % (g.get("list_runs", "?"), g.get("commits", "?"), g["probes"], g["rounds"],
              " PostgreSQL is 15 from `tests/e2e/engines.py` (%s)." % ", ".join(
                  "%s %s" % kv for kv in sorted(g["postgres_settings"].items()))
              if g.get("postgres_settings") else ""),
           ""]
    for engine, rows in g["engines"].items():
        head = ["%s, messages" % engine] + ["%d" % x["messages"] for x in rows]
        table = [["%s p50 / p99" % label] + ["%.2f / %.2f" % (x[k]["p50_ms"], x[k]["p99_ms"])
                                            for x in rows] for k, label in GROWTH_KINDS]
        table.append(["first claim after the start (web's own purge pass)"]
                     + ["%.1f" % x["first_claim_ms"] for x in rows])
        table.append(["`attachgate purge`, s (files purged)"]
                     + ["%.2f (%d)" % (x["purge"]["seconds"], x["purge"]["files"]) for x in rows])
        table.append(["seeding, s (rows; catalog MB)"]
                     + ["%.0f (%d; %.0f)" % (x["seed_seconds"], sum(x["rows"].values()),
                                             x["catalog_bytes"] / 1e6) for x in rows])
        out += [_table(head, table), ""]
    return out


def splice_section(md_path: Path, lines: list[str]) -> None:
    """Puts one part's section into docs/benchmarks.md in place of its old
    one (or before the closing note), leaving the other parts' as they are."""
    text = md_path.read_text() if md_path.exists() else "# Benchmarks\n"
    title = lines[0]
    section = "\n".join(lines).rstrip() + "\n\n"
    if title in text:
        start = text.index(title)
        end = text.find("\n## ", start + len(title))
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    elif "\n## Closing note" in text:
        at = text.index("\n## Closing note") + 1
        text = text[:at] + section + text[at:]
    else:
        text = text.rstrip() + "\n\n" + section
    md_path.write_text(text)


def _pair(d: dict | None) -> str:
    if not d:
        return "-"
    return "%.1f / %.1f" % (1000 * d["plain"], 1000 * d["milter"])


def _avg(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def _med(runs: list[dict], key: str) -> float:
    vals = sorted(x[key] for x in runs if x.get(key) is not None)
    return vals[len(vals) // 2] if vals else float("nan")


def svg(r: dict) -> str:
    """Two panels of horizontal bars: ratios (higher is better, target
    marked) and budgets used (figure / limit, lower is better)."""
    ts = targets(r)
    ratio = [t for t in ts if t["panel"] == "ratio"]
    land = r.get("downloads", {}).get("landing")
    if land:
        ratio.append({"short": "landing page req/s", "value": land["ratio"], "limit": None,
                      "met": None, "unit": "x"})
    rec = r.get("recipients")
    if rec:
        ratio.append({"short": "per-recipient links msg/s", "value": rec["ratio"], "limit": None,
                      "met": None, "unit": "x"})
    budget = [dict(t, value=t["value"] / t["limit"], raw=t["value"])
              for t in ts if t["panel"] == "budget"]
    width, left, right, bar_h, gap = 760, 190, 40, 22, 10
    plot_w = width - left - right
    y = 40
    parts: list[str] = []

    def panel(title: str, rows: list[dict], scale_max: float, label) -> None:
        nonlocal y
        parts.append('<text x="%d" y="%d" class="h">%s</text>' % (10, y, html.escape(title)))
        y += 14
        top, bottom = y, y + len(rows) * (bar_h + gap) - gap
        for i in range(0, int(scale_max * 4) + 1, 2):  # grid first, under the bars
            x = left + plot_w * (i / 4) / scale_max
            parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="g"/>'
                         % (x, top - 4, x, bottom + 4))
            parts.append('<text x="%.1f" y="%d" class="a">%g</text>' % (x, bottom + 18, i / 4))
        for t in rows:
            w = max(plot_w * min(t["value"], scale_max) / scale_max, 1)
            colour = "#999" if t.get("met") is None else "#2e7d32" if t["met"] else "#c62828"
            parts.append('<text x="%d" y="%d" class="l">%s</text>'
                         % (left - 8, y + bar_h - 6, html.escape(t["short"])))
            parts.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                         % (left, y, w, bar_h, colour))
            end = left + w
            if t.get("limit") is not None:
                tx = left + plot_w * min(t["limit"] if "raw" not in t else 1.0, scale_max) / scale_max
                parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="t"/>'
                             % (tx, y - 3, tx, y + bar_h + 3))
                if abs(tx - end) < 45:
                    end = max(end, tx)
            parts.append('<text x="%.1f" y="%d" class="v">%s</text>'
                         % (end + 5, y + bar_h - 6, html.escape(label(t))))
            y += bar_h + gap
        y += 48

    if ratio:
        top = max(1.5, max(t["value"] for t in ratio) * 1.15)
        panel("Ratios: attachgate / baseline (higher is better; black tick = target)", ratio,
              round(top * 2 + 0.49) / 2,
              lambda t: ("%.2f" if t["value"] >= 0.1 else "%.3f") % t["value"])
    if budget:
        top = max(1.5, max(t["value"] for t in budget) * 1.25)
        panel("Budgets: figure / limit (lower is better; black tick = limit)", budget,
              round(top * 2 + 0.49) / 2,
              lambda t: "%.1f %s of %g" % (t["raw"], t["unit"], t["limit"]))
    legend = ('<text x="10" y="%d" class="n">green: target met; red: missed; '
              'grey: no target. %s, %s</text>' % (y - 16, html.escape(r["date"]),
                                                  html.escape(r["attachgate"].get("git_head", ""))))
    head = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">' % (width, y, width, y))
    style = ('<style>.h{font-weight:bold;font-size:13px}.l{text-anchor:end}.v{fill:#222}'
             '.a{text-anchor:middle;fill:#555;font-size:10px}.t{stroke:#000;stroke-width:2.5}'
             '.g{stroke:#ddd;stroke-width:1}.n{fill:#555;font-size:10px}</style><rect width="100%" height="100%" fill="#fff"/>')
    title = '<text x="10" y="20" class="h">attachgate benchmarks (bench/run)</text>'
    return "\n".join([head, style, title] + parts + [legend, "</svg>"]) + "\n"


def console_table(r: dict) -> str:
    ts = targets(r)
    w = max((len(t["name"]) for t in ts), default=10)
    lines = ["%-*s  %12s  %10s  %s" % (w, "target", "figure", "limit", "result")]
    for t in ts:
        lines.append("%-*s  %12s  %10s  %s" % (w, t["name"], _fmt_value(t), _fmt_target(t),
                                               "met" if t["met"] else "MISSED"))
    codes = r.get("codes")
    if codes:
        for key in ("healthz", "landing"):
            lines.append("%-*s  %12s  %10s  %s" % (
                w, "p99 %s with/without code flood" % key, "%.2f" % codes[key]["ratio_p99"], "-",
                "(%.2f -> %.2f ms)" % (codes[key]["quiet_ms_p99"], codes[key]["flood_ms_p99"])))
    land = r.get("downloads", {}).get("landing")
    if land:
        lines.append("%-*s  %12s  %10s  %s" % (w, "Landing page requests/s attachgate/nginx",
                                               "%.3f" % land["ratio"], "-", "(no target)"))
    be = r.get("backends")
    if be:
        w = max(w, 52)
        for x in be["mail"]["mixes"]:
            lines.append("%-*s  %12s  %10s  %s" % (
                w, "Mail msg/s PostgreSQL+S3/SQLite, %s" % x["mix"], "%.2f" % x["ratio"], "-",
                "(%.1f / %.1f msg/s)" % (x["messages_per_s"]["pg"], x["messages_per_s"]["sqlite"])))
        for key, x in be["downloads"].items():
            mbs = x["mb_per_s"]
            lines.append("%-*s  %12s  %10s  %s" % (
                w, "Download MB/s PostgreSQL+S3/SQLite, %d client(s)" % x["clients"],
                "%.2f" % (mbs["pg"] / mbs["sqlite"]), "-",
                "(%.0f / %.0f MB/s; %.0f without the SigV4 front)"
                % (mbs["pg"], mbs["sqlite"], mbs["pg_direct"])))
        rq = be["landing"]["requests_per_s"]
        lines.append("%-*s  %12s  %10s  %s" % (
            w, "Landing requests/s PostgreSQL+S3/SQLite", "%.2f" % (rq["pg"] / rq["sqlite"]), "-",
            "(%.0f / %.0f)" % (rq["pg"], rq["sqlite"])))
        for key, label, unit in (("downloads", "Download MB/s, 4 clients", "mb_per_s"),
                                 ("landing", "Landing requests/s", "requests_per_s")):
            v = be["two_nodes"][key][unit]
            lines.append("%-*s  %12s  %10s  %s" % (
                w, "%s, two nodes/one (PostgreSQL+S3)" % label, "%.2f" % (v["two"] / v["one"]),
                "-", "(%.0f / %.0f)" % (v["two"], v["one"])))
    rec = r.get("recipients")
    if rec:
        pr, sh = rec["per_recipient"], rec["shared"]
        lines.append("%-*s  %12s  %10s  %s" % (
            w, "Messages/s links per_recipient/shared", "%.2f" % rec["ratio"], "-",
            "(%.2f / %.2f msg/s; all delivered in %.1f / %.1f s)"
            % (pr["messages_per_s"], sh["messages_per_s"], pr["seconds"], sh["seconds"])))
        lines.append("%-*s  %12s  %10s  %s" % (
            w, "Milter CPU per message per_recipient/shared", "%.2f" % rec["milter_cpu_ratio"],
            "-", "(%.1f / %.1f ms; notify %.1f / %.1f ms)"
            % (1000 * pr["milter_cpu_seconds_per_message"],
               1000 * sh["milter_cpu_seconds_per_message"],
               1000 * pr["notify_cpu_seconds_per_message"],
               1000 * sh["notify_cpu_seconds_per_message"])))
    for engine, ratios in r.get("growth", {}).get("growth", {}).items():
        lines.append("%-*s  %12s  %10s  %s" % (
            w, "p99 growth, largest/smallest catalog, %s" % engine, "-", "-",
            ", ".join("%s %.2f" % kv for kv in ratios.items())))
    return "\n".join(lines)


def write(r: dict, md_path: Path, chart_path: Path, analysis_path: Path | None) -> None:
    analysis = analysis_path.read_text() if analysis_path and analysis_path.exists() else None
    chart_path.parent.mkdir(parents=True, exist_ok=True)
    chart_path.write_text(svg(r))
    md_path.write_text(markdown(r, chart_path.name, analysis))
