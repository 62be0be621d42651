// store/s3_client.cc - see s3_client.h.
#include "store/s3_client.h"

#include <curl/curl.h>

#include <cstring>
#include <ctime>
#include <mutex>

#include "store/sha256.h"

namespace attachgate::store {
namespace {

struct Upload {
  const unsigned char* data;
  std::size_t left;
};

size_t read_body(char* buffer, size_t size, size_t count, void* user) {
  auto* up = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, up->left);
  std::memcpy(buffer, up->data, n);
  up->data += n;
  up->left -= n;
  return n;
}

struct Download {
  S3Response* response;
  std::size_t max;
  bool overflow = false;
};

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* down = static_cast<Download*>(user);
  const std::size_t n = size * count;
  if (down->response->body.size() + n > down->max) {
    down->overflow = true;
    return 0;  // aborts the transfer
  }
  down->response->body.append(data, n);
  return n;
}

size_t read_header(char* data, size_t size, size_t count, void* user) {
  const std::size_t n = size * count;
  std::string_view line(data, n);
  constexpr std::string_view kEtag = "etag:";
  if (line.size() > kEtag.size() && strncasecmp(line.data(), kEtag.data(), kEtag.size()) == 0) {
    line.remove_prefix(kEtag.size());
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' '))
      line.remove_suffix(1);
    static_cast<S3Response*>(user)->etag = std::string(line);
  }
  return n;
}

struct SList {
  curl_slist* list = nullptr;
  ~SList() { curl_slist_free_all(list); }
  void add(const std::string& header) { list = curl_slist_append(list, header.c_str()); }
};

std::string sha256_hex(const void* data, std::size_t size) {
  Sha256 hash;
  hash.update(data, size);
  return hash.final_hex();
}

}  // namespace

S3Client::S3Client(std::shared_ptr<const S3Location> where) : where_(std::move(where)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
  if (!curl_) panic("curl_easy_init failed");
}

S3Client::~S3Client() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

std::string S3Client::describe(const S3Request& r) const {
  return "S3 endpoint " + where_->endpoint + ", bucket " + where_->bucket + ": " + r.method + " " +
         (r.key.empty() ? "/" : r.key);
}

Result<S3Response> S3Client::perform(const S3Request& r) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  S3Response response;
  std::string url = where_->endpoint + "/" + where_->bucket;
  if (!r.key.empty()) url += "/" + r.key;
  if (!r.query.empty()) url += "?" + r.query;
  const std::string sigv4 = "aws:amz:" + where_->region + ":s3";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERNAME, where_->credentials.access_key.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, where_->credentials.secret_key.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");

  SList headers;
  headers.add("x-amz-content-sha256: " + sha256_hex(r.body ? r.body : "", r.body_size));
  if (!r.content_type.empty()) headers.add("Content-Type: " + r.content_type);
  Upload up{static_cast<const unsigned char*>(r.body), r.body_size};
  if (r.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body_size));
  } else if (r.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body ? static_cast<const char*>(r.body) : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body_size));
  } else if (r.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (r.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  std::string range;
  if (r.range) {
    range = std::to_string(r.range->first) + "-" + std::to_string(r.range->second);
    curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
  if (r.range) response.body.reserve(r.max_response);
  Download down{&response, r.max_response};
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &down);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, read_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response);
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);

  const CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  if (down.overflow)
    return make_error(describe(r) + ": the answer is longer than the " +
                      std::to_string(r.max_response) + " bytes asked for");
  if (rc != CURLE_OK)
    return make_error(describe(r) + ": " + (*error ? error : curl_easy_strerror(rc)) +
                      "; check that the endpoint is up and reachable from this host");
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  curl_off_t length = -1;
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length > 0) response.content_length = static_cast<std::uint64_t>(length);
  return response;
}

std::string S3Client::failure(const S3Request& r, const S3Response& response) const {
  std::string text = describe(r) + ": HTTP " + std::to_string(response.status);
  const auto code = xml_values(response.body, "Code");
  const auto message = xml_values(response.body, "Message");
  if (!code.empty()) text += " " + code[0];
  if (!message.empty()) text += " (" + message[0].substr(0, 200) + ")";
  if (response.status == 403 || response.status == 401)
    text += "; check the access key and secret (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            "[blobs] credentials_file), the region in the url, and this host's clock";
  else if (!code.empty() && code[0] == "NoSuchBucket")
    text += "; check the bucket in [blobs] url";
  else if (response.status >= 500)
    text += "; the store is failing or overloaded, try again later";
  return text;
}

std::string s3_escape(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::vector<std::string> xml_values(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  for (std::size_t at = 0;;) {
    const auto b = xml.find(open, at);
    if (b == std::string_view::npos) break;
    const auto e = xml.find(close, b + open.size());
    if (e == std::string_view::npos) break;
    std::string_view raw = xml.substr(b + open.size(), e - b - open.size());
    std::string value;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      static constexpr std::pair<std::string_view, char> kEntities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool matched = false;
      for (const auto& [entity, ch] : kEntities)
        if (raw.substr(i, entity.size()) == entity) {
          value += ch;
          i += entity.size() - 1;
          matched = true;
          break;
        }
      if (!matched) value += raw[i];
    }
    out.push_back(std::move(value));
    at = e + close.size();
  }
  return out;
}

std::int64_t s3_time(std::string_view text) {
  std::tm tm{};
  const std::string s(text.substr(0, 19));
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace attachgate::store
