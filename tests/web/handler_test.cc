// Tests web/handler.cc, link_routes.cc, download_routes.cc and metrics_route.cc: every route
// and status, as a plain function over a real store in a temporary
// directory and the shipped templates, with a clock the test moves.
#include "web/handler.h"
#include "web/metrics_site.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <algorithm>
#include <atomic>
#include <map>
#include <sstream>
#include <thread>

#include "store/secrets.h"
#include "tests/support/temp_dir.h"
#include "tests/web/web_fixture.h"
#include "util/metrics_file.h"
#include "web/range.h"
#include "tests/support/test_catalog.h"

namespace attachgate::web {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;

std::string drain(Response& r) {
  std::string out;
  std::vector<char> buf(7000);
  while (out.size() < r.length) {
    auto n = r.stream->read(buf.data(), std::min<std::size_t>(buf.size(), r.length - out.size()));
    EXPECT_TRUE(n.ok());
    if (!n || *n == 0) break;
    out.append(buf.data(), *n);
  }
  return out;
}

struct Sent {
  std::string token, pixel, code, status;
  std::vector<std::string> file_ids, contents;
};

class HandlerTest : public WebFixture {
 protected:
  void SetUp() override { open(HandlerConfig{}, &now_); }

  Sent offload(std::vector<std::pair<std::string, std::string>> files, int max_downloads = 1,
               bool with_code = false, std::int64_t expires_in = 86400) {
    Sent sent;
    store::Offload o;
    o.now = kNow;
    o.message.queue_id = "Q1";
    o.message.sender = "alice@example.org";
    for (auto& [name, data] : files) {
      auto w = store_->blobs.create();
      EXPECT_TRUE(w.ok());
      EXPECT_TRUE(w->write(data.data(), data.size()).ok());
      o.files.push_back({name, "application/pdf", w->commit().value()});
      sent.contents.push_back(data);
    }
    sent.token = store::new_token();
    store::NewLink link;
    link.token_hash = store_->tokens.hash(sent.token);
    link.pixel_id = sent.pixel = store::new_public_id(16);
    link.expires_at = kNow + expires_in;
    link.max_downloads = max_downloads;
    if (with_code) {
      sent.code = "K7P-4QX-M2W";
      link.code_hash = store::hash_access_code(sent.code).value();
    }
    o.links.push_back(link);
    sent.status = store::new_token();
    o.status_token_hash = store_->tokens.hash(sent.status);
    o.download_notice = store::DownloadNotice::first;
    auto ids = store_->catalog.record_offload(o);
    EXPECT_TRUE(ids.ok());
    sent.file_ids = ids->file_public_ids;
    return sent;
  }

  int events(const char* kind) {
    auto d = store_->catalog.show_message("Q1").value().value();
    int n = 0;
    for (const auto& e : d.events) n += store::to_string(e.kind) == kind;
    return n;
  }

  std::string last_event_detail(const char* kind) {
    auto d = store_->catalog.show_message("Q1").value().value();
    std::string detail;
    for (const auto& e : d.events)
      if (store::to_string(e.kind) == kind) detail = e.detail;
    return detail;
  }

  // POSTs a download and follows the 303 to the ticket.
  std::string claim_ticket(const Sent& s, const std::string& file, const std::string& code = "") {
    std::string body = "file=" + file + (code.empty() ? "" : "&code=" + code);
    Response r = post("/d/" + s.token, body);
    EXPECT_EQ(r.status, 303) << r.body;
    const std::string* location = r.header("Location");
    return location ? *location : "";
  }

