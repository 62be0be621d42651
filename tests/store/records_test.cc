// Tests store/records.cc: the names of the records' enums. The names are
// what the catalog stores and what reports, webhooks and pages print, so
// each is pinned here; a rename must come with a schema migration.
#include "store/records.h"

#include <gtest/gtest.h>

#include <set>
#include <string_view>
#include <vector>

namespace attachgate::store {
namespace {

// Every value of all comes back from its name, and no two share a name.
template <class E, std::size_t N>
void expect_round_trips(const E (&all)[N], std::optional<E> (*from)(std::string_view)) {
  std::set<std::string_view> names;
  for (E e : all) {
    const std::string_view name = to_string(e);
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << "two values named " << name;
    EXPECT_EQ(from(name), e) << name;
  }
}

TEST(Records, EveryValueRoundTripsThroughItsName) {
  expect_round_trips(kOutboxKinds, outbox_kind_from);
  expect_round_trips(kFileStates, file_state_from);
  expect_round_trips(kPurgeReasons, purge_reason_from);
  expect_round_trips(kMessageOutcomes, message_outcome_from);
  expect_round_trips(kDownloadNotices, download_notice_from);
}

TEST(Records, NamesAreTheStoredText) {
  using Names = std::vector<std::string_view>;
  auto names = [](const auto& all) {
    Names out;
    for (auto e : all) out.push_back(to_string(e));
    return out;
  };
  // The files.state and messages.download_notice CHECKs list these.
  EXPECT_EQ(names(kFileStates), (Names{"stored", "missing", "purged"}));
  EXPECT_EQ(names(kDownloadNotices), (Names{"never", "first", "every"}));
  // The purged event's detail and `attachgate purge`'s progress line.
  EXPECT_EQ(names(kPurgeReasons), (Names{"expired", "revoked", "used up", "no link"}));
  // messages.outcome, and "outcome" in show --json and list --json.
  EXPECT_EQ(names(kMessageOutcomes), (Names{"offloaded", "uploaded"}));
}

TEST(Records, TextThatNamesNoValueIsRefused) {
  for (std::string_view text : {"", "Stored", "stored ", "deleted"})
    EXPECT_EQ(file_state_from(text), std::nullopt) << text;
  // "used_up" is the API's word for a link state, not a stored reason.
  for (std::string_view text : {"", "used_up", "Expired", "expired\n"})
    EXPECT_EQ(purge_reason_from(text), std::nullopt) << text;
  for (std::string_view text : {"", "kept", "OFFLOADED", "passed"})
    EXPECT_EQ(message_outcome_from(text), std::nullopt) << text;
  // "always" is refused by the policy file too (policy_check_test).
  for (std::string_view text : {"", "always", "First", "1"})
    EXPECT_EQ(download_notice_from(text), std::nullopt) << text;
  EXPECT_EQ(outbox_kind_from("download_notice"), std::nullopt);
}

}  // namespace
}  // namespace attachgate::store
