#!/usr/bin/env bash
# private-postfix.sh - run a throw-away Postfix instance under one directory,
# listening on 127.0.0.1 only, for the demo and the end-to-end tests.
#
# It never touches the system instance's queue or ports; the only shared file
# it edits is /etc/postfix/main.cf, to list the instance's config directory in
# alternate_config_directories (added on start, removed on stop, under a lock).
# Must run as root. See --help for usage; facts learned the hard way about
# private instances are collected in the NOTES comment below.
set -euo pipefail

# NOTES on private Postfix instances (Postfix 3.7, Debian 12, running as root)
# - `postfix -c CONFDIR` only works for CONFDIR listed in the *default*
#   instance's alternate_config_directories (/etc/postfix/main.cf), which may
#   not even exist on a machine where Postfix is "installed unconfigured".
# - `postfix start` runs post-install create-missing, which creates the queue
#   subdirectories with the right owners, but data_directory must already be
#   owned by mail_owner (postfix).
# - check-warn complains about anything under config_directory not owned by
#   root, so the config lives in DIR/etc, apart from DIR/queue and DIR/data.
# - Without syslog, Postfix logs nothing anywhere unless maillog_file is set,
#   and maillog_file is refused unless it starts with one of
#   maillog_file_prefixes. It also needs the postlog service in master.cf.
# - Postfix prints start-up errors only to a terminal or to its log, so the
#   start command runs under `script` to capture them.
# - Daemons drop to the postfix user: every directory on the path to a file
#   they must reach by absolute path (maillog, data dir, mailbox dir, a unix
#   milter socket) needs to be searchable by that user; mktemp -d makes 0700.
# - smtpd sends only the macros named in milter_*_macros; {client_addr} is not
#   among Postfix's defaults, and {daemon_name} is milter_macro_daemon_name
#   (default $myhostname), not the master.cf service name.
# - Every daemon works in queue_directory, and a chrooted one (--chroot) has
#   it as its root: a unix: milter path relative to it (unix:dir/sock) is
#   right both ways, an absolute one only one way (MILTER_README).
# - A daemon drops to the postfix user with initgroups(), so a group that
#   postfix joins counts for daemons started after that.
# - Children of master (smtpd, ...) keep the listening socket open for a
#   moment after `postfix stop`, so stop waits until the port is closed.
# - mailbox_size_limit / virtual_mailbox_limit must be >= message_size_limit
#   or Postfix refuses to start; 0 means no limit.
# - virtual(8) refuses to deliver as root; mailboxes are written as nobody.

prog=private-postfix
shipped_master_cf=$(cd "$(dirname "$0")" && pwd -P)/postfix/master.cf
main_cf=/etc/postfix/main.cf
lock_file=/run/lock/attachgate-private-postfix.lock