  std::int64_t now_ = kNow + 10;
};

TEST_F(HandlerTest, LandingShowsFilesAndRecordsViewedButHeadDoesNot) {
  Sent s = offload({{"report.pdf", "PDF bytes"}});
  Response r = get("/d/" + s.token);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("report.pdf"), std::string::npos);
  EXPECT_NE(r.body.find("alice@example.org"), std::string::npos);
  EXPECT_NE(r.header("Content-Security-Policy")->find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(*r.header("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(*r.header("Cache-Control"), "no-store");
  EXPECT_EQ(events("viewed"), 1);
  Response head = get("/d/" + s.token, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(events("viewed"), 1);
  // Looking never consumes.
  for (int i = 0; i < 3; ++i) get("/d/" + s.token);
  auto link = store_->catalog.find_link_by_token_hash(store_->tokens.hash(s.token)).value().value();
  EXPECT_EQ(store_->catalog.link_files(link.id).value()[0].downloads, 0);
}

TEST_F(HandlerTest, UnknownOrMalformedTokensAndPathsAre404) {
  offload({{"a.pdf", "x"}});
  EXPECT_EQ(get("/d/" + store::new_token()).status, 404);
  EXPECT_EQ(get("/d/../../etc/passwd").status, 404);
  EXPECT_EQ(get("/d/short").status, 404);
  EXPECT_EQ(get("/t/" + store::new_token()).status, 404);
  EXPECT_EQ(get("/nope").status, 404);
  EXPECT_EQ(get("/d/").status, 404);
  Response r = get("/d/x", "PUT");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(*r.header("Allow"), "GET, HEAD, POST");
}

TEST_F(HandlerTest, OneTimeDownloadOnceThen410) {
  Sent s = offload({{"report.pdf", std::string(200'000, 'r')}});
  std::string location = claim_ticket(s, s.file_ids[0]);
  ASSERT_EQ(location.rfind("/t/", 0), 0u);
  Response r = get(location);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.length, 200'000u);
  EXPECT_EQ(*r.header("Content-Type"), "application/pdf");
  EXPECT_EQ(*r.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r.header("Content-Disposition")->rfind("attachment;", 0), 0u);
  EXPECT_EQ(*r.header("Accept-Ranges"), "bytes");
  EXPECT_EQ(drain(r), s.contents[0]);
  r.on_done(r.length);
  EXPECT_EQ(events("downloaded"), 1);
  EXPECT_EQ(last_event_detail("downloaded"), "complete");
  // The link is used up; the ticket is closed.
  Response again = post("/d/" + s.token, "file=" + s.file_ids[0]);
  EXPECT_EQ(again.status, 410);
  EXPECT_EQ(get("/d/" + s.token).status, 410);
  EXPECT_EQ(get(location).status, 410);
}

// A blob deleted from the store behind our back (an S3 object removed by
// hand): the download says the file is no longer available, the catalog
// records it, and from then on the landing page and a claim say so too,
// while the link's other file still downloads.
TEST_F(HandlerTest, ABlobGoneFromTheStoreIsMarkedMissing) {
  Sent s = offload({{"report.pdf", std::string(1000, 'r')}, {"notes.txt", "notes"}}, 3);
  const std::string blob = store_->catalog.show_message("Q1").value().value().files[0].blob_id;
  ASSERT_TRUE(store_->blobs.remove(blob).ok());
  std::string location = claim_ticket(s, s.file_ids[0]);
  Response r = get(location);
  EXPECT_EQ(r.status, 410);
  EXPECT_NE(r.body.find("This file is no longer available"), std::string::npos) << r.body;
  EXPECT_EQ(store_->catalog.show_message("Q1").value().value().files[0].state,
            store::FileState::missing);
  Response landing = get("/d/" + s.token);
  EXPECT_EQ(landing.status, 200);
  EXPECT_NE(landing.body.find("No longer available"), std::string::npos) << landing.body;
  EXPECT_EQ(landing.body.find("Already downloaded"), std::string::npos) << landing.body;
  EXPECT_NE(landing.body.find("value=\"" + s.file_ids[1] + "\""), std::string::npos) << landing.body;
  Response claim = post("/d/" + s.token, "file=" + s.file_ids[0]);
  EXPECT_EQ(claim.status, 410);
  EXPECT_NE(claim.body.find("This file is no longer available"), std::string::npos) << claim.body;
  EXPECT_EQ(post("/d/" + s.token, "file=" + s.file_ids[1]).status, 303);
}

// A link whose only file is gone says so, not "already downloaded".
TEST_F(HandlerTest, ALinkWhoseOnlyFileIsGoneSaysNoLongerAvailable) {
  Sent s = offload({{"report.pdf", std::string(1000, 'r')}});
  const std::string blob = store_->catalog.show_message("Q1").value().value().files[0].blob_id;
  ASSERT_TRUE(store_->catalog.mark_blob_missing(blob).ok());
  Response landing = get("/d/" + s.token);
  EXPECT_EQ(landing.status, 410);
  EXPECT_NE(landing.body.find("This file is no longer available"), std::string::npos) << landing.body;
}

TEST_F(HandlerTest, InterruptedDownloadResumesWithRangeUntilTheGraceEnds) {
  std::string data(300'000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Sent s = offload({{"big.bin", data}});
  std::string location = claim_ticket(s, s.file_ids[0]);
  Response first = get(location);
  ASSERT_EQ(first.status, 200);
  first.on_done(100'000);  // the connection dropped
  EXPECT_EQ(last_event_detail("downloaded"), "interrupted after 100000 of 300000 bytes");
  // HEAD tells the size without consuming anything.
  Response head = get(location, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_FALSE(head.stream);
  Response rest = get(location, "GET", "bytes=100000-");
  ASSERT_EQ(rest.status, 206);
  EXPECT_EQ(*rest.header("Content-Range"), "bytes 100000-299999/300000");
  EXPECT_EQ(drain(rest), data.substr(100'000));
  rest.on_done(rest.length);
  EXPECT_EQ(last_event_detail("downloaded"), "complete, resumed at byte 100000");
  EXPECT_EQ(get(location).status, 410);  // finished

  // A second claim elsewhere: past the grace time the ticket is over.
  Sent t = offload({{"other.bin", "abc"}});
  std::string late = claim_ticket(t, t.file_ids[0]);
  now_ += HandlerConfig{}.resume_grace_seconds;
  EXPECT_EQ(get(late).status, 410);
  EXPECT_EQ(get(late, "GET", "bytes=999-").status, 410);
}

TEST_F(HandlerTest, ParallelGetsOfOneTicketGiveOneTransferAndOneCompleteDownload) {
  Sent s = offload({{"report.pdf", std::string(200'000, 'r')}});
  std::string location = claim_ticket(s, s.file_ids[0]);
  // Ten GETs arrive before any has finished: one transfer, nine 409s.
  std::vector<Response> replies;
  for (int i = 0; i < 10; ++i) replies.push_back(get(location));
  int served = 0;
  for (auto& r : replies) {
    if (r.status == 200) {
      ++served;
      EXPECT_EQ(drain(r), s.contents[0]);
      r.on_done(r.length);
    } else {
      EXPECT_EQ(r.status, 409) << r.body;
      EXPECT_FALSE(r.stream);
      EXPECT_EQ(*r.header("Retry-After"), "60");
    }
  }
  EXPECT_EQ(served, 1);
  EXPECT_EQ(events("downloaded"), 1);
  EXPECT_EQ(last_event_detail("downloaded"), "complete");
  EXPECT_EQ(get(location).status, 410);
  EXPECT_EQ(get(location, "GET", "bytes=0-199998").status, 410);
}

TEST_F(HandlerTest, ARangeRunsOneAtATimeAndAnEndedTransferLetsTheNextGoOn) {
  Sent s = offload({{"report.pdf", std::string(200'000, 'r')}});
  std::string location = claim_ticket(s, s.file_ids[0]);
  Response first = get(location, "GET", "bytes=0-199998");
  ASSERT_EQ(first.status, 206);
  // The same Range again, and a HEAD, while the first runs.
  EXPECT_EQ(get(location, "GET", "bytes=0-199998").status, 409);
  EXPECT_EQ(get(location, "GET", "bytes=199999-").status, 409);
  EXPECT_EQ(get(location, "HEAD").status, 200);  // shows, does not transfer
  first.on_done(first.length);
  EXPECT_EQ(last_event_detail("downloaded"), "part: bytes 0-199998");
  // Ended: the resume goes on and, reaching the end, closes the ticket.
  Response rest = get(location, "GET", "bytes=199999-");
  ASSERT_EQ(rest.status, 206);
  EXPECT_EQ(get(location).status, 409);
  EXPECT_EQ(drain(rest), "r");
  rest.on_done(rest.length);
  EXPECT_EQ(last_event_detail("downloaded"), "complete, resumed at byte 199999");
  EXPECT_EQ(get(location, "GET", "bytes=0-199998").status, 410);
}

TEST_F(HandlerTest, AResponseDroppedUnsentLetsTheTicketGo) {
  Sent s = offload({{"a.bin", "0123456789"}});
  std::string location = claim_ticket(s, s.file_ids[0]);
  { Response never_sent = get(location); ASSERT_EQ(never_sent.status, 200); }
  Response r = get(location);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(drain(r), "0123456789");
}

TEST_F(HandlerTest, ATransferACrashedProcessLeftRunsOutAndTheRecipientResumes) {
  Sent s = offload({{"a.bin", "0123456789"}});
  std::string location = claim_ticket(s, s.file_ids[0]);
  auto d = store_->catalog.find_download(store_->tokens.hash(location.substr(3))).value();
  ASSERT_TRUE(d.has_value());
  // Another process took the ticket and died: nobody ends its transfer.
  ASSERT_EQ(store_->catalog.begin_transfer(d->id, "dead", now_, 60).value(),
            store::TransferStart::started);
  EXPECT_EQ(get(location, "GET", "bytes=4-").status, 409);
  now_ += 60;
  Response r = get(location, "GET", "bytes=4-");
  ASSERT_EQ(r.status, 206);
  EXPECT_EQ(drain(r), "456789");
  r.on_done(r.length);
  EXPECT_EQ(last_event_detail("downloaded"), "complete, resumed at byte 4");
}

TEST_F(HandlerTest, ALiveTransferRenewsItsLeaseAndOneThatLostItIsCutShort) {
  std::string data(300'000, 'x');
  Sent s = offload({{"big.bin", data}});
  std::string location = claim_ticket(s, s.file_ids[0]);
  std::vector<char> buf(1000);
  Response slow = get(location);
  ASSERT_EQ(slow.status, 200);
  now_ += 30;
  ASSERT_TRUE(slow.stream->read(buf.data(), buf.size()).ok());  // renews: held until +90
  now_ += 40;
  EXPECT_EQ(get(location).status, 409);
  // Stalled past its lease, it loses the ticket to a resume...
  now_ += 61;
  Response resume = get(location, "GET", "bytes=1000-");
  ASSERT_EQ(resume.status, 206);
  // ...and its next read fails, so the server cuts it short.
  EXPECT_FALSE(slow.stream->read(buf.data(), buf.size()).ok());
  slow.on_done(2000);
  EXPECT_EQ(last_event_detail("downloaded"), "interrupted after 2000 of 300000 bytes");
  EXPECT_EQ(drain(resume), data.substr(1000));
  resume.on_done(resume.length);
  EXPECT_EQ(last_event_detail("downloaded"), "complete, resumed at byte 1000");
  // Had it gone on to the end regardless, it would not count.
  slow.on_done(slow.length);
  EXPECT_EQ(last_event_detail("downloaded"),
            "sent in full but not counted: the ticket had passed to another transfer");
  EXPECT_EQ(store_->catalog.completed_downloads(
                store_->catalog.show_message("Q1").value()->message.id).value(), 1);
}

TEST_F(HandlerTest, RangePastTheEndIs416) {
  Sent s = offload({{"a.bin", "0123456789"}});
  std::string location = claim_ticket(s, s.file_ids[0]);
  Response r = get(location, "GET", "bytes=10-");
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(*r.header("Content-Range"), "bytes */10");
  Response tail = get(location, "GET", "bytes=-3");
  ASSERT_EQ(tail.status, 206);
  EXPECT_EQ(drain(tail), "789");
}

TEST_F(HandlerTest, ExpiredAndRevokedLinksAre410SayingWhich) {
  Sent s = offload({{"a.pdf", "x"}}, 1, false, 60);
  now_ = kNow + 61;
  Response r = get("/d/" + s.token);
  EXPECT_EQ(r.status, 410);
  EXPECT_NE(r.body.find("expired"), std::string::npos);
  EXPECT_EQ(post("/d/" + s.token, "file=" + s.file_ids[0]).status, 410);

  Sent t = offload({{"b.pdf", "y"}});
  {
    auto db = store::Db::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    store::Stmt st(*db, "UPDATE links SET revoked_at = 1 WHERE pixel_id = ?1");
    ASSERT_TRUE(st.bind(1, t.pixel).run().ok());
  }
  Response revoked = get("/d/" + t.token);
  EXPECT_EQ(revoked.status, 410);
  EXPECT_NE(revoked.body.find("withdrawn"), std::string::npos);
}

TEST_F(HandlerTest, AccessCodeGatesNamesAndDownloadsAndLocksAfterLimits) {
  Sent s = offload({{"secret-plan.pdf", "S"}}, 1, true);
  Response form = get("/d/" + s.token);
  EXPECT_EQ(form.status, 200);
  EXPECT_EQ(form.body.find("secret-plan.pdf"), std::string::npos);
  EXPECT_NE(form.body.find("Access code"), std::string::npos);
  // Without the code a download is not claimed.
  Response no_code = post("/d/" + s.token, "file=" + s.file_ids[0]);
  EXPECT_NE(no_code.status, 303);
  Response wrong = post("/d/" + s.token, "code=nope");
  EXPECT_EQ(wrong.status, 403);
  EXPECT_NE(wrong.body.find("4 tries left"), std::string::npos);
  EXPECT_EQ(events("denied"), 1);
  Response right = post("/d/" + s.token, "code=" + s.code);
  EXPECT_EQ(right.status, 200);
  EXPECT_NE(right.body.find("secret-plan.pdf"), std::string::npos);
  EXPECT_NE(right.body.find("name=\"code\""), std::string::npos);
  // Four more wrong codes make five: the link pauses, even for the right code.
  for (int i = 0; i < 4; ++i) post("/d/" + s.token, "code=nope");
  EXPECT_EQ(post("/d/" + s.token, "code=" + s.code).status, 429);
  // After the pause, the right code works again.
  now_ += 15 * 60 + 1;
  std::string location = claim_ticket(s, s.file_ids[0], s.code);
  EXPECT_EQ(location.rfind("/t/", 0), 0u);
}

TEST_F(HandlerTest, TwentyWrongCodesLockTheLinkForGood) {
  Sent s = offload({{"a.pdf", "x"}}, 1, true);
  Response last;
  for (int i = 0; i < 20; ++i) {
    last = post("/d/" + s.token, "code=wrong");
    now_ += 16 * 60;  // outwait every pause
  }
  EXPECT_EQ(last.status, 410);
  EXPECT_EQ(events("denied"), 20);
  Response after = get("/d/" + s.token);
  EXPECT_EQ(after.status, 410);
  EXPECT_NE(after.body.find("locked"), std::string::npos);
  EXPECT_EQ(post("/d/" + s.token, "code=" + s.code).status, 410);
}

TEST_F(HandlerTest, RacingWrongCodesGetFiveChecksAndTheRightCodeThenWaits) {
  Sent s = offload({{"a.pdf", "x"}}, 1, true);
  // Each check is Argon2id over 16 MiB: 32 threads keep the test's memory bounded.
  constexpr int kRacers = 32;
  std::atomic<bool> go{false};
  std::vector<int> statuses(kRacers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i)
    threads.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      statuses[i] = post("/d/" + s.token, "code=wrong-" + std::to_string(i)).status;
    });
  go = true;
  for (auto& t : threads) t.join();
  // Four wrong codes say so, the fifth pauses the link, the rest were never checked.
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 403), 4);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), kRacers - 4);
  EXPECT_EQ(events("denied"), 5);
  auto link = store_->catalog.find_link_by_token_hash(store_->tokens.hash(s.token)).value();
  EXPECT_EQ(link->failed_codes, 5);
  EXPECT_EQ(post("/d/" + s.token, "code=" + s.code).status, 429);
}

TEST_F(HandlerTest, ARightCodeDoesNotCountAgainstTheLink) {
  Sent s = offload({{"a.pdf", "x"}}, 1, true);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(post("/d/" + s.token, "code=nope").status, 403);
  // The fifth attempt is right: it is admitted, wins, and takes its count back.
  EXPECT_EQ(post("/d/" + s.token, "code=" + s.code).status, 200);
  EXPECT_EQ(post("/d/" + s.token, "code=" + s.code).status, 200);
  Response fifth = post("/d/" + s.token, "code=nope");
  EXPECT_EQ(fifth.status, 429);
  EXPECT_EQ(events("denied"), 5);
}

TEST_F(HandlerTest, PixelRecordsOpenedOnlyForKnownIdsAndAlwaysAnswersAGif) {
  Sent s = offload({{"a.pdf", "x"}});
  Response r = get("/o/" + s.pixel + ".gif");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(*r.header("Content-Type"), "image/gif");
  EXPECT_EQ(*r.header("Cache-Control"), "no-store");
  EXPECT_EQ(r.body.rfind("GIF89a", 0), 0u);
  EXPECT_EQ(events("opened"), 1);
  get("/o/" + s.pixel + ".gif");
  EXPECT_EQ(events("opened"), 2);
  get("/o/" + s.pixel + ".gif", "HEAD");
  EXPECT_EQ(events("opened"), 2);
  Response unknown = get("/o/" + std::string(32, 'a') + ".gif");
  EXPECT_EQ(unknown.body, r.body);
  EXPECT_EQ(events("opened"), 2);
}

TEST_F(HandlerTest, HealthStylesheetAndBadForms) {
  Response h = get("/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok\n");
  Response css = get("/static/style.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_FALSE(css.body.empty());
  Sent s = offload({{"a.pdf", "x"}});
  Request wrong_type;
  wrong_type.method = "POST";
  wrong_type.target = "/d/" + s.token;
  wrong_type.content_type = "text/plain";
  EXPECT_EQ(handler_->handle(wrong_type).status, 415);
  EXPECT_EQ(post("/d/" + s.token, "file=%zz").status, 400);
  EXPECT_EQ(post("/d/" + s.token, "file=nosuchfile").status, 404);
}

TEST_F(HandlerTest, HostileFileNameGivesSafeHeadersAndEscapedHtml) {
  const std::string hostile = "\"evil\r\nSet-Cookie: x=1\";../../\xE2\x80\xAEgpj.exe<script>" +
                              std::string(300, 'n') + "\xff.pdf";
  Sent s = offload({{hostile, "data"}});
  Response page = get("/d/" + s.token);
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);
  EXPECT_EQ(page.body.find("\xE2\x80\xAE"), std::string::npos);
  Response r = get(claim_ticket(s, s.file_ids[0]));
  const std::string& cd = *r.header("Content-Disposition");
  for (char c : cd) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20) << cd;
    EXPECT_LT(static_cast<unsigned char>(c), 0x80) << cd;
  }
  EXPECT_EQ(cd.find("../"), std::string::npos);
  EXPECT_NE(cd.find("filename*=UTF-8''"), std::string::npos);
}

TEST_F(HandlerTest, AllFilesComeAsOneZipAndCountForEachFile) {
  Sent s = offload({{"one.txt", "first file"}, {"two.txt", "second file"}});
  Response page = get("/d/" + s.token);
  EXPECT_NE(page.body.find("value=\"all\""), std::string::npos);
  Response r = get(claim_ticket(s, "all"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(*r.header("Content-Type"), "application/zip");
  std::string zip = drain(r);
  EXPECT_EQ(zip.size(), r.length);
  EXPECT_EQ(zip.substr(0, 2), "PK");
  EXPECT_NE(zip.find("first file"), std::string::npos);
  EXPECT_NE(zip.find("second file"), std::string::npos);
  r.on_done(r.length);
  EXPECT_EQ(post("/d/" + s.token, "file=" + s.file_ids[0]).status, 410);
  EXPECT_EQ(post("/d/" + s.token, "file=all").status, 410);
}

// ---- the sender's side (sender_routes.cc) ---------------------------------

std::string csrf_of(const std::string& page) {
  const std::string marker = "name=\"csrf\" value=\"";
  const auto at = page.find(marker);
  return at == std::string::npos ? "" : page.substr(at + marker.size(), 32);
}

TEST_F(HandlerTest, StatusPageShowsTheMessageAndActsOnlyWithItsCsrf) {
  Sent s = offload({{"report.pdf", "PDF bytes"}});
  Response page = get("/s/" + s.status);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("report.pdf"), std::string::npos);
  EXPECT_NE(page.body.find("active"), std::string::npos);
  EXPECT_NE(page.body.find("offloaded"), std::string::npos) << "the event list";
  EXPECT_NE(page.body.find("1 file, "), std::string::npos) << "one file is not \"1 files\"";
  const std::string csrf = csrf_of(page.body);
  ASSERT_EQ(csrf.size(), 32u) << page.body;
  EXPECT_EQ(get("/s/" + s.token).status, 404) << "a download token is not a status token";
  EXPECT_EQ(get("/s/" + std::string(43, 'A')).status, 404);
  EXPECT_EQ(get("/s/short").status, 404);

  EXPECT_EQ(post("/s/" + s.status, "do=revoke").status, 403);
  EXPECT_EQ(post("/s/" + s.status, "do=revoke&csrf=" + std::string(32, '0')).status, 403);
  EXPECT_EQ(post("/s/" + s.status, "do=extend&days=5&csrf=" + csrf).status, 400);
  EXPECT_EQ(post("/s/" + s.status, "do=shred&csrf=" + csrf).status, 400);
  EXPECT_EQ(get("/d/" + s.token).status, 200) << "refused forms changed nothing";

  Response extended = post("/s/" + s.status, "do=extend&days=7&csrf=" + csrf);
  EXPECT_EQ(extended.status, 303);
  EXPECT_EQ(*extended.header("Location"), "/s/" + s.status);
  auto link = store_->catalog.show_message("Q1").value().value().links.at(0);
  EXPECT_EQ(link.expires_at, kNow + 86400 + 7 * 86400);
  EXPECT_EQ(events("extended"), 1);

  EXPECT_EQ(post("/s/" + s.status, "do=revoke&csrf=" + csrf).status, 303);
  Response gone = get("/d/" + s.token);
  EXPECT_EQ(gone.status, 410);
  EXPECT_NE(gone.body.find("withdrawn"), std::string::npos);
  Response after = get("/s/" + s.status);
  EXPECT_NE(after.body.find("revoked"), std::string::npos);
  EXPECT_EQ(after.body.find("value=\"revoke\""), std::string::npos) << "no buttons once revoked";
  EXPECT_EQ(after.body.find("works until"), std::string::npos) << "a revoked link works no longer";
  // A form replayed after the link ended changes nothing.
  EXPECT_EQ(post("/s/" + s.status, "do=extend&days=7&csrf=" + csrf).status, 409);
  EXPECT_EQ(events("extended"), 1);
}

TEST_F(HandlerTest, StatusPageDoesNotNameTheAdmin) {
  Sent s = offload({{"report.pdf", "PDF bytes"}});
  const auto id = store_->catalog.message_row_id("Q1").value().value();
  ASSERT_TRUE(store_->catalog.revoke_message_links(id, now_, "admin jdoe").ok());
  Response page = get("/s/" + s.status);
  EXPECT_EQ(page.body.find("jdoe"), std::string::npos);
  EXPECT_NE(page.body.find("by the mail administrator"), std::string::npos);
}

TEST_F(HandlerTest, SendersExtendAtMostNinetyDaysAfterSending) {
  Sent s = offload({{"report.pdf", "PDF bytes"}});
  const std::string csrf = csrf_of(get("/s/" + s.status).body);
  EXPECT_EQ(post("/s/" + s.status, "do=extend&days=30&csrf=" + csrf).status, 303);  // 31 days
  EXPECT_EQ(post("/s/" + s.status, "do=extend&days=30&csrf=" + csrf).status, 303);  // 61 days
  Response too_far = post("/s/" + s.status, "do=extend&days=30&csrf=" + csrf);      // 91 days
  EXPECT_EQ(too_far.status, 409);
  EXPECT_NE(too_far.body.find("90 days"), std::string::npos);
  EXPECT_EQ(post("/s/" + s.status, "do=extend&days=7&csrf=" + csrf).status, 303);   // 68 days
  auto link = store_->catalog.show_message("Q1").value().value().links.at(0);
  EXPECT_EQ(link.expires_at, kNow + 68 * 86400);
}

TEST_F(HandlerTest, FirstCompleteDownloadQueuesOneNoticeAndInterruptionsNone) {
  Sent s = offload({{"report.pdf", std::string(50'000, 'r')}}, 3);
  auto download = [&](std::uint64_t sent) {
    Response r = get(claim_ticket(s, s.file_ids[0]));
    ASSERT_EQ(r.status, 200);
    r.on_done(sent == 0 ? r.length : sent);
  };
  download(10'000);  // interrupted
  EXPECT_EQ(store_->catalog.outbox_depth(store::OutboxKind::download_notice).value(), 0);
  download(0);
  download(0);
  EXPECT_EQ(store_->catalog.outbox_depth(store::OutboxKind::download_notice).value(), 1) << "policy: first only";
  auto due = store_->catalog.due_outbox(now_, 10).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].target, "alice@example.org");
  EXPECT_NE(due[0].payload.find(s.file_ids[0]), std::string::npos);
}

// "name{labels}" -> value for each sample line of a Prometheus text answer.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

TEST_F(HandlerTest, MetricsCountResponsesDownloadsAndShowStoredAndMilterNumbers) {
  // The milter's numbers arrive through its metrics file.
  const std::string milter_file = dir_.path() + "/metrics/milter.prom";
  ASSERT_TRUE(write_metrics_file(milter_file, "# TYPE attachgate_messages_seen_total counter\n"
                                              "attachgate_messages_seen_total 5\n")
                  .ok());
  HandlerConfig config;
  config.milter_metrics_file = milter_file;
  auto pages = PageRenderer::load(source_dir() + "/templates");
  ASSERT_TRUE(pages.ok());
  handler_ = std::make_unique<Handler>(*store_, std::make_shared<const PageRenderer>(std::move(*pages)),
                                       config, [this] { return now_; });

  Sent s = offload({{"report.pdf", std::string(50'000, 'r')}}, 3);
  offload({{"notes.txt", "hello"}});
  EXPECT_EQ(get("/d/" + s.token).status, 200);  // landing page
  EXPECT_EQ(get("/no/such/page").status, 404);
  Response cut = get(claim_ticket(s, s.file_ids[0]));
  cut.on_done(10'000);  // interrupted
  Response whole = get(claim_ticket(s, s.file_ids[0]));
  whole.on_done(whole.length);  // complete

  MetricsSite site(*handler_);
  auto scrape = [&site](const std::string& method = "GET") {
    Request q;
    q.method = method;
    q.target = "/metrics";
    return site.handle(q);
  };
  Response r = scrape();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(*r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(*r.header("Cache-Control"), "no-store");
  auto m = samples(r.body);
  EXPECT_EQ(m["attachgate_http_responses_total{code=\"200\"}"], 3);  // landing, two tickets
  EXPECT_EQ(m["attachgate_http_responses_total{code=\"303\"}"], 2);  // the two claims
  EXPECT_EQ(m["attachgate_http_responses_total{code=\"404\"}"], 1);
  EXPECT_EQ(m["attachgate_downloads_total{outcome=\"complete\"}"], 1);
  EXPECT_EQ(m["attachgate_downloads_total{outcome=\"interrupted\"}"], 1);
  EXPECT_EQ(m.count("attachgate_downloads_total{outcome=\"part\"}"), 1u);
  EXPECT_EQ(m["attachgate_downloads_total{outcome=\"part\"}"], 0);
  EXPECT_EQ(m["attachgate_stored_files"], 2);
  EXPECT_EQ(m["attachgate_stored_bytes"], 50'005);
  EXPECT_EQ(m["attachgate_outbox_depth{kind=\"download notice\"}"], 1);
  EXPECT_EQ(m.count("attachgate_outbox_depth{kind=\"webhook\"}"), 1u);
  EXPECT_EQ(m["attachgate_messages_seen_total"], 5);
  // Which back ends this node runs on (the units run on both catalogs).
  const std::string engine(store::to_string(store_->catalog.engine()));
  EXPECT_EQ(m["attachgate_catalog_backend_info{engine=\"" + engine + "\"}"], 1);
  EXPECT_EQ(m["attachgate_blob_backend_info{kind=\"file\"}"], 1);
  for (const char* name : {"attachgate_http_responses_total", "attachgate_downloads_total"})
    EXPECT_NE(r.body.find(std::string("# TYPE ") + name + " counter\n"), std::string::npos) << name;
  EXPECT_NE(r.body.find("# TYPE attachgate_stored_files gauge\n"), std::string::npos);
  EXPECT_EQ(r.body.find("alice@example.org"), std::string::npos) << "no addresses";
  EXPECT_EQ(r.body.find(s.token), std::string::npos) << "no tokens";

  // Scrapes are not counted; other methods are refused.
  EXPECT_EQ(samples(scrape().body)["attachgate_http_responses_total{code=\"200\"}"], 3);
  EXPECT_EQ(scrape("POST").status, 405);
  // The recipients' site has no /metrics: the numbers count wrong codes.
  EXPECT_EQ(get("/metrics").status, 404);
  // Without a milter file (or with an unfinished one) the rest still answers.
  std::filesystem::remove(milter_file);
  auto later = samples(scrape().body);
  EXPECT_EQ(later.count("attachgate_messages_seen_total"), 0u);
  EXPECT_EQ(later["attachgate_http_responses_total{code=\"404\"}"], 2);
}

TEST_F(HandlerTest, MetricsSiteServesOnlyMetrics) {
  MetricsSite site(*handler_);
  Request q;
  q.method = "GET";
  q.target = "/healthz";
  EXPECT_EQ(site.handle(q).status, 404);
  q.target = "/metrics?x=1";
  EXPECT_EQ(site.handle(q).status, 200);
  q.method = "HEAD";
  EXPECT_EQ(site.handle(q).status, 200);
}

// Only a POST to a landing page that carries a code is a code check
// (Argon2id): those go to the server's code-check pool.
TEST_F(HandlerTest, CodePostsGoToTheCodeCheckLane) {
  auto lane_of = [this](std::string method, std::string target, std::string body) {
    Request q;
    q.method = std::move(method);
    q.target = std::move(target);
    q.content_type = "application/x-www-form-urlencoded";
    q.body = std::move(body);
    return handler_->lane(q);
  };
  const std::string token(43, 'A');
  EXPECT_EQ(lane_of("POST", "/d/" + token, "code=123456&file=all"), Lane::code_check);
  EXPECT_EQ(lane_of("POST", "/d/" + token + "?x", "file=ab&code=1"), Lane::code_check);
  EXPECT_EQ(lane_of("POST", "/d/" + token, "file=all"), Lane::general);
  EXPECT_EQ(lane_of("POST", "/d/" + token, "code=&file=all"), Lane::general);
  EXPECT_EQ(lane_of("GET", "/d/" + token, "code=123456"), Lane::general);
  EXPECT_EQ(lane_of("POST", "/s/" + token, "code=123456"), Lane::general);
  EXPECT_EQ(lane_of("GET", "/healthz", ""), Lane::general);
}

}  // namespace
}  // namespace attachgate::web
