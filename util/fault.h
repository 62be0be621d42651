// util/fault.h - named crash points for the fault campaigns (tests/faults/).
//
// fault_point("blob_write") does nothing unless the environment variable
// ATTACHGATE_FAULT_KILL_AT is "blob_write:N" when the process first passes a
// point: then the Nth pass through that point in this process raises SIGKILL,
// the way a crash or the OOM killer would end it there. The variable is read
// once per process; an unset or malformed one costs a single atomic load per
// pass. It exists for tests and bench/faults only: never set it in service.
// The points and where they sit are listed in docs/reliability.md.
#pragma once

namespace attachgate {

void fault_point(const char* name);

}  // namespace attachgate
