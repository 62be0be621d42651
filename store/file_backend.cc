// store/file_backend.cc - see file_backend.h.
#include "store/file_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "store/blob_store.h"
#include "util/fault.h"
#include "util/fs_sync.h"

namespace attachgate::store {
namespace {

class FileSink : public ObjectSink {
 public:
  FileSink(UniqueFd fd, std::string tmp_path, std::string final_dir, std::string final_path,
           std::string blobs_dir)
      : fd_(std::move(fd)), tmp_path_(std::move(tmp_path)), final_dir_(std::move(final_dir)),
        final_path_(std::move(final_path)), blobs_dir_(std::move(blobs_dir)) {}
  ~FileSink() override {
    if (!done_) {
      fd_.reset();
      ::unlink(tmp_path_.c_str());
    }
  }

  Status write(const void* data, std::size_t size) override {
    return write_all(fd_.get(), data, size);
  }

  Status finish() override {
    if (auto s = fsync_fd(fd_.get(), tmp_path_); !s) return s.error();
    fd_.reset();
    bool new_dir = ::mkdir(final_dir_.c_str(), 0700) == 0;
    if (!new_dir && errno != EEXIST) return make_error(errno_text("mkdir " + final_dir_));
    if (new_dir) {
      if (auto s = fsync_dir(blobs_dir_); !s) return s.error();
    }
    if (::rename(tmp_path_.c_str(), final_path_.c_str()) != 0)
      return make_error(errno_text("rename " + tmp_path_));
    done_ = true;  // from here the file is in place; a failing dir fsync removes it again
    if (auto s = fsync_dir(final_dir_); !s) {
      ::unlink(final_path_.c_str());
      return s.error();
    }
    return {};
  }

 private:
  UniqueFd fd_;
  std::string tmp_path_, final_dir_, final_path_, blobs_dir_;
  bool done_ = false;
};

// Like read_full, at an offset and into several buffers (chunk and tag).
Result<std::size_t> pread_full(int fd, iovec* iov, int count, std::uint64_t offset) {
  std::size_t got = 0;
  while (count > 0) {
    ssize_t n = ::preadv(fd, iov, count, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(errno_text("read"));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
    for (auto left = static_cast<std::size_t>(n); count > 0;) {
      if (left < iov->iov_len) {
        iov->iov_base = static_cast<char*>(iov->iov_base) + left;
        iov->iov_len -= left;
        break;
      }
      left -= iov->iov_len;
      ++iov;
      --count;
    }
  }
  return got;
}

class FileSource : public ObjectSource {
 public:
  FileSource(UniqueFd fd, std::uint64_t size) : fd_(std::move(fd)), size_(size) {}
  std::uint64_t size() const override { return size_; }
  Result<std::size_t> read_at(std::uint64_t offset, iovec* iov, int count) override {
    return pread_full(fd_.get(), iov, count, offset);
  }

 private:
  UniqueFd fd_;
  std::uint64_t size_;
};

// A directory that cannot be read is an Error: to reconciliation an empty
// listing means "every blob is missing".
Result<std::vector<std::string>> dir_entries(const std::string& dir) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return make_error(errno_text("cannot list " + dir));
  while (dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  return names;
}

std::int64_t mtime_of(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_mtime) : 0;
}

}  // namespace

Result<std::shared_ptr<const FileBackend>> FileBackend::at(const std::string& dir) {
  if (auto s = make_dirs(dir + "/tmp", 0700); !s) return s.error();
  return std::shared_ptr<const FileBackend>(new FileBackend(dir));
}

std::string FileBackend::path_of(const std::string& id) const {
  if (!BlobStore::valid_id(id)) panic("blob id is not 32 hex characters");
  return dir_ + "/" + id.substr(0, 2) + "/" + id;
}

Result<std::unique_ptr<ObjectSink>> FileBackend::create(const std::string& id) const {
  const std::string tmp = dir_ + "/tmp/" + id + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return make_error(errno_text("cannot create " + tmp));
  return std::unique_ptr<ObjectSink>(
      new FileSink(std::move(fd), tmp, dir_ + "/" + id.substr(0, 2), path_of(id), dir_));
}

Result<std::unique_ptr<ObjectSource>> FileBackend::open(const std::string& id) const {
  const std::string path = path_of(id);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::unique_ptr<ObjectSource>();
    return make_error(errno_text("cannot open blob " + path));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return make_error(errno_text("stat " + path));
  if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
  return std::unique_ptr<ObjectSource>(
      new FileSource(std::move(fd), static_cast<std::uint64_t>(st.st_size)));
}

Status FileBackend::remove(const std::string& id) const {
  std::string path = path_of(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return make_error(errno_text("unlink " + path));
  return {};
}

Result<bool> FileBackend::exists(const std::string& id) const {
  struct stat st {};
  return ::stat(path_of(id).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<std::vector<StoredObject>> FileBackend::list() const {
  std::vector<StoredObject> out;
  auto subs = dir_entries(dir_);
  if (!subs) return subs.error();
  for (const auto& sub : *subs) {
    struct stat st {};
    if (sub.size() != 2 || ::lstat((dir_ + "/" + sub).c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      continue;
    auto names = dir_entries(dir_ + "/" + sub);
    if (!names) return names.error();
    for (const auto& name : *names)
      if (BlobStore::valid_id(name) && name.compare(0, 2, sub) == 0)
        out.push_back({name, mtime_of(dir_ + "/" + sub + "/" + name)});
  }
  return out;
}

Result<std::vector<UnfinishedObject>> FileBackend::list_unfinished() const {
  std::vector<UnfinishedObject> out;
  auto names = dir_entries(dir_ + "/tmp");
  if (!names) return names.error();
  for (const auto& name : *names) {
    std::string path = dir_ + "/tmp/" + name;
    out.push_back({path, mtime_of(path)});
  }
  return out;
}

Status FileBackend::remove_unfinished(const UnfinishedObject& object) const {
  if (object.name.rfind(dir_ + "/tmp/", 0) != 0) panic("not a temporary blob file");
  if (::unlink(object.name.c_str()) != 0 && errno != ENOENT)
    return make_error(errno_text("unlink " + object.name));
  return {};
}

}  // namespace attachgate::store
