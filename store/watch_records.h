// store/watch_records.h - what the delivery watcher hands the catalog.
//
// A DeliveryReport is Postfix's word on one recipient of one queued mail,
// parsed from its log: every text field came from a log line (and, for the
// reply, from a remote server), so it is untrusted. The catalog cleans and
// bounds it before storing. A WatchPosition is the watcher's place in the
// log: the file (device and inode, which survive a rename) and the offset
// just after the last line it has dealt with.
#pragma once

#include <cstdint>
#include <string>

#include "store/records.h"

namespace attachgate::store {

struct DeliveryReport {
  std::string queue_id;
  std::string recipient;
  EventKind kind = EventKind::delivered;  // delivered | deferred | bounced
  std::int64_t at = 0;
  std::string relay, dsn, reply;
};

struct WatchPosition {
  std::string log_path;
  std::uint64_t device = 0, inode = 0;
  std::int64_t offset = 0;
  bool operator==(const WatchPosition&) const = default;
};

}  // namespace attachgate::store
