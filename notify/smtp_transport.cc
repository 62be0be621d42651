// notify/smtp_transport.cc - see smtp_transport.h.
#include "notify/smtp_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <memory>
#include <mutex>

namespace attachgate::notify {
namespace {

// The bytes to send, as libcurl asks for them; the first error stops the
// transfer and is kept for the caller.
struct Reader {
  MailSource source;
  std::optional<Error> failed;
};

std::size_t read_body(char* out, std::size_t size, std::size_t count, void* user) {
  auto* r = static_cast<Reader*>(user);
  auto got = r->source(out, size * count);
  if (!got) {
    r->failed = got.error();
    return CURL_READFUNC_ABORT;
  }
  return *got;
}

// The relay's replies, as libcurl's debug callback shows them; the last
// one is the answer to the end of DATA.
int keep_reply(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  auto* last = static_cast<std::string*>(user);
  std::string line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (!line.empty()) *last = line.substr(0, 512);
  return 0;
}

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

Status CurlSmtp::send(const std::string& from, const std::string& to, const std::string& data) {
  std::size_t pos = 0;
  auto sent = inject(from, to, [&data, &pos](char* out, std::size_t size) -> Result<std::size_t> {
    const std::size_t n = std::min(size, data.size() - pos);
    std::memcpy(out, data.data() + pos, n);
    pos += n;
    return n;
  });
  if (!sent) return sent.error();
  return {};
}

Result<std::string> CurlSmtp::inject(const std::string& from, const std::string& to,
                                     const MailSource& source) {
  init_curl();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return make_error("cannot start libcurl");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt(
      curl_slist_append(nullptr, ("<" + to + ">").c_str()), curl_slist_free_all);
  Reader reader{source, std::nullopt};
  std::string last_reply;
  char error[CURL_ERROR_SIZE] = "";
  const std::string mail_from = "<" + from + ">";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
  curl_easy_setopt(c, CURLOPT_READDATA, &reader);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, keep_reply);
  curl_easy_setopt(c, CURLOPT_DEBUGDATA, &last_reply);
  curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);  // the debug callback sees replies only with it
  const CURLcode rc = curl_easy_perform(c);
  if (reader.failed) return make_error("reading the mail to send: " + reader.failed->message);
  if (rc == CURLE_OK) return last_reply;
  long reply = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
  std::string why = error[0] ? error : curl_easy_strerror(rc);
  if (reply > 0) why += " (SMTP " + std::to_string(reply) + ")";
  return make_error("relay " + url_ + ": " + why);
}

std::string queue_id_of(std::string_view reply) {
  constexpr std::string_view kQueued = "queued as ";
  const std::size_t at = reply.find(kQueued);
  if (at == std::string_view::npos) return "";
  std::string id;
  for (char ch : reply.substr(at + kQueued.size())) {
    const bool ok = (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
    if (!ok || id.size() >= 32) break;
    id += ch;
  }
  return id;
}

}  // namespace attachgate::notify
