// notify/webhook_transport.cc - see webhook_transport.h.
#include "notify/webhook_transport.h"

#include <curl/curl.h>
#include <sodium.h>

#include <memory>
#include <mutex>

namespace attachgate::notify {
namespace {

// The receiver's answer body is not used; read and dropped.
std::size_t discard(char*, std::size_t size, std::size_t count, void*) { return size * count; }

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string webhook_signature(const std::string& secret, const std::string& body) {
  // crypto_auth_hmacsha256 takes a key of any length through its _init form.
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()),
                                body.size());
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[sizeof mac * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return std::string("sha256=") + hex;
}

Status CurlWebhook::post(const WebhookRequest& request) {
  init_curl();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return make_error("cannot start libcurl");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, curl_slist_free_all);
  // Without this, libcurl adds "Expect: 100-continue" to larger bodies and
  // waits for an answer some receivers never send.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  for (const auto& [name, value] : request.headers)
    headers.reset(curl_slist_append(headers.release(), (name + ": " + value).c_str()));
  char error[CURL_ERROR_SIZE] = "";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    return make_error(request.url + ": " + (error[0] ? error : curl_easy_strerror(rc)));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299)
    return make_error(request.url + ": HTTP " + std::to_string(status));
  return {};
}

}  // namespace attachgate::notify