usage() {
  cat <<EOF
Usage:
  $0 start DIR --port PORT --milter SPEC... (--relay-to HOST:PORT | --mailbox-dir DIR2)
      [--inject-port PORT2 [--inject-milter SPEC...]] [--chroot]
  $0 stop DIR
  $0 status DIR

Runs a private Postfix whose config, queue, data and log all live under DIR:
  DIR/etc/main.cf, DIR/etc/master.cf   configuration (rewritten on every start)
  DIR/queue                            queue_directory
  DIR/data                             data_directory
  DIR/maillog                          the log (there is no syslog)
It listens with smtpd on 127.0.0.1:PORT only (and 127.0.0.1:PORT2 with
--inject-port) and accepts mail from 127.0.0.0/8.

Options for start:
  --port PORT            smtpd port on 127.0.0.1 (default 2525)
  --milter SPEC          milter for smtpd_milters and non_smtpd_milters, in
                         Postfix form: inet:127.0.0.1:8891, unix:/path/sock,
                         unix:dir/sock (relative to DIR/queue), or none.
                         Give it again for each further milter; Postfix calls
                         them in that order (attachgate, then a DKIM signer)
  --inject-port PORT2    a second smtpd on 127.0.0.1:PORT2: the injection
                         service of contrib/postfix/master.cf (recipient
                         copies from attachgate's notify role), copied from
                         there, logging as postfix-NAME/attachgate-inject
  --inject-milter SPEC   its milters, \$dkim_signer in main.cf (repeatable;
                         default none): the DKIM signer, never attachgate
  --relay-to HOST:PORT   send all outbound mail by SMTP to HOST:PORT, e.g. an
                         smtp-sink on 127.0.0.1:2526 (no DNS is used)
  --mailbox-dir DIR2     deliver all mail, for any recipient, to the Maildir
                         DIR2/Maildir/ (each file in new/ is one message)
  --name NAME            syslog_name suffix in the log (default: basename DIR)
  --chroot               run smtpd and cleanup chrooted in DIR/queue, as
                         Debian's master.cf does

start on a running instance stops it and starts it again with the new
settings. start returns once the smtpd port answers; stop returns once it is
closed. Must run as root. Exit status is 0 on success, 1 on any failure (the
tail of DIR/maillog is shown), 2 on bad usage.
EOF
}

say() { echo "$prog: $*"; }
usage_error() { echo "$prog: $*" >&2; echo "Try '$0 --help'." >&2; exit 2; }
die() {
  echo "$prog: error: $*" >&2
  if [ -n "${log_file:-}" ] && [ -s "$log_file" ]; then
    echo "$prog: last lines of $log_file:" >&2
    tail -n 20 "$log_file" | sed 's/^/  | /' >&2
  fi
  exit 1
}

# port_open PORT: does something accept connections on 127.0.0.1:PORT?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT open|closed SECONDS
wait_port() {
  local port=$1 want=$2 tries=$(($3 * 10))
  while [ "$tries" -gt 0 ]; do
    if port_open "$port"; then [ "$want" = open ] && return 0
    else [ "$want" = closed ] && return 0
    fi
    sleep 0.1
    tries=$((tries - 1))
  done
  return 1
}

# Run a postfix command for this instance; its errors go only to a terminal,
# so give it one with script(1) and keep what it printed.
postfix_cmd() {
  local out
  if out=$(script -qec "postfix -c '$conf_dir' $*" /dev/null 2>&1); then
    [ -z "$out" ] || printf '%s\n' "$out" | tr -d '\r' | sed 's/^/  | /'
    return 0
  fi
  printf '%s\n' "$out" | tr -d '\r' | sed 's/^/  | /' >&2
  return 1
}

valid_port() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

# milter_list SPEC...: the specs as one Postfix list, in the order given
# (empty for "none", which stands alone).
milter_list() {
  local spec out=()
  for spec in "$@"; do
    case $spec in
      none) [ $# -eq 1 ] || usage_error "'none' cannot be combined with other milters" ;;
      inet:*:[0-9]*|unix:?*) out+=("$spec") ;;
      *) usage_error "a milter must be inet:HOST:PORT, unix:PATH or none, not '$spec'" ;;
    esac
  done
  local IFS=,
  printf '%s' "${out[*]}"
}

is_running() {
  [ -f "$conf_dir/main.cf" ] && [ -d "$queue_dir" ] &&
    postfix -c "$conf_dir" status >/dev/null 2>&1
}

