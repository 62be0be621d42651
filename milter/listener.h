// milter/listener.h - socket options on libmilter's listening socket.
//
// libmilter opens the socket and does not hand out its descriptor. Over
// loopback TCP its replies are small separate writes, and Nagle's algorithm
// holds each one back until the MTA's delayed ACK (about 40 ms, several times
// per message). TCP_NODELAY set on the listening socket is inherited by every
// accepted connection (Linux), so it is set there, once, after
// smfi_opensocket().
#pragma once

namespace attachgate::milter {

// Sets TCP_NODELAY on each listening TCP socket of this process (the milter
// role has one: libmilter's). Returns how many it found; a unix socket has
// none, which is fine.
int set_nodelay_on_tcp_listeners();

}  // namespace attachgate::milter
