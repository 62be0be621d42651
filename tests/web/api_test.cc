// Tests web/api.cc and api_upload.cc through Handler::admit, as the server
// drives them: a real store in a temporary directory, bodies fed to the
// upload sink in pieces, the link then opened through the same handler.
#include "web/api.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "store/secrets.h"
#include "tests/web/web_fixture.h"

namespace attachgate::web {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;
const std::string kKey = "ag_the-test-key";
const std::string kOtherKey = "ag_another-key";

std::string sha256_hex(const std::string& data) {
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  char hex[2 * sizeof d + 1];
  sodium_bin2hex(hex, sizeof hex, d, sizeof d);
  return hex;
}

std::size_t files_in(const std::string& dir) {
  std::size_t n = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) ++n;
  return n;
}

std::string multipart(const std::vector<std::pair<std::string, std::string>>& fields,
                      const std::string& filename, const std::string& content) {
  std::string b;
  for (const auto& [k, v] : fields)
    b += "--BOUND\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n";
  if (!filename.empty() || !content.empty())
    b += "--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename +
         "\"\r\nContent-Type: application/pdf\r\n\r\n" + content + "\r\n";
  return b + "--BOUND--\r\n";
}

class ApiTest : public WebFixture {
 protected:
  void SetUp() override {
    HandlerConfig config;
    config.api.key_hashes = {api_key_hash(kKey), api_key_hash(kOtherKey)};
    config.api.public_url = "https://files.example.org";
    config.api.max_upload = 100'000;
    open(config, &now_);
  }

  Request request(std::string method, std::string target, std::string key = kKey) {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.api_key = std::move(key);
    r.remote_addr = "127.0.0.1";
    return r;
  }

  // The server's part: admit, then the body in pieces of `piece` bytes.
  Response send(const Request& head, const std::string& body, std::size_t piece = 1000,
                bool declare_length = true) {
    std::optional<std::uint64_t> length;
    if (declare_length) length = body.size();
    Admission a = handler_->admit(head, length);
    if (a.answer) return std::move(*a.answer);
    EXPECT_TRUE(a.upload) << head.target;
    if (!a.upload) return Response{};
    for (std::size_t i = 0; i < body.size(); i += piece)
      if (auto refused = a.upload->write(body.data() + i, std::min(piece, body.size() - i)))
        return std::move(*refused);
    return a.upload->finish();
  }

  Response post_form(const std::string& body, std::string key = kKey) {
    Request r = request("POST", "/api/v1/files", std::move(key));
    r.content_type = "multipart/form-data; boundary=BOUND";
    return send(r, body);
  }

  static nlohmann::json json_of(const Response& r) { return nlohmann::json::parse(r.body); }

  std::string token_of(const Response& created) {
    std::string url = json_of(created).at("download_url");
    return url.substr(url.rfind('/') + 1);
  }

  std::int64_t now_ = kNow;
};

TEST_F(ApiTest, WithoutAValidKeyEverythingIs401) {
  for (const std::string& key : std::vector<std::string>{"", "ag_wrong", std::string(300, 'k')}) {
    Response r = send(request("GET", "/api/v1/files/0011223344556677", key), "");
    EXPECT_EQ(r.status, 401) << key;
    EXPECT_EQ(json_of(r).at("status"), 401);
    EXPECT_FALSE(json_of(r).at("message").get<std::string>().empty());
    Response up = post_form(multipart({}, "a.pdf", "x"), key);
    EXPECT_EQ(up.status, 401);
  }
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::files).value(), 0);
}

