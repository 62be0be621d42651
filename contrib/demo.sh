#!/usr/bin/env bash
# demo.sh - the newcomer's command: install what is missing, build, and run
# attachgate on its embedded defaults behind a private Postfix on
# 127.0.0.1:2525 that delivers every mail to one local Maildir.
#
# Runs as root (Postfix's master must). It only ever stops processes it
# started itself (by the pid in var/demo/attachgate.pid, and the Postfix
# instance in its own directory). See --help for the commands and files.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd -P)
prog=demo
smtp_port=2525
milter_port=8026
bin=$top/build/app/attachgate
state_dir=$top/var            # attachgate's embedded default state_dir, kept 0700
demo_dir=$state_dir/demo      # logs, pid file, sample attachment (root only)
# Postfix's daemons run as postfix and deliver as nobody: they cannot enter
# ./var (0700), and a checkout under /root is closed to them too. So the
# Postfix instance and its Maildir live where those users can reach them.
pf_root=/var/tmp/attachgate-demo
pf_dir=$pf_root/postfix
mailbox_dir=$pf_root/mailbox
maildir=$mailbox_dir/Maildir
pid_file=$demo_dir/attachgate.pid
sample=$demo_dir/sample.pdf
sender=alice@example.org
external_rcpt=bob@example.net     # another domain: counts as external
internal_rcpt=carol@example.org   # the sender's own domain: internal

