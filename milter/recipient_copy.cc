// milter/recipient_copy.cc - see recipient_copy.h.
#include "milter/recipient_copy.h"

#include "util/text.h"

namespace attachgate::milter {
namespace {

struct Field {
  std::string name;  // as written
  std::string text;  // the whole field, CRLF included
};

std::vector<Field> split_fields(std::string_view block) {
  std::vector<Field> fields;
  std::size_t pos = 0;
  while (pos < block.size()) {
    std::size_t end = block.find("\r\n", pos);
    end = end == std::string_view::npos ? block.size() : end + 2;
    const std::string_view line = block.substr(pos, end - pos);
    if ((line.front() == ' ' || line.front() == '\t') && !fields.empty()) {
      fields.back().text += line;  // a continuation line
    } else {
      const std::size_t colon = line.find(':');
      fields.push_back({std::string(line.substr(0, colon == std::string_view::npos ? 0 : colon)),
                        std::string(line)});
    }
    pos = end;
  }
  return fields;
}

// "Name: value" CRLF, with bare LFs in a folded value made CRLF.
std::string field_text(const std::string& name, const std::string& value) {
  std::string out = name + ":";
  if (value.empty() || (value.front() != ' ' && value.front() != '\t')) out += ' ';
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) out += '\r';
    out += value[i];
  }
  return out + "\r\n";
}

}  // namespace

Result<std::string> header_block(const Spool& message, std::size_t max_bytes) {
  std::string head;
  bool found = false;
  // Reads only until the empty line: stopping early is this sentinel error.
  const Status read = message.for_each_chunk(16 * 1024, [&](std::string_view chunk) -> Status {
    const bool first = head.empty();
    const std::size_t from = head.size() < 3 ? 0 : head.size() - 3;
    head.append(chunk);
    if (first && head.compare(0, 2, "\r\n") == 0) {  // no header fields at all
      head.clear();
      found = true;
      return make_error("");
    }
    const std::size_t at = head.find("\r\n\r\n", from);
    if (at != std::string::npos) {
      head.resize(at + 2);
      found = true;
      return make_error("");
    }
    if (head.size() > max_bytes) return make_error("");
    return {};
  });
  if (found) return head;
  if (!read && !read.error().message.empty()) return read.error();
  return make_error("the message's header block does not end within " + std::to_string(max_bytes) +
                    " bytes");
}

std::string apply_header_changes(std::string_view block, const std::vector<HeaderChange>& changes) {
  std::vector<Field> fields = split_fields(block);
  for (const HeaderChange& c : changes) {
    if (c.op == HeaderChange::Op::add) {
      fields.push_back({c.name, field_text(c.name, c.value)});
      continue;
    }
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      if (!equals_nocase(it->name, c.name)) continue;
      if (c.op == HeaderChange::Op::remove) fields.erase(it);
      else it->text = field_text(it->name, c.value);
      break;
    }
  }
  std::string out;
  for (const Field& f : fields) out += f.text;
  return out;
}

Result<store::BlobInfo> write_copy(const std::string& block, const Spool& body,
                                   const store::BlobStore& blobs) {
  auto writer = blobs.create();
  if (!writer) return writer.error();
  const std::string head = block + "\r\n";
  if (auto s = writer->write(head.data(), head.size()); !s) return s.error();
  if (auto s = body.for_each_chunk(64 * 1024, [&](std::string_view chunk) {
        return writer->write(chunk.data(), chunk.size());
      });
      !s)
    return s.error();
  return writer->commit();
}

}  // namespace attachgate::milter
