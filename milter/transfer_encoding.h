// milter/transfer_encoding.h - which decoder an attachment's bytes need.
//
// The Content-Transfer-Encoding header is untrusted. Only a single header
// holding exactly one of the encodings every mail client knows is sure;
// an unknown token, a comment, trailing junk or two such headers leave the
// part's meaning in doubt, and the milter then keeps the attachment in the
// mail (RFC 2045 6.4: an unknown encoding is not to be decoded).
#pragma once

#include <gmime/gmime.h>

#include <string>
#include <variant>

namespace attachgate::milter {

enum class TransferEncoding { identity, base64, quoted_printable, uuencode };

// The encoding, or why it is not certain.
struct EncodingDoubt {
  std::string why;
};
std::variant<TransferEncoding, EncodingDoubt> transfer_encoding_of(GMimeObject* part);

// The same for the header's value alone (for tests and the fuzzer).
std::variant<TransferEncoding, EncodingDoubt> parse_transfer_encoding(const std::string& value);

}  // namespace attachgate::milter
