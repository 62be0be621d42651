// util/blob_url.cc - see blob_url.h.
#include "util/blob_url.h"

#include <string_view>

namespace attachgate {
namespace {

constexpr std::string_view kExample =
    "; write e.g. file:/var/lib/attachgate/blobs or "
    "s3://bucket/prefix?endpoint=https://s3.example.org&region=us-east-1";

bool all_of(std::string_view s, std::string_view extra) {
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              extra.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

Error bad(const std::string& url, const std::string& why) {
  return make_error("\"" + url + "\": " + why + std::string(kExample));
}

// S3's bucket naming rules, less the IP-address form.
bool valid_bucket(std::string_view b) {
  return b.size() >= 3 && b.size() <= 63 && all_of(b, "-.") && b.front() != '-' &&
         b.front() != '.' && b.back() != '-' && b.back() != '.' &&
         b.find("..") == std::string_view::npos &&
         [&] {
           for (char c : b)
             if (c >= 'A' && c <= 'Z') return false;
           return true;
         }();
}

Status parse_endpoint(const std::string& url, std::string_view e, BlobUrl& out) {
  std::string_view scheme;
  if (e.rfind("http://", 0) == 0) scheme = "http://";
  else if (e.rfind("https://", 0) == 0) scheme = "https://";
  else return bad(url, "endpoint must start with http:// or https://");
  std::string_view host = e.substr(scheme.size());
  while (!host.empty() && host.back() == '/') host.remove_suffix(1);
  if (host.empty() || !all_of(host, "-.:[]"))
    return bad(url, "endpoint must be http(s)://host[:port] without a path");
  out.endpoint = std::string(scheme) + std::string(host);
  return {};
}

Result<BlobUrl> parse_s3(const std::string& url) {
  BlobUrl out;
  out.kind = BlobUrl::Kind::s3;
  std::string_view rest = std::string_view(url).substr(5);
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  const auto slash = rest.find('/');
  const std::string_view bucket = rest.substr(0, slash);
  if (!valid_bucket(bucket))
    return bad(url, "bucket must be 3-63 characters of a-z, 0-9, '-' and '.'");
  out.bucket = std::string(bucket);
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash + 1);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    if (!all_of(prefix, "-_./") || prefix.find("//") != std::string_view::npos ||
        prefix.rfind('/', 0) == 0)
      return bad(url, "prefix may hold only letters, digits, '-', '_', '.' and single '/'");
    if (!prefix.empty()) out.prefix = std::string(prefix) + "/";
  }
  bool have_endpoint = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = item.find('=');
    const std::string_view name = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    if (name == "endpoint") {
      if (auto s = parse_endpoint(url, value, out); !s) return s.error();
      have_endpoint = true;
    } else if (name == "region") {
      if (value.empty() || !all_of(value, "-")) return bad(url, "region must be like us-east-1");
      out.region = std::string(value);
    } else {
      return bad(url, "unknown parameter \"" + std::string(name) +
                          "\" (known: endpoint, region; credentials never go in the url)");
    }
  }
  if (!have_endpoint) return bad(url, "endpoint=http(s)://host[:port] is required");
  return out;
}

}  // namespace

std::string_view to_string(BlobUrl::Kind kind) {
  return kind == BlobUrl::Kind::s3 ? "s3" : "file";
}

Result<BlobUrl> parse_blob_url(const std::string& url) {
  for (char c : url)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad(url, "must not contain spaces");
  if (url.rfind("s3://", 0) == 0) return parse_s3(url);
  if (url.rfind("file:", 0) == 0) {
    BlobUrl out;
    out.dir = url.substr(5);
    if (out.dir.rfind("//", 0) == 0) out.dir = out.dir.substr(2);  // file:///abs
    if (out.dir.empty()) return bad(url, "file: needs a directory");
    return out;
  }
  return bad(url, "must start with file: or s3://");
}

}  // namespace attachgate
