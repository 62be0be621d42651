// notify/sender_mail.h - the text of the mails attachgate writes itself: to
// senders the receipt after an offload and the notice after a download, and
// to a recipient the fresh link a sender sent again; from
// templates/receipt.txt, download_notice.txt and fresh_link.txt (mustache,
// checked when loaded like every template). Values come from mail and
// browsers: they are cleaned here.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/result.h"

namespace attachgate::notify {

struct MailFile {
  std::string name;
  std::uint64_t size = 0;
};

struct ReceiptFacts {
  std::string subject;
  std::vector<std::string> recipients;
  std::vector<MailFile> files;
  std::int64_t expires_at = 0;
  int downloads_per_recipient = 1;
  std::string access_code;  // "" when none, or when each recipient has their own
  std::string status_url;   // "" when there is no status page
  std::vector<std::string> own_links;  // recipients with a link of their own
  std::vector<std::string> kept;       // recipients who got the attachments in the mail
  std::vector<std::pair<std::string, std::string>> codes;  // recipient, their own code
};

struct DownloadFacts {
  std::string subject;
  std::string recipient;  // whose own link it was; "" for a shared link
  std::vector<MailFile> files;
  std::int64_t at = 0;
  std::string remote_addr, user_agent;
};

struct FreshLinkFacts {
  std::string sender, subject;
  std::vector<MailFile> files;
  std::string url;  // the new link
  std::int64_t expires_at = 0;
  int max_downloads = 1;
  bool has_code = false;
};

class SenderMail {
 public:
  static Result<SenderMail> load(const std::string& templates_dir);
  std::string receipt(const ReceiptFacts& facts) const;
  std::string download_notice(const DownloadFacts& facts) const;
  std::string fresh_link(const FreshLinkFacts& facts) const;

 private:
  SenderMail(std::string receipt, std::string notice, std::string fresh_link)
      : receipt_(std::move(receipt)), notice_(std::move(notice)),
        fresh_link_(std::move(fresh_link)) {}
  std::string receipt_, notice_, fresh_link_;
};

}  // namespace attachgate::notify
