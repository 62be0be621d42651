// Tests store/secrets.cc: tokens, keyed token hashes, access codes.
#include "store/secrets.h"

#include <gtest/gtest.h>

#include <set>

namespace attachgate::store {
namespace {

TEST(Secrets, TokensAre43Base64urlCharactersAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string t = new_token();
    EXPECT_TRUE(looks_like_token(t)) << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(Secrets, LooksLikeTokenRejectsHostileInput) {
  EXPECT_FALSE(looks_like_token(""));
  EXPECT_FALSE(looks_like_token(std::string(42, 'a')));
  EXPECT_FALSE(looks_like_token(std::string(44, 'a')));
  EXPECT_FALSE(looks_like_token(std::string(40, 'a') + "../"));
  EXPECT_FALSE(looks_like_token(std::string(42, 'a') + "="));
  EXPECT_TRUE(looks_like_token(std::string(41, 'a') + "-_"));
}

TEST(Secrets, TokenHashIsKeyedAndStable) {
  Key k1{}, k2{};
  k2[0] = 1;
  TokenHasher h1(k1), h2(k2);
  std::string token = new_token();
  EXPECT_EQ(h1.hash(token).size(), 32u);
  EXPECT_EQ(h1.hash(token), h1.hash(token));
  EXPECT_NE(h1.hash(token), h2.hash(token));
  EXPECT_NE(h1.hash(token), h1.hash(new_token()));
}

TEST(Secrets, AccessCodesVerifyOnlyTheRightCode) {
  auto hash = hash_access_code("4711-blue");
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->find("4711"), std::string::npos);
  EXPECT_TRUE(verify_access_code(*hash, "4711-blue"));
  EXPECT_FALSE(verify_access_code(*hash, "4711-Blue"));
  EXPECT_FALSE(verify_access_code(*hash, ""));
  EXPECT_FALSE(verify_access_code("garbage", "4711-blue"));
}

TEST(Secrets, AccessCodeHashingFitsTheMilterMemoryBudget) {
  auto hash = hash_access_code("0123456789");
  ASSERT_TRUE(hash.ok());
  // Argon2id, 16 MiB, 4 passes: recorded in the hash string itself.
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=16384,t=4,p=1$", 0), 0u) << *hash;
}

}  // namespace
}  // namespace attachgate::store