usage() {
  cat <<EOF
Usage: contrib/demo.sh [start | stop | status | mail | selftest | --help]

  start     (default) install what is missing, build into ./build, and start
            attachgate plus a private Postfix wired to it; then print the
            swaks line that sends a test mail, and where to read the result.
            Running it again restarts both cleanly.
  stop      stop the private Postfix and attachgate (files are kept).
  status    say what is running.
  mail      print the newest mail in the demo's Maildir.
  selftest  start, send two test mails, check them, stop; exit 0 if all
            checks pass, 1 if not. Stops a demo that was already running.

What runs:
  attachgate run --milter-socket inet:$milter_port@127.0.0.1, from $top,
    with its embedded defaults (conf/*.toml as shipped, state in ./var).
    Three overrides: Postfix's smtpd runs as user postfix and cannot reach
    the default socket unix:./var/milter.sock, because attachgate keeps
    ./var at mode 0700, so the milter listens on loopback TCP instead;
    receipts and download notices go to the demo's Postfix
    (--relay smtp://127.0.0.1:$smtp_port), so they land in the same Maildir;
    and the delivery watcher follows that Postfix's log (--postfix-log).
  Postfix on 127.0.0.1:$smtp_port (contrib/private-postfix.sh), its milter
    attachgate, delivering every mail to $maildir/.

Files:
  var/demo/*.log          install, build, attachgate and selftest logs
  var/demo/sample.pdf     a 6 MB PDF (the default policy offloads > 5 MB)
  var/demo/Maildir        link to $maildir
  var/demo/postfix.log    link to $pf_dir/maillog

The download links in the mail point at http://127.0.0.1:8025, where
attachgate run's web server answers. The sender's receipt (in the same
Maildir) holds the link to the private status page.

Must run as root; from a non-root account the script re-runs itself with
sudo. Exit status: 0 done, 1 failed, 2 bad usage, 3 (status) not running.
EOF
}

say() { echo "$prog: $*"; }
die() { echo "$prog: error: $*" >&2; exit 1; }

# port_open PORT: does anything accept connections on 127.0.0.1:PORT?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for SECONDS CMD...: retry CMD every 0.2 s until it succeeds.
wait_for() {
  local tries=$(($1 * 5)); shift
  until "$@"; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || return 1
    sleep 0.2
  done
}

# run_logged LOG TITLE CMD...: run CMD with its output appended to LOG,
# showing elapsed time (and a build's last "[ NN%]") while it runs. On
# failure, show the end of LOG and exit.
run_logged() {
  local log=$1 title=$2; shift 2
  printf '\n--- %s: %s\n' "$(date '+%F %T')" "$*" >>"$log"
  "$@" >>"$log" 2>&1 &
  local pid=$! start=$SECONDS ticks=0 rc=0 pct
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.2
    ticks=$((ticks + 1))
    if [ -t 1 ] && [ $((ticks % 5)) -eq 0 ]; then
      pct=$(tail -c 4096 "$log" | grep -o '^\[ *[0-9]*%\]' | tail -n 1 || true)
      printf '\r==> %s ... %ds %s ' "$title" $((SECONDS - start)) "$pct"
    elif [ ! -t 1 ] && [ $((ticks % 75)) -eq 0 ]; then
      printf '==> %s ... still running (%ds)\n' "$title" $((SECONDS - start))
    fi
  done
  wait "$pid" || rc=$?
  [ -t 1 ] && printf '\r\033[K'
  if [ "$rc" -ne 0 ]; then
    printf '==> %s: FAILED after %ds (exit %d); last lines of %s:\n' \
      "$title" $((SECONDS - start)) "$rc" "$log" >&2
    tail -n 25 "$log" | sed 's/^/  | /' >&2
    exit 1
  fi
  printf '==> %s: done (%ds)\n' "$title" $((SECONDS - start))
}

# Our attachgate, if the pid file names a live process started from $bin.
attachgate_pid() {
  local pid
  pid=$(cat "$pid_file" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  [ "$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 1p)" = "$bin" ] || return 1
  echo "$pid"
}

stop_attachgate() {
  local pid
  if ! pid=$(attachgate_pid); then
    rm -f "$pid_file"
    return 0
  fi
  say "stopping attachgate (pid $pid; messages in progress may finish)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for 30 eval '! kill -0 '"$pid"' 2>/dev/null'; then
    say "attachgate still running after 30 s; stopping it at once"
    kill -TERM "$pid" 2>/dev/null || true  # a second SIGTERM stops at once
    wait_for 10 eval '! kill -0 '"$pid"' 2>/dev/null' || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

stop_postfix() {
  [ -d "$pf_dir" ] || return 0
  "$top/contrib/private-postfix.sh" stop "$pf_dir" | sed 's/^/  /'
}

# Another checkout's demo owns the shared Postfix directory and ports.
check_owner() {
  local owner
  owner=$(cat "$pf_root/checkout" 2>/dev/null || true)
  if [ -n "$owner" ] && [ "$owner" != "$top" ] && [ -d "$owner" ] &&
     postfix -c "$pf_dir/etc" status >/dev/null 2>&1; then
    die "the demo of $owner is running; stop it first: $owner/contrib/demo.sh stop"
  fi
}

# A small valid PDF (one page of text) padded to 6 MB with an unreferenced
# stream of random bytes: over the 5 MB of the default policy, and random
# so no part of it can pass a check by accident.
make_sample_pdf() {
  local out=$1 tmp=$1.tmp pad=$((6 * 1024 * 1024)) text xref
  local -a off=()
  obj() { off+=("$(stat -c %s "$tmp")"); printf '%s\n' "$@" >>"$tmp"; }
  printf '%%PDF-1.4\n%%\342\343\317\323\n' >"$tmp"
  obj "1 0 obj" "<< /Type /Catalog /Pages 2 0 R >>" "endobj"
  obj "2 0 obj" "<< /Type /Pages /Kids [3 0 R] /Count 1 >>" "endobj"
  obj "3 0 obj" "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]" \
    "   /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>" "endobj"
  text="BT /F1 24 Tf 72 760 Td (attachgate demo attachment) Tj ET"
  obj "4 0 obj" "<< /Length ${#text} >>" "stream" "$text" "endstream" "endobj"
  obj "5 0 obj" "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>" "endobj"
  off+=("$(stat -c %s "$tmp")")
  { printf '6 0 obj\n<< /Length %d >>\nstream\n' "$pad"
    head -c "$pad" /dev/urandom
    printf '\nendstream\nendobj\n'; } >>"$tmp"
  xref=$(stat -c %s "$tmp")
  { printf 'xref\n0 7\n0000000000 65535 f \n'
    printf '%010d 00000 n \n' "${off[@]}"
    printf 'trailer\n<< /Size 7 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' "$xref"; } >>"$tmp"
  mv "$tmp" "$out"
}

# Commands the user runs next: with sudo if they came to us through sudo.
as_root=""
[ -n "${SUDO_USER:-}" ] && [ "${SUDO_USER}" != root ] && as_root="sudo "

swaks_line() {  # swaks_line RECIPIENT
  echo "${as_root}swaks --server 127.0.0.1:$smtp_port --from $sender --to $1" \
    "--header 'Subject: attachgate demo' --body 'The report is attached.'" \
    "--attach-type application/pdf --attach @$(printf %q "$sample") --suppress-data"
}

cmd_start() {
  local started=$SECONDS
  # ./var is attachgate's state directory; create it as attachgate would
  # (0700), since its catalog relies on the directory's mode.
  [ -d "$state_dir" ] || install -d -m 0700 "$state_dir"
  install -d -m 0700 "$demo_dir"
  check_owner

  run_logged "$demo_dir/install.log" "installing missing packages (contrib/install-deps.sh --with-tests)" \
    bash "$top/contrib/install-deps.sh" --with-tests
  command -v postfix >/dev/null && command -v swaks >/dev/null ||
    die "postfix or swaks is still missing; see $demo_dir/install.log"

  run_logged "$demo_dir/build.log" "configuring the build in ./build" \
    cmake -S "$top" -B "$top/build"
  run_logged "$demo_dir/build.log" "building attachgate (log: var/demo/build.log)" \
    cmake --build "$top/build" --target attachgate -j "$(nproc 2>/dev/null || echo 2)"

  # Stop what an earlier run left behind: Postfix first, so no mail
  # arrives while the milter is away.
  stop_postfix
  stop_attachgate

  cd "$top"
  # Receipts and download notices go through the demo's own Postfix (so they
  # land in the same Maildir), and the delivery watcher follows its log.
  local flags=(--milter-socket "inet:$milter_port@127.0.0.1"
    --relay "smtp://127.0.0.1:$smtp_port" --postfix-log "$pf_dir/maillog")
  if ! "$bin" "${flags[@]}" check >"$demo_dir/check.log" 2>&1; then
    sed 's/^/  | /' "$demo_dir/check.log" >&2
    die "attachgate check found problems in the config (above)"
  fi
  port_open "$milter_port" &&
    die "127.0.0.1:$milter_port is already in use by another program (the demo's milter port)"

  local log=$demo_dir/attachgate.log
  printf '\n--- %s: %s %s run\n' "$(date '+%F %T')" "$bin" "${flags[*]}" >>"$log"
  # setsid: no controlling terminal, so closing it does not send SIGHUP
  # (which attachgate takes as "reload"). No nohup: it would ignore SIGHUP.
  setsid "$bin" "${flags[@]}" run >>"$log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pid_file"
  if ! wait_for 15 eval 'port_open '"$milter_port"' || ! kill -0 '"$pid"' 2>/dev/null' ||
     ! kill -0 "$pid" 2>/dev/null; then
    tail -n 20 "$log" | sed 's/^/  | /' >&2
    rm -f "$pid_file"
    die "attachgate did not start (log above, from $log)"
  fi
  say "attachgate is running (pid $pid), milter on 127.0.0.1:$milter_port"

  install -d -m 0755 "$pf_root"
  echo "$top" >"$pf_root/checkout"
  run_logged "$demo_dir/postfix-start.log" "starting the private Postfix on 127.0.0.1:$smtp_port" \
    "$top/contrib/private-postfix.sh" start "$pf_dir" --port "$smtp_port" \
    --milter "inet:127.0.0.1:$milter_port" --mailbox-dir "$mailbox_dir" --name demo
  ln -sfn "$maildir" "$demo_dir/Maildir"
  ln -sfn "$pf_dir/maillog" "$demo_dir/postfix.log"

  if [ ! -f "$sample" ] || [ "$(stat -c %s "$sample")" -le 5000000 ]; then
    make_sample_pdf "$sample"
  fi

  [ "${banner:-1}" = 1 ] || return 0
  local b="${as_root}./build/app/attachgate"
  cat <<EOF

attachgate demo is running ($((SECONDS - started)) s).
  attachgate  pid $pid, milter on 127.0.0.1:$milter_port, state in $state_dir
              log: var/demo/attachgate.log
  Postfix     smtp://127.0.0.1:$smtp_port, delivers every mail to $maildir/new/
              log: var/demo/postfix.log
  web server  http://127.0.0.1:8025 (landing pages and downloads)

1. Send a mail with a 6 MB PDF to an outside recipient (the default policy
   offloads attachments over 5 MB when a recipient is outside the sender's
   domain):

   $(swaks_line "$external_rcpt")

   To see the other case, send it to $internal_rcpt: same domain as
   the sender, so the mail is delivered unchanged, attachment and all.

2. Read the rewritten mail: the newest file in $maildir/new/
   (also var/demo/Maildir/new/), or print it with

   ${as_root}$top/contrib/demo.sh mail

   It carries X-Attachgate: offloaded=1 and a download block instead of the PDF.

3. See what attachgate recorded (from $top):

   $b list
   $b show QUEUE_ID      (the id in swaks' "250 2.0.0 Ok: queued as ...")

4. Open the link from the mail (http://127.0.0.1:8025/d/...) in a browser
   on this machine: the landing page shows the file; Download fetches it
   once, and the link then answers "already downloaded".

Stop everything:  ${as_root}$top/contrib/demo.sh stop
EOF
}

cmd_stop() {
  stop_postfix
  stop_attachgate
  say "stopped. Kept: state in $state_dir, logs in $demo_dir, mail in $maildir"
  say "to remove the demo's files: rm -rf $demo_dir $pf_root"
}

cmd_status() {
  local rc=0 pid
  if pid=$(attachgate_pid); then say "attachgate running (pid $pid), milter on 127.0.0.1:$milter_port"
  else say "attachgate not running"; rc=3
  fi
  if [ -d "$pf_dir" ] && postfix -c "$pf_dir/etc" status >/dev/null 2>&1; then
    say "Postfix running on 127.0.0.1:$smtp_port"
  else say "Postfix not running"; rc=3
  fi
  say "$(find "$maildir/new" -type f 2>/dev/null | wc -l) mails in $maildir/new/"
  return "$rc"
}

# (Pipelines here end in sed or awk reading all their input: a reader that
# quits early, like head, would fail the pipeline with SIGPIPE under pipefail.)
newest_mail() { ls -t "$maildir"/new/* 2>/dev/null | sed -n 1p; }

cmd_mail() {
  local f
  f=$(newest_mail)
  [ -n "$f" ] || die "no mail in $maildir/new/ yet"
  echo "==> $f"
  cat "$f"
}

# ---- selftest ---------------------------------------------------------------

failures=0
check() {  # check DESCRIPTION CMD...
  local what=$1; shift
  if "$@"; then echo "  ok    $what"
  else echo "  FAIL  $what"; failures=$((failures + 1))
  fi
}

# send RECIPIENT: send the sample, print the queue id.
send_sample() {
  local out=$demo_dir/selftest-swaks.log qid
  eval "$(swaks_line "$1" | sed 's/^sudo //')" >>"$out" 2>&1 || true
  qid=$(grep -o 'queued as [0-9A-Za-z]*' "$out" | awk 'END { print $3 }')
  [ -n "$qid" ] || { tail -n 15 "$out" | sed 's/^/  | /' >&2; return 1; }
  echo "$qid"
}

# wait_delivered QID: Postfix's final word on QID is status=sent; print the file.
wait_delivered() {
  local qid=$1 log=$pf_dir/maillog line file
  wait_for 60 grep -q " $qid: to=<.*status=\(sent\|bounced\|deferred\)" "$log" || return 1
  line=$(grep " $qid: to=<.*status=" "$log" | tail -n 1)
  case $line in *status=sent*) ;; *) echo "  $line" >&2; return 1 ;; esac
  file=$(grep -l "with ESMTP id $qid" "$maildir"/new/* 2>/dev/null | sed -n 1p)
  [ -n "$file" ] && echo "$file"
}

# newest_receipt SINCE: a receipt delivered after the file SINCE, if any.
newest_receipt() {
  find "$maildir/new" -type f -newer "$1" -print0 2>/dev/null |
    xargs -0 -r grep -l '^X-Attachgate-Kind: receipt' | sed -n 1p
}

# check_receipt SINCE: the sender's receipt arrived, and its status page
# shows the delivery the watcher read from Postfix's log.
check_receipt() {
  local receipt="" status_url=""
  wait_for 60 eval '[ -n "$(newest_receipt "'"$1"'")" ]' || true
  receipt=$(newest_receipt "$1")
  check "receipt to the sender arrived (X-Attachgate-Kind: receipt)" test -n "$receipt"
  [ -n "$receipt" ] || return 0
  status_url=$(grep -Eo 'http://127\.0\.0\.1:8025/s/[A-Za-z0-9_-]{43}' "$receipt" | sed -n 1p)
  check "the receipt links to a status page" test -n "$status_url"
  [ -n "$status_url" ] || return 0
  wait_for 60 bash -c 'curl -fsS "$1" | grep -q "delivered 2"' _ "$status_url" || true
  check "the status page shows the delivery (curl $status_url)" \
    bash -c 'curl -fsS "$1" | grep -q "delivered 2"' _ "$status_url"
}

cmd_selftest() {
  local started=$SECONDS
  trap 'echo; say "selftest stopped early; stopping the demo"; cmd_stop >/dev/null 2>&1 || true' EXIT
  banner=0 cmd_start
  : >"$demo_dir/selftest-swaks.log"

  # A line of the attachment's base64 as swaks sends it (57 bytes a line):
  # line 2000 lies in the random padding, so only the attachment has it.
  local probe
  probe=$(dd if="$sample" bs=57 skip=2000 count=1 status=none | base64 -w 0)

  echo "==> mail to an external recipient ($external_rcpt): offloaded"
  local qid file b="$bin" export_file=$demo_dir/selftest-export.bin json file_id
  local since=$demo_dir/selftest-since
  touch "$since"  # mail newer than this is this run's (the Maildir is kept)
  if ! qid=$(send_sample "$external_rcpt"); then
    check "Postfix accepted the mail (see var/demo/selftest-swaks.log)" false
  elif ! file=$(wait_delivered "$qid"); then
    check "message $qid delivered within 60 s (see var/demo/postfix.log)" false
  else
    echo "  queue id $qid, delivered to $file"
    check "X-Attachgate: offloaded=1 header" grep -Eq '^X-Attachgate: offloaded=1; message=[0-9a-f]+$' "$file"
    check "download link http://127.0.0.1:8025/d/TOKEN" \
      grep -Eq 'http://127\.0\.0\.1:8025/d/[A-Za-z0-9_-]{20,}' "$file"
    check "notice names sample.pdf" grep -q 'sample\.pdf' "$file"
    check "attachment bytes gone from the mail" bash -c '! grep -qF "$1" "$2"' _ "$probe" "$file"
    check "mail is small ($(stat -c %s "$file") bytes; the PDF is $(stat -c %s "$sample"))" \
      test "$(stat -c %s "$file")" -lt 1000000
    check "attachgate logged '$qid: offloaded 1 file'" \
      grep -q "$qid: offloaded 1 file" "$demo_dir/attachgate.log"
    json=$(cd "$top" && "$b" show "$qid" --json 2>/dev/null || true)
    file_id=$(printf '%s\n' "$json" |
      awk '/"files": \[/ { f = 1 } f && !done && /"id":/ { gsub(/.*"id": *"|".*/, ""); print; done = 1 }')
    rm -f "$export_file"
    check "attachgate show $qid lists the file" test -n "$file_id"
    if [ -n "$file_id" ]; then
      (cd "$top" && "$b" export "$file_id" -o "$export_file") >/dev/null 2>&1 || true
      check "stored file decrypts to the original (sha256)" \
        test "$(sha256sum <"$sample")" = "$(sha256sum <"$export_file" 2>/dev/null)"
      rm -f "$export_file"
    fi
    local link
    link=$(grep -Eo 'http://127\.0\.0\.1:8025/d/[A-Za-z0-9_-]{43}' "$file" | sed -n 1p)
    if [ -n "$link" ] && [ -n "$file_id" ]; then
      check "the link's page names sample.pdf (curl $link)" \
        bash -c 'curl -fsS "$1" | grep -q "sample\.pdf"' _ "$link"
      curl -fsS -L -d "file=$file_id" -o "$export_file" "$link" 2>/dev/null || true
      check "Download through the link gives the original (sha256)" \
        test "$(sha256sum <"$sample")" = "$(sha256sum <"$export_file" 2>/dev/null)"
      rm -f "$export_file"
    fi
    check_receipt "$since"
  fi

  echo "==> mail to an internal recipient ($internal_rcpt): kept"
  if ! qid=$(send_sample "$internal_rcpt"); then
    check "Postfix accepted the mail (see var/demo/selftest-swaks.log)" false
  elif ! file=$(wait_delivered "$qid"); then
    check "message $qid delivered within 60 s (see var/demo/postfix.log)" false
  else
    echo "  queue id $qid, delivered to $file"
    check "no X-Attachgate header" bash -c '! grep -q "^X-Attachgate:" "$1"' _ "$file"
    check "attachment still in the mail" grep -qF "$probe" "$file"
  fi

  trap - EXIT
  echo "==> stopping"
  cmd_stop | sed 's/^/  /'
  if [ "$failures" -eq 0 ]; then
    say "selftest passed in $((SECONDS - started)) s"
    return 0
  fi
  say "selftest FAILED: $failures checks; logs in $demo_dir"
  return 1
}

main() {
  local cmd=${1:-start}
  case $cmd in
    -h|--help|help) usage; exit 0 ;;
    start|stop|status|mail|selftest) ;;
    *) echo "$prog: unknown command '$cmd'" >&2; echo "Try '$0 --help'." >&2; exit 2 ;;
  esac
  [ $# -le 1 ] || { echo "$prog: $cmd takes no arguments" >&2; exit 2; }
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "must run as root (Postfix's master runs as root)"
    say "re-running as root with sudo"
    exec sudo "$0" "$@"
  fi
  "cmd_$cmd"
}

main "$@"
