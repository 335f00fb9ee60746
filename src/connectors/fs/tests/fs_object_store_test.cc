#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "connectors/fs/endpoint.h"
#include "connectors/fs/object_store.h"

namespace megasync::connectors::fs {
namespace {

namespace stdfs = std::filesystem;

class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data, bool fail_at_end = false)
      : data_(std::move(data)), fail_at_end_(fail_at_end) {}
  Result<std::size_t> read(char* buffer, std::size_t capacity) override {
    const std::size_t n = std::min(capacity, data_.size() - offset_);
    if (n == 0 && fail_at_end_) {
      return make_error(ErrorCode::kRetryable, "connection lost");
    }
    std::copy_n(data_.data() + offset_, n, buffer);
    offset_ += n;
    return n;
  }

 private:
  std::string data_;
  std::size_t offset_ = 0;
  bool fail_at_end_;
};

class StringSink : public ByteSink {
 public:
  Status write(std::string_view chunk) override {
    data += chunk;
    ++chunks;
    return ok();
  }
  std::string data;
  int chunks = 0;
};

class FsObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/megasync-fsobj-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  Result<ObjectInfo> put(FsObjectStore& store, const std::string& path, const std::string& data,
                         ObjectMeta meta = {}) {
    StringSource source(data);
    return store.write(path, source, meta);
  }
  std::string contents(const std::string& path) {
    std::ifstream in(dir_ + "/" + path, std::ios::binary);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }
  std::vector<std::string> listed(FsObjectStore& store) {
    std::vector<std::string> paths;
    EXPECT_TRUE(store.list("", [&](const ObjectInfo& info) {
      paths.push_back(info.path);
      return ok();
    }));
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  std::string dir_;
};

TEST_F(FsObjectStoreTest, WriteIsAtomicAndReportsSha256) {
  FsObjectStore store(dir_, false);
  Result<ObjectInfo> info = put(store, "a/b/hello.txt", "hello world");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->size, 11u);
  EXPECT_EQ(info->sha256, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  EXPECT_EQ(contents("a/b/hello.txt"), "hello world");
  // Only the file itself, no temp file beside it.
  EXPECT_EQ(std::distance(stdfs::directory_iterator(dir_ + "/a/b"), stdfs::directory_iterator()),
            1);
}

TEST_F(FsObjectStoreTest, FailedWriteLeavesTheOldFileAndNoTemp) {
  FsObjectStore store(dir_, false);
  ASSERT_TRUE(put(store, "f", "old"));
  StringSource broken("new content", /*fail_at_end=*/true);
  Result<ObjectInfo> info = store.write("f", broken, {});
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::kRetryable);
  EXPECT_EQ(contents("f"), "old");
  EXPECT_EQ(listed(store), std::vector<std::string>{"f"});
  EXPECT_EQ(std::distance(stdfs::directory_iterator(dir_), stdfs::directory_iterator()), 1);

  ObjectMeta wrong;
  wrong.sha256 = std::string(64, '0');
  EXPECT_FALSE(put(store, "f", "new", wrong));
  EXPECT_EQ(contents("f"), "old");
}

TEST_F(FsObjectStoreTest, PreservesMtime) {
  FsObjectStore store(dir_, false);
  ObjectMeta meta;
  meta.mtime = WallTime(std::chrono::milliseconds(1'600'000'000'123));
  Result<ObjectInfo> info = put(store, "dated", "x", meta);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->mtime, meta.mtime);
  Result<std::optional<ObjectInfo>> stat = store.stat("dated");
  ASSERT_TRUE(stat && *stat);
  EXPECT_EQ((*stat)->mtime, meta.mtime);
  EXPECT_EQ((*stat)->size, 1u);
}

