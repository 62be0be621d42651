// store/secrets.h - link tokens, public ids and access codes.
//
// A token is 32 random bytes as unpadded base64url (43 characters); it is
// shown to the recipient once and never stored: the catalog keeps only its
// BLAKE2b hash keyed with the state directory's token key. Access codes are
// stored as crypto_pwhash strings and verified in constant time.
// Tokens arriving from URLs are untrusted: looks_like_token() bounds them
// before any hashing or lookup.
#pragma once

#include <string>
#include <string_view>

#include "store/keys.h"
#include "util/result.h"

namespace attachgate::store {

std::string base64url(const unsigned char* data, std::size_t size);
std::string new_token();                          // 43 chars, 256 bits
std::string new_public_id(std::size_t bytes = 8);  // lowercase hex, 2*bytes chars
bool looks_like_token(std::string_view text);

class TokenHasher {
 public:
  explicit TokenHasher(const Key& key) : key_(key) {}
  // 32 raw bytes; the catalog column is a BLOB.
  std::string hash(std::string_view token) const;

 private:
  Key key_;
};

// The mark on attachgate's own mail to senders (receipts, download
// notices), "t=<unix seconds>; m=<hex>": the milter passes a message
// unchanged when its X-Attachgate-Notice header carries a fresh mark made
// for its Message-ID and its one recipient. Keyed, so a sender cannot forge
// one; bound to recipient and time, so the headers of a receipt cannot be
// copied into other mail to keep its attachments.
std::string notice_mark(const TokenHasher& hasher, std::string_view message_id,
                        std::string_view recipient, std::int64_t at);
bool check_notice_mark(const TokenHasher& hasher, std::string_view mark,
                       std::string_view message_id, std::string_view recipient,
                       std::int64_t now, std::int64_t max_age_seconds = 3600);
inline constexpr char kNoticeHeader[] = "X-Attachgate-Notice";
// The same mark on a recipient copy (X-Attachgate-Copy), made over this
// label in place of a Message-ID (the notify role does not parse the copy)
// and the copy's one recipient: it lets that recipient's copy through a
// Postfix service that runs attachgate, and nothing else.
inline constexpr char kCopyHeader[] = "X-Attachgate-Copy";
inline constexpr char kCopyMarkLabel[] = "attachgate recipient copy";

Result<std::string> hash_access_code(std::string_view code);
bool verify_access_code(const std::string& stored_hash, std::string_view code);

}  // namespace attachgate::store
