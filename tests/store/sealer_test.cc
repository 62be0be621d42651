// Tests store/sealer.cc: sealed values open only with their key and their
// associated data, and carry no plaintext.
#include "store/sealer.h"

#include <gtest/gtest.h>

namespace attachgate::store {
namespace {

Key key_of(unsigned char fill) {
  Key k;
  k.fill(fill);
  return k;
}

TEST(Sealer, RoundTripsAndHidesThePlaintext) {
  const Sealer sealer(key_of(1));
  const std::string plain = R"({"access_code":"1268126515"})";
  const std::string sealed = sealer.seal(plain, "row 1");
  EXPECT_TRUE(Sealer::looks_sealed(sealed));
  EXPECT_EQ(sealed.find("1268126515"), std::string::npos);
  EXPECT_EQ(sealer.open(sealed, "row 1").value(), plain);
  EXPECT_NE(sealer.seal(plain, "row 1"), sealed) << "a fresh nonce each time";
  EXPECT_EQ(sealer.open(sealer.seal("", "x"), "x").value(), "");
}

TEST(Sealer, RefusesOtherKeyOtherDataAlteredBytesAndPlaintext) {
  const Sealer sealer(key_of(1));
  std::string sealed = sealer.seal("secret", "row 1");
  EXPECT_FALSE(Sealer(key_of(2)).open(sealed, "row 1").ok());
  EXPECT_FALSE(sealer.open(sealed, "row 2").ok());
  sealed[sealed.size() / 2] ^= 1;
  EXPECT_FALSE(sealer.open(sealed, "row 1").ok());
  EXPECT_FALSE(sealer.open(sealed.substr(0, 10), "row 1").ok());
  EXPECT_FALSE(Sealer::looks_sealed(R"({"status_token":"abc"})"));
  EXPECT_FALSE(sealer.open(R"({"status_token":"abc"})", "row 1").ok());
}

}  // namespace
}  // namespace attachgate::store