TEST_F(FsObjectStoreTest, ListsRelativePathsSkippingInternalFiles) {
  FsObjectStore store(dir_, false);
  ASSERT_TRUE(put(store, "top", "1"));
  ASSERT_TRUE(put(store, "d/e/deep", "2"));
  std::ofstream(dir_ + "/.megasync-tmp-abc") << "partial";
  stdfs::create_directories(dir_ + "/.megasync-versions/top");
  std::ofstream(dir_ + "/.megasync-versions/top/v1") << "old";
  stdfs::create_directory(dir_ + "/empty");
  stdfs::create_symlink(dir_ + "/top", dir_ + "/link");
  EXPECT_EQ(listed(store), (std::vector<std::string>{"d/e/deep", "top"}));

  std::vector<std::string> under_d;
  ASSERT_TRUE(store.list("d/", [&](const ObjectInfo& info) {
    under_d.push_back(info.path);
    return ok();
  }));
  EXPECT_EQ(under_d, std::vector<std::string>{"d/e/deep"});
}

TEST_F(FsObjectStoreTest, ListingRemovesTempFilesLeftByAKilledWriter) {
  FsObjectStore store(dir_, false);
  const std::string abandoned = dir_ + "/d/.megasync-tmp-dead01";
  const std::string in_use = dir_ + "/d/.megasync-tmp-live01";
  stdfs::create_directories(dir_ + "/d");
  std::ofstream(abandoned) << "partial";
  std::ofstream(in_use) << "being written";
  // Old enough to be past a writer's creation window.
  const auto old = stdfs::file_time_type::clock::now() - std::chrono::minutes(5);
  stdfs::last_write_time(abandoned, old);
  stdfs::last_write_time(in_use, old);
  // A live writer holds its temp file locked.
  const int fd = ::open(in_use.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);

  EXPECT_TRUE(listed(store).empty());
  EXPECT_FALSE(stdfs::exists(abandoned));
  EXPECT_TRUE(stdfs::exists(in_use));
  ::close(fd);

  FsObjectStore read_only(dir_, true);  // never removes anything
  std::ofstream(abandoned) << "partial";
  stdfs::last_write_time(abandoned, old);
  EXPECT_TRUE(listed(read_only).empty());
  EXPECT_TRUE(stdfs::exists(abandoned));
}

TEST_F(FsObjectStoreTest, ReadsInChunksAndReportsVanishedFiles) {
  FsObjectStore store(dir_, false);
  const std::string big(3 * (1 << 20) + 5, 'z');
  ASSERT_TRUE(put(store, "big", big));
  StringSink sink;
  ASSERT_TRUE(store.read("big", sink));
  EXPECT_EQ(sink.data, big);
  EXPECT_EQ(sink.chunks, 4);

  Status missing = store.read("nope", sink);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  Result<std::optional<ObjectInfo>> stat = store.stat("nope");
  ASSERT_TRUE(stat);
  EXPECT_FALSE(stat->has_value());
}

TEST_F(FsObjectStoreTest, RejectsPathsOutsideTheRoot) {
  FsObjectStore store(dir_ + "/root", false);
  stdfs::create_directory(dir_ + "/root");
  for (const char* bad : {"../escape", "/etc/passwd", "a/../../escape", "a//b", "./a", "",
                          ".megasync-versions/x", "a/.megasync-tmp-1"}) {
    Result<ObjectInfo> info = put(store, bad, "x");
    ASSERT_FALSE(info) << bad;
    EXPECT_EQ(info.error().code(), ErrorCode::kPermanent) << bad;
    EXPECT_FALSE(store.remove(bad)) << bad;
  }
  EXPECT_FALSE(stdfs::exists(dir_ + "/escape"));

  // Nor through a symbolic link inside the root.
  stdfs::create_directory(dir_ + "/outside");
  stdfs::create_directory_symlink(dir_ + "/outside", dir_ + "/root/link");
  EXPECT_FALSE(put(store, "link/file", "x"));
  EXPECT_TRUE(stdfs::is_empty(dir_ + "/outside"));
}

TEST_F(FsObjectStoreTest, ReadOnlyStoreRefusesChanges) {
  FsObjectStore store(dir_, true);
  EXPECT_FALSE(put(store, "f", "x"));
  EXPECT_FALSE(store.remove("f"));
}

