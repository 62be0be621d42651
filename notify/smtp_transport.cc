// notify/smtp_transport.cc - see smtp_transport.h.
#include "notify/smtp_transport.h"

#include <curl/curl.h>

#include <cstring>
#include <memory>
#include <mutex>

namespace attachgate::notify {
namespace {

struct Reader {
  const std::string* data;
  std::size_t pos = 0;
};

std::size_t read_body(char* out, std::size_t size, std::size_t count, void* user) {
  auto* r = static_cast<Reader*>(user);
  const std::size_t n = std::min(size * count, r->data->size() - r->pos);
  std::memcpy(out, r->data->data() + r->pos, n);
  r->pos += n;
  return n;
}

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

Status CurlSmtp::send(const std::string& from, const std::string& to, const std::string& data) {
  init_curl();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return make_error("cannot start libcurl");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt(
      curl_slist_append(nullptr, ("<" + to + ">").c_str()), curl_slist_free_all);
  Reader reader{&data};
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
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) return {};
  long reply = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
  std::string why = error[0] ? error : curl_easy_strerror(rc);
  if (reply > 0) why += " (SMTP " + std::to_string(reply) + ")";
  return make_error("relay " + url_ + ": " + why);
}

}  // namespace attachgate::notify
