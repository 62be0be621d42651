// milter/offload.h - decode one attachment straight into the blob store.
//
// The part's content is read from the persistent parse stream in 64 KiB
// pieces and decoded on the way (base64 by milter/base64.h, quoted-printable
// and uuencode by GMime's filters), so neither the encoded nor the decoded
// attachment is ever whole in memory. Bad base64 decodes as mail clients
// decode it (invalid characters skipped); what the recipient downloads is
// what their client would have shown.
#pragma once

#include <gmime/gmime.h>

#include <functional>

#include "store/blob_store.h"
#include "util/result.h"

namespace attachgate::milter {

// progress() is called every few megabytes, for smfi_progress.
Result<store::BlobInfo> store_part(GMimePart* part, const store::BlobStore& blobs,
                                   const std::function<void()>& progress);

}  // namespace attachgate::milter