# Add or remove our config dir in the default instance's
# alternate_config_directories; a lock keeps parallel test runs from losing
# each other's edits.
register_config_dir() {
  local action=$1
  mkdir -p "$(dirname "$lock_file")"
  (
    flock 9
    if [ ! -f "$main_cf" ]; then
      [ "$action" = add ] || exit 0
      # Postfix is installed unconfigured: give the (stopped) default instance
      # the least main.cf that lets `postfix -c` accept our directory.
      printf '%s\n' "# Created by attachgate contrib/private-postfix.sh; the system" \
        "# instance stays unconfigured and is not started by it." \
        "compatibility_level = 3.6" >"$main_cf"
    fi
    local current kept=() d found=0
    current=$(postconf -c /etc/postfix -h alternate_config_directories 2>/dev/null || true)
    for d in ${current//,/ }; do
      if [ "$d" = "$conf_dir" ]; then found=1; [ "$action" = add ] && kept+=("$d")
      else kept+=("$d")
      fi
    done
    [ "$action" = add ] && [ "$found" = 0 ] && kept+=("$conf_dir")
    [ "$action" = remove ] && [ "$found" = 0 ] && exit 0
    [ "$action" = add ] && [ "$found" = 1 ] && exit 0
    postconf -c /etc/postfix -e "alternate_config_directories = ${kept[*]}"
  ) 9>"$lock_file"
}

write_main_cf() {
  local milters=$1 name=$2 inject_milters=$3
  {
    cat <<EOF
# Generated by attachgate contrib/private-postfix.sh; rewritten on each start.
compatibility_level = 3.6
config_directory = $conf_dir
queue_directory = $queue_dir
data_directory = $data_dir
syslog_name = postfix-$name
maillog_file = $log_file
maillog_file_prefixes = $dir

# Loopback only, always.
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
myhostname = mail.attachgate.test
mydomain = attachgate.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
smtputf8_enable = no

# Large enough for a 200 MB message; 0 = no mailbox limit (must be >= it).
message_size_limit = 314572800
mailbox_size_limit = 0
virtual_mailbox_limit = 0

# Retry quickly: these instances exist for tests and demos.
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s

# Milter wiring. Postfix's default macro lists lack {client_addr}.
smtpd_milters = $milters
non_smtpd_milters = $milters
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 30s
milter_command_timeout = 120s
milter_content_timeout = 900s
milter_connect_macros = j {daemon_name} {daemon_addr} v _ {client_addr} {client_name}
milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}
milter_rcpt_macros = i {rcpt_addr} {rcpt_host} {rcpt_mailer}
milter_data_macros = i
milter_end_of_header_macros = i
milter_end_of_data_macros = i
EOF
    if [ -n "$inject_port" ]; then
      cat <<EOF

# The injection service's milters (--inject-milter), under the name its
# entry in master.cf (from contrib/postfix/master.cf) uses.
dkim_signer = $inject_milters
EOF
    fi
    cat <<EOF

# No DNS anywhere: this machine may have no resolver at all.
smtp_host_lookup = native
smtp_dns_support_level = disabled
lmtp_host_lookup = native
smtpd_peername_lookup = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
EOF
    if [ -n "$relay_to" ]; then
      cat <<EOF

# Outbound: everything goes by SMTP to $relay_to.
default_transport = smtp
relayhost = [$relay_host]:$relay_port
EOF
    else
      cat <<EOF

# Outbound: all mail goes to the one Maildir $mailbox_dir/Maildir/ (new
# messages in new/), written by virtual(8) as nobody: it will not deliver as
# root, and its map results may not use regexp substitution, so there is no
# per-recipient mailbox; the Delivered-To header names the recipient.
default_transport = virtual
virtual_mailbox_base = $mailbox_dir
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:$nobody_uid
virtual_gid_maps = static:$nobody_gid
virtual_minimum_uid = 1
EOF
    fi
  } >"$conf_dir/main.cf"
}