TEST_F(ApiTest, MultipartUploadStoresTheFileAndTheLinkServesIt) {
  std::string content;
  for (int i = 0; i < 5000; ++i) content += "line " + std::to_string(i) + "\r\n--BOUN\n";
  ASSERT_LT(content.size(), 100'000u);
  Response r = post_form(multipart({{"expiration_days", "3"}, {"max_downloads", "2"}},
                                   "../../etc/Report\xE2\x80\xAEgpj.pdf", content));
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = json_of(r);
  EXPECT_EQ(j.at("expires_at"), "2026-09-24T14:13:20Z");  // kNow + 3 days
  EXPECT_EQ(j.at("max_downloads"), 2);
  EXPECT_EQ(j.at("size"), content.size());
  EXPECT_EQ(j.at("sha256"), sha256_hex(content));
  const std::string name = j.at("filename");
  EXPECT_EQ(name.find('/'), std::string::npos);
  EXPECT_EQ(name.find("\xE2\x80\xAE"), std::string::npos);
  EXPECT_EQ(j.at("download_url").get<std::string>().rfind("https://files.example.org/d/", 0), 0u);
  ASSERT_NE(r.header("Location"), nullptr);
  EXPECT_EQ(*r.header("Location"), "https://files.example.org/api/v1/files/" + j.at("id").get<std::string>());

  // The recipient's side: the landing page, then a claim and the bytes.
  Request landing;
  landing.method = "GET";
  landing.target = "/d/" + token_of(r);
  EXPECT_EQ(serve(landing).status, 200);

  Response shown = send(request("GET", "/api/v1/files/" + j.at("id").get<std::string>()), "");
  ASSERT_EQ(shown.status, 200) << shown.body;
  auto s = json_of(shown);
  EXPECT_EQ(s.at("status"), "active");
  EXPECT_EQ(s.at("downloads"), 0);
  EXPECT_EQ(s.at("max_downloads"), 2);
  EXPECT_EQ(s.at("sha256"), sha256_hex(content));
  std::vector<std::string> kinds;
  for (auto& e : s.at("events")) kinds.push_back(e.at("kind"));
  EXPECT_EQ(kinds, (std::vector<std::string>{"offloaded", "viewed"}));
}

TEST_F(ApiTest, RawPutTakesTermsFromTheQuery) {
  Request r = request("PUT", "/api/v1/files/caf%C3%A9%20menu.txt?max_downloads=5&access_code=s3cret-code");
  r.content_type = "text/plain";
  Response created = send(r, "hello", 2);
  ASSERT_EQ(created.status, 201) << created.body;
  auto j = json_of(created);
  EXPECT_EQ(j.at("filename"), "café menu.txt");
  EXPECT_EQ(j.at("max_downloads"), 5);
  EXPECT_EQ(j.at("access_code_required"), true);
  EXPECT_EQ(j.at("expires_at"), "2026-09-28T14:13:20Z");  // the default 7 days
}

TEST_F(ApiTest, OverTheLimitIs413AndLeavesNothing) {
  const std::string big(100'001, 'b');
  // Declared: refused before any byte is read.
  Request put = request("PUT", "/api/v1/files/big.bin");
  Admission early = handler_->admit(put, big.size());
  ASSERT_TRUE(early.answer.has_value());
  EXPECT_EQ(early.answer->status, 413);
  // Not declared (chunked): refused when the count passes the limit.
  EXPECT_EQ(send(put, big, 4096, false).status, 413);
  Response form = post_form(multipart({}, "big.bin", big));
  EXPECT_EQ(form.status, 413);
  EXPECT_EQ(json_of(form).at("status"), 413);
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::files).value(), 0);
  EXPECT_EQ(files_in(store_->blobs.dir()), 0u);
}

TEST_F(ApiTest, BadTermsAndFormsAre422) {
  const std::vector<std::vector<std::pair<std::string, std::string>>> bad_terms = {
      {{"expiration_days", "31"}}, {{"expiration_days", "0"}}, {{"expiration_days", "3x"}},
      {{"max_downloads", "101"}},  {{"access_code", "12345"}}, {{"access_code", "has space"}},
      {{"color", "blue"}}};
  for (const auto& fields : bad_terms) {
    Response r = post_form(multipart(fields, "a.pdf", "data"));
    EXPECT_EQ(r.status, 422) << fields[0].first << "=" << fields[0].second;
    EXPECT_NE(json_of(r).at("message").get<std::string>().find(fields[0].first), std::string::npos);
  }
  EXPECT_EQ(post_form(multipart({{"max_downloads", "1"}}, "", "")).status, 422);  // no file part
  EXPECT_EQ(post_form("--BOUND\r\ngarbage").status, 422);                         // malformed, cut
  EXPECT_EQ(send(request("PUT", "/api/v1/files/a.txt?max_downloads=0"), "x").status, 422);
  Request wrong_type = request("POST", "/api/v1/files");
  wrong_type.content_type = "application/json";
  EXPECT_EQ(send(wrong_type, "{}").status, 415);
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::files).value(), 0);
  EXPECT_EQ(files_in(store_->blobs.dir()), 0u);
}

TEST_F(ApiTest, AnUploadCutOffMidwayLeavesNothing) {
  Request put = request("PUT", "/api/v1/files/partial.bin");
  {
    Admission a = handler_->admit(put, std::nullopt);
    ASSERT_TRUE(a.upload);
    std::string half(50'000, 'h');
    EXPECT_FALSE(a.upload->write(half.data(), half.size()).has_value());
  }  // the connection dropped: the sink goes without finish()
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::files).value(), 0);
  EXPECT_EQ(files_in(store_->blobs.dir()), 0u);
}

