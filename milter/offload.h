// milter/offload.h - decode one attachment straight into the blob store.
//
// The part's encoded bytes are read from the persistent parse stream in
// 64 KiB pieces and decoded on the way by our own streaming decoders
// (base64.h, quoted_printable.h, uudecode.h; 7bit, 8bit and binary are
// copied), so neither the encoded nor the decoded attachment is ever whole
// in memory. A part is stored only when it was read to its last byte and
// every mail client would decode it to the same bytes; otherwise nothing is
// stored and the caller keeps the attachment in the mail, saying why.
#pragma once

#include <gmime/gmime.h>

#include <functional>
#include <optional>
#include <string>

#include "store/blob_store.h"
#include "util/result.h"

namespace attachgate::milter {

struct StoredPart {
  std::optional<store::BlobInfo> blob;  // set: the whole attachment is stored
  std::string kept_because;             // otherwise: why it stays in the mail
};

// An Error is our own failure (the spool cannot be read, the disk is full):
// the caller follows on_error. progress() is called every few megabytes,
// for smfi_progress.
Result<StoredPart> store_part(GMimePart* part, const store::BlobStore& blobs,
                              const std::function<void()>& progress);

}  // namespace attachgate::milter