write_master_cf() {
  local name=$1 jail=n note="Nothing runs chrooted, so paths (milter sockets, maillog) need no copies."
  if [ "$chroot" = 1 ]; then
    jail=y note="smtpd and cleanup run chrooted in $queue_dir (--chroot)."
  fi
  cat >"$conf_dir/master.cf" <<EOF
# Generated by attachgate contrib/private-postfix.sh; rewritten on each start.
# $note
# service type       private unpriv chroot wakeup maxproc command
127.0.0.1:$port inet n   -      $jail      -      -       smtpd
pickup    unix       n   -      n      60     1       pickup
cleanup   unix       n   -      $jail      -      0       cleanup
qmgr      unix       n   -      n      300    1       qmgr
rewrite   unix       -   -      n      -      -       trivial-rewrite
bounce    unix       -   -      n      -      0       bounce
defer     unix       -   -      n      -      0       bounce
trace     unix       -   -      n      -      0       bounce
verify    unix       -   -      n      -      1       verify
flush     unix       n   -      n      1000?  0       flush
proxymap  unix       -   -      n      -      -       proxymap
smtp      unix       -   -      n      -      -       smtp
relay     unix       -   -      n      -      -       smtp
showq     unix       n   -      n      -      -       showq
error     unix       -   -      n      -      -       error
retry     unix       -   -      n      -      -       error
discard   unix       -   -      n      -      -       discard
virtual   unix       -   n      n      -      -       virtual
anvil     unix       -   -      n      -      1       anvil
scache    unix       -   -      n      -      1       scache
postlog   unix-dgram n   -      n      -      1       postlogd
EOF
  [ -n "$inject_port" ] || return 0
  # The injection service is the one shipped, so the tests run what admins
  # paste: only its port, chroot column and log name differ.
  local service
  service=$(awk -v port="$inject_port" -v jail="$jail" -v name="$name" '
    /^127\.0\.0\.1:10027[ \t]/ { on = 1; $1 = "127.0.0.1:" port; $5 = jail; print; next }
    on && /^[ \t]/ { sub(/syslog_name=postfix\//, "syslog_name=postfix-" name "/"); print; next }
    { on = 0 }' "$shipped_master_cf")
  [ -n "$service" ] || die "no injection service (127.0.0.1:10027) in $shipped_master_cf"
  printf '%s\n' "$service" >>"$conf_dir/master.cf"
}

stop_instance() {
  if is_running; then
    say "stopping the instance in $dir"
    postfix_cmd stop || die "postfix stop failed for $conf_dir"
  fi
  # smtpd children may hold the listening sockets a moment longer.
  local old_port
  for old_port in $(postconf -c "$conf_dir" -M 2>/dev/null | awk '$2 == "inet" { sub(/.*:/, "", $1); print $1 }' || true); do
    wait_port "$old_port" closed 10 || die "port $old_port is still open 10 s after stopping $dir"
  done
}

cmd_start() {
  local milter="" milters=() inject_specs=() inject_milters="" relay_host="" relay_port="" name=""
  local p
  port=2525; relay_to=""; mailbox_dir=""; chroot=0; inject_port=""
  while [ $# -gt 0 ]; do
    case $1 in
      --port) port=${2:?--port needs a value}; shift 2 ;;
      --milter) milters+=("${2:?--milter needs a value}"); shift 2 ;;
      --inject-port) inject_port=${2:?--inject-port needs a value}; shift 2 ;;
      --inject-milter) inject_specs+=("${2:?--inject-milter needs a value}"); shift 2 ;;
      --relay-to) relay_to=${2:?--relay-to needs HOST:PORT}; shift 2 ;;
      --mailbox-dir) mailbox_dir=${2:?--mailbox-dir needs a directory}; shift 2 ;;
      --name) name=${2:?--name needs a value}; shift 2 ;;
      --chroot) chroot=1; shift ;;
      *) usage_error "unknown option for start: $1" ;;
    esac
  done
  valid_port "$port" ||
    usage_error "--port must be a TCP port number, not '$port'"
  [ ${#milters[@]} -gt 0 ] || usage_error "--milter is required (use '--milter none' for no milter)"
  milter=$(milter_list "${milters[@]}")
  if [ -n "$inject_port" ]; then
    valid_port "$inject_port" || usage_error "--inject-port must be a TCP port number, not '$inject_port'"
    [ "$inject_port" != "$port" ] || usage_error "--inject-port must differ from --port"
    [ ${#inject_specs[@]} -gt 0 ] || inject_specs=(none)
    inject_milters=$(milter_list "${inject_specs[@]}")
  elif [ ${#inject_specs[@]} -gt 0 ]; then
    usage_error "--inject-milter needs --inject-port"
  fi
  if [ -n "$relay_to" ] && [ -n "$mailbox_dir" ]; then
    usage_error "give either --relay-to or --mailbox-dir, not both"
  elif [ -n "$relay_to" ]; then
    [[ $relay_to =~ ^([A-Za-z0-9.-]+):([0-9]+)$ ]] ||
      usage_error "--relay-to must be HOST:PORT, not '$relay_to'"
    relay_host=${BASH_REMATCH[1]}; relay_port=${BASH_REMATCH[2]}
  elif [ -n "$mailbox_dir" ]; then
    mkdir -p "$mailbox_dir"
    mailbox_dir=$(cd "$mailbox_dir" && pwd -P)
  else
    usage_error "give --relay-to HOST:PORT or --mailbox-dir DIR2"
  fi
  [ -n "$name" ] || name=$(basename "$dir")
  name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '-')

  stop_instance
  for p in "$port" $inject_port; do
    ! port_open "$p" || die "127.0.0.1:$p is already in use by another program"
  done

  # Directories: config and queue root-owned, data owned by postfix. Every
  # level is searchable so unprivileged daemons can reach the log and data.
  mkdir -p "$conf_dir" "$queue_dir" "$data_dir"
  chmod 0755 "$dir" "$conf_dir" "$queue_dir"
  chown root:root "$conf_dir" "$queue_dir"
  chown postfix: "$data_dir"
  chmod 0700 "$data_dir"
  touch "$log_file"
  if [ -n "$mailbox_dir" ]; then
    nobody_uid=$(id -u nobody); nobody_gid=$(id -g nobody)
    chown "$nobody_uid:$nobody_gid" "$mailbox_dir"
    chmod 0755 "$mailbox_dir"
  fi

  write_main_cf "$milter" "$name" "$inject_milters"
  write_master_cf "$name"
  register_config_dir add

  local jailed="" injection=""
  [ "$chroot" = 0 ] || jailed=", chrooted"
  [ -z "$inject_port" ] ||
    injection=" injection smtpd on 127.0.0.1:$inject_port, its milter: ${inject_milters:-none},"
  say "starting Postfix in $dir (smtpd on 127.0.0.1:$port$jailed, milter: ${milter:-none},$injection" \
    "${relay_to:+relay to $relay_to}${mailbox_dir:+mailboxes in $mailbox_dir})"
  # start runs `postfix check` itself and refuses to start if it fails.
  postfix_cmd start || die "postfix start failed for $conf_dir"
  for p in "$port" $inject_port; do
    wait_port "$p" open 20 || die "smtpd on 127.0.0.1:$p did not answer within 20 s"
  done
  say "ready: smtp://127.0.0.1:$port, log in $log_file"
}

cmd_stop() {
  [ $# -eq 0 ] || usage_error "stop takes only DIR"
  if [ ! -f "$conf_dir/main.cf" ]; then
    say "no instance in $dir (nothing to stop)"
    return 0
  fi
  stop_instance
  register_config_dir remove
  say "stopped the instance in $dir (log kept in $log_file)"
}

cmd_status() {
  if is_running; then say "running in $dir, log in $log_file"; return 0; fi
  say "not running in $dir"; return 3
}

main() {
  case ${1:-} in
    -h|--help|help) usage; exit 0 ;;
    start|stop|status) ;;
    "") usage >&2; exit 2 ;;
    *) usage_error "unknown command '$1'" ;;
  esac
  local cmd=$1; shift
  [ $# -ge 1 ] && [ "${1#-}" = "$1" ] || usage_error "$cmd needs DIR"
  [ "$(id -u)" -eq 0 ] || die "must run as root (Postfix's master runs as root)"
  command -v postfix >/dev/null || die "postfix is not installed (contrib/install-deps.sh --with-tests)"
  if [ "$cmd" = start ]; then mkdir -p "$1"
  elif [ ! -d "$1" ]; then say "no instance in $1 (no such directory)"; [ "$cmd" = stop ]; exit $?
  fi
  dir=$(cd "$1" && pwd -P); shift
  conf_dir=$dir/etc
  queue_dir=$dir/queue
  data_dir=$dir/data
  log_file=$dir/maillog
  "cmd_$cmd" "$@"
}

main "$@"