TEST_F(FsObjectStoreTest, RemoveCleansEmptyParentsButNotTheRoot) {
  FsObjectStore store(dir_, false);
  ASSERT_TRUE(put(store, "a/b/c/file", "1"));
  ASSERT_TRUE(put(store, "a/sibling", "2"));
  ASSERT_TRUE(store.remove("a/b/c/file"));
  EXPECT_FALSE(stdfs::exists(dir_ + "/a/b"));
  EXPECT_TRUE(stdfs::exists(dir_ + "/a/sibling"));
  ASSERT_TRUE(store.remove("a/sibling"));
  EXPECT_FALSE(stdfs::exists(dir_ + "/a"));
  EXPECT_TRUE(stdfs::exists(dir_));
  EXPECT_TRUE(store.remove("a/sibling"));  // already gone: ok
}

TEST_F(FsObjectStoreTest, KeepsVersionsNewestFirstAndPrunes) {
  FsObjectStore store(dir_, false);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store.keep_version("doc/f.txt", 3));  // first: nothing yet, ok
    ASSERT_TRUE(put(store, "doc/f.txt", "v" + std::to_string(i)));
  }
  Result<std::vector<ObjectInfo>> versions = store.versions("doc/f.txt");
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 3u);  // v0..v3 were kept, pruned to the newest 3
  std::vector<std::string> kept;
  for (const ObjectInfo& v : *versions) {
    std::ifstream in(dir_ + "/.megasync-versions/doc/f.txt/" + v.version);
    std::string text;
    in >> text;
    kept.push_back(text);
  }
  EXPECT_EQ(kept, (std::vector<std::string>{"v3", "v2", "v1"}));
  EXPECT_EQ(contents("doc/f.txt"), "v4");
  // Versions are not objects.
  EXPECT_EQ(listed(store), std::vector<std::string>{"doc/f.txt"});

  Result<std::vector<ObjectInfo>> none = store.versions("other");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(FsObjectStoreTest, MissingRootFailsToListUnlessCreateIsSet) {
  FsObjectStore missing(dir_ + "/nope", false);
  Status status = missing.list("", [](const ObjectInfo&) { return ok(); });
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);

  FsObjectStore created(dir_ + "/nope", false, /*create=*/true);
  EXPECT_TRUE(created.list("", [](const ObjectInfo&) { return ok(); }));
  EXPECT_FALSE(stdfs::exists(dir_ + "/nope"));  // listing changes nothing
}

TEST_F(FsObjectStoreTest, FlushSyncsTheFilesystemOnceForEitherDurability) {
  for (Durability durability : {Durability::kRun, Durability::kObject}) {
    const std::string root = durability == Durability::kRun ? "run" : "object";
    FsObjectStore store(dir_ + "/" + root, false, /*create=*/true, durability);
    ASSERT_TRUE(put(store, "a/b/c.txt", "whole file"));
    ASSERT_TRUE(put(store, "a/b/c.txt", "replaced"));
    EXPECT_EQ(contents(root + "/a/b/c.txt"), "replaced");
    Status flushed = store.flush();
    EXPECT_TRUE(flushed) << flushed.error().message();
  }
  // A `create` root nothing was written to yet has nothing to flush.
  FsObjectStore unwritten(dir_ + "/never", false, /*create=*/true);
  EXPECT_TRUE(unwritten.flush());
  EXPECT_FALSE(stdfs::exists(dir_ + "/never"));
  // A root that is not a directory fails, naming it.
  std::ofstream(dir_ + "/plain") << "x";
  FsObjectStore not_a_dir(dir_ + "/plain", false);
  Status status = not_a_dir.flush();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kRetryable);
  EXPECT_NE(status.error().message().find(dir_ + "/plain"), std::string::npos);
}

TEST_F(FsObjectStoreTest, EndpointSharesOneStoreOverItsRoot) {
  FsEndpoint endpoint({.root = dir_});
  Result<std::shared_ptr<ObjectStore>> store = endpoint.object_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->get(), endpoint.object_store()->get());
  StringSource source("via endpoint");
  ASSERT_TRUE((*store)->write("e/f", source, {}));
  EXPECT_EQ(contents("e/f"), "via endpoint");
}

}  // namespace
}  // namespace megasync::connectors::fs
