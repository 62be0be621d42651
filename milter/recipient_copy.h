// milter/recipient_copy.h - the whole mail for one recipient copy.
//
// A milter changes only the message the MTA hands it, for all its
// recipients. The other recipients' mails, each carrying its own link, are
// written here as whole messages into the blob store (encrypted, since they
// hold a link), for the notify role to inject through the MTA: the original
// header block with the milter's header changes applied as the MTA applies
// them (a change or removal acts on the first field of that name, an
// addition goes at the end), then the rewritten body.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "milter/message.h"
#include "milter/spool.h"
#include "store/blob_store.h"

namespace attachgate::milter {

// The header block of a spooled message ("headers CRLF CRLF body"): the
// fields, each ending in CRLF, without the empty line. An Error when no
// empty line comes within max_bytes.
Result<std::string> header_block(const Spool& message, std::size_t max_bytes);

// The block with the changes applied; values keep their own folding, with
// their line ends made CRLF.
std::string apply_header_changes(std::string_view block, const std::vector<HeaderChange>& changes);

// block CRLF body, into a new blob (committed).
Result<store::BlobInfo> write_copy(const std::string& block, const Spool& body,
                                   const store::BlobStore& blobs);

}  // namespace attachgate::milter