TEST_F(ApiTest, DeleteRevokesAndTheLinkThenAnswers410) {
  Response created = post_form(multipart({}, "a.pdf", "content"));
  ASSERT_EQ(created.status, 201);
  const std::string id = json_of(created).at("id");
  // Another key does not see it: 404 for read and delete alike.
  EXPECT_EQ(send(request("GET", "/api/v1/files/" + id, kOtherKey), "").status, 404);
  EXPECT_EQ(send(request("DELETE", "/api/v1/files/" + id, kOtherKey), "").status, 404);
  now_ += 60;
  Response gone = send(request("DELETE", "/api/v1/files/" + id), "");
  EXPECT_EQ(gone.status, 204);
  EXPECT_TRUE(gone.body.empty());
  Request landing;
  landing.method = "GET";
  landing.target = "/d/" + token_of(created);
  EXPECT_EQ(serve(landing).status, 410);
  auto s = json_of(send(request("GET", "/api/v1/files/" + id), ""));
  EXPECT_EQ(s.at("status"), "revoked");
  EXPECT_EQ(s.at("revoked_at"), "2026-09-21T14:14:20Z");
  EXPECT_EQ(s.at("events").back().at("kind"), "revoked");
  EXPECT_NE(s.at("events").back().at("detail").get<std::string>().find("api:"), std::string::npos);
}

TEST_F(ApiTest, UnknownIdsRoutesAndMethods) {
  EXPECT_EQ(send(request("GET", "/api/v1/files/00112233aabbccdd"), "").status, 404);
  EXPECT_EQ(send(request("GET", "/api/v1/files/..%2F..%2Fetc"), "").status, 404);
  EXPECT_EQ(send(request("GET", "/api/v2/other"), "").status, 404);
  Response r = send(request("PATCH", "/api/v1/files/00112233aabbccdd"), "");
  EXPECT_EQ(r.status, 405);
  ASSERT_NE(r.header("Allow"), nullptr);
  Response list = send(request("GET", "/api/v1/files"), "");
  EXPECT_EQ(list.status, 405);
  EXPECT_EQ(*list.header("Allow"), "POST");
  // Not an API path: the ordinary routes take it.
  Request page;
  page.method = "GET";
  page.target = "/healthz";
  Admission a = handler_->admit(page, std::nullopt);
  EXPECT_FALSE(a.answer.has_value());
  EXPECT_FALSE(a.upload);
}

TEST_F(ApiTest, AnEmptyFileIs422) {
  EXPECT_EQ(send(request("PUT", "/api/v1/files/empty.txt"), "").status, 422);
  Response r = post_form("--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e\"\r\n\r\n"
                         "\r\n--BOUND--\r\n");
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(json_of(r).at("message").get<std::string>().find("empty"), std::string::npos);
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::files).value(), 0);
}

TEST_F(ApiTest, AnEndlessEpilogueIs413) {
  Request r = request("POST", "/api/v1/files");
  r.content_type = "multipart/form-data; boundary=BOUND";
  Admission a = handler_->admit(r, std::nullopt);
  ASSERT_TRUE(a.upload);
  const std::string form = multipart({}, "a.pdf", "content");
  ASSERT_FALSE(a.upload->write(form.data(), form.size()).has_value());
  const std::string junk(64 * 1024, 'e');
  std::optional<Response> refused;
  for (int i = 0; i < 10 && !refused; ++i) refused = a.upload->write(junk.data(), junk.size());
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 413);
}

// Ownership is the upload's, not the sender text's: mail whose envelope
// sender reads like a key's label stays out of that key's reach.
TEST_F(ApiTest, MailWithASenderLikeAKeyLabelIsNotThatKeys) {
  const std::string label = "api:" + api_key_hash(kKey).substr(7, 12);
  auto w = store_->blobs.create();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->write("x", 1).ok());
  store::Offload o;
  o.now = kNow;
  o.message.queue_id = "4F2A1B3C";
  o.message.sender = label;
  o.files.push_back({"mail.pdf", "application/pdf", w->commit().value()});
  store::NewLink link;
  link.token_hash = store_->tokens.hash(store::new_token());
  link.pixel_id = store::new_public_id(16);
  link.expires_at = kNow + 86400;
  o.links.push_back(link);
  auto ids = store_->catalog.record_offload(o);
  ASSERT_TRUE(ids.ok());
  const std::string id = ids->file_public_ids.at(0);
  EXPECT_EQ(send(request("GET", "/api/v1/files/" + id), "").status, 404);
  EXPECT_EQ(send(request("DELETE", "/api/v1/files/" + id), "").status, 404);
  // The key's own upload, under the same label, is found.
  Response own = send(request("PUT", "/api/v1/files/own.txt"), "mine");
  ASSERT_EQ(own.status, 201);
  EXPECT_EQ(send(request("GET", "/api/v1/files/" + json_of(own).at("id").get<std::string>()), "").status,
            200);
}

TEST_F(ApiTest, A401SaysHowToAuthenticate) {
  Response r = send(request("GET", "/api/v1/files/00112233aabbccdd", "ag_wrong"), "");
  ASSERT_NE(r.header("WWW-Authenticate"), nullptr);
  EXPECT_EQ(*r.header("WWW-Authenticate"), "X-API-Key");
}

}  // namespace
}  // namespace attachgate::web
