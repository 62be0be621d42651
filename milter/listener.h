// milter/listener.h - fits libmilter's listening socket for Postfix.
//
// libmilter opens the socket (smfi_opensocket) and does not hand out its
// descriptor, so prepare_listeners() finds it among this process's
// descriptors, once, after smfi_opensocket() and before smfi_main():
//  - TCP: libmilter's replies are small separate writes, and Nagle's
//    algorithm holds each back until the MTA's delayed ACK (about 40 ms,
//    several times per message). TCP_NODELAY set on the listening socket is
//    inherited by every accepted connection (Linux).
//  - unix: the socket file gets the process umask (0077 in the systemd
//    unit), so only attachgate's own user could connect, while Postfix's
//    smtpd and cleanup run as user postfix. The file is made 0660 so that
//    its group may connect: in the documented deployment that is group
//    postfix, from the setgid directory the socket is made in.
#pragma once

#include <sys/types.h>

#include "util/result.h"

namespace attachgate::milter {

// A unix socket's mode after prepare_listeners(): owner and group connect.
inline constexpr mode_t kUnixSocketMode = 0660;

// Prepares each listening socket of this process (the milter role has one:
// libmilter's) and logs a unix socket's path and mode at info. Returns how
// many it prepared, or the first failure (the others are still prepared).
Result<int> prepare_listeners();

}  // namespace attachgate::milter
