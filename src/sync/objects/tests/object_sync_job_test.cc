// The engine end to end over real directories: FsObjectStore on both sides.
#include "sync/objects/object_sync_job.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "connectors/fs/object_store.h"
#include "state/memory_store.h"

namespace megasync::sync::objects {
namespace {

namespace stdfs = std::filesystem;
using connectors::fs::FsObjectStore;

// A source whose object `path` is deleted just before it is read, as when a
// user removes a file while the sync runs.
class VanishingStore : public FsObjectStore {
 public:
  VanishingStore(std::string root, std::string path)
      : FsObjectStore(std::move(root), false), path_(std::move(path)) {}
  Status read(std::string_view path, ByteSink& out) override {
    if (path == path_) {
      stdfs::remove(root() + "/" + path_);
    }
    return FsObjectStore::read(path, out);
  }

 private:
  std::string path_;
};

// A target that lists like S3: list_quick() gives partial entries (no mtime)
// with an ETag that changes whenever the file is rewritten; stat() gives the
// whole entry, and counts the calls.
class QuickListingStore : public FsObjectStore {
 public:
  explicit QuickListingStore(std::string root) : FsObjectStore(std::move(root), false) {}
  Status list_quick(std::string_view prefix,
                    const std::function<Status(const ObjectInfo&)>& each) override {
    return FsObjectStore::list(prefix, [&](const ObjectInfo& info) {
      ObjectInfo quick = info;
      quick.etag = etag_of(info.path);
      quick.mtime = WallTime{};
      quick.partial = true;
      return each(quick);
    });
  }
  Result<std::optional<ObjectInfo>> stat(std::string_view path) override {
    ++stats;
    auto info = FsObjectStore::stat(path);
    if (info && *info) {
      (*info)->etag = etag_of((*info)->path);
    }
    return info;
  }
  Result<ObjectInfo> write(std::string_view path, ByteSource& in, const ObjectMeta& meta) override {
    auto info = FsObjectStore::write(path, in, meta);
    if (info) {
      info->etag = etag_of(info->path);
    }
    return info;
  }
  std::atomic<int> stats{0};

 private:
  // The inode changes with each rewrite (files are replaced by rename).
  std::string etag_of(const std::string& path) const {
    struct stat st {};
    if (::stat((root() + "/" + path).c_str(), &st) != 0) {
      return "";
    }
    return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size);
  }
};

class ObjectSyncJobTest : public ::testing::Test {
 protected:
  // Each synced file costs two fsyncs; one test syncs a few hundred, the others
  // fewer to keep the suite quick.
  static constexpr int kFiles = 60;

  void SetUp() override {
    char pattern[] = "/tmp/megasync-objsync-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    source_dir_ = dir_ + "/source";
    target_dir_ = dir_ + "/target";
    stdfs::create_directories(source_dir_);
    stdfs::create_directories(target_dir_);
    add_files(0, kFiles);
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  // Files begin..end-1, of varied sizes (file0 is empty) in nested directories.
  void add_files(int begin, int end) {
    for (int i = begin; i < end; ++i) {
      write_file(
          fmt::format("dir{}/sub{}/file{}.txt", i % 7, i % 3, i),
          std::string(static_cast<std::size_t>(i * 13 % 500), static_cast<char>('a' + i % 26)));
    }
  }

  void write_file(const std::string& path, const std::string& data) {
    stdfs::create_directories(stdfs::path(source_dir_ + "/" + path).parent_path());
    std::ofstream(source_dir_ + "/" + path, std::ios::binary) << data;
  }

  std::unique_ptr<ObjectSyncJob> make_job(ObjectSyncOptions options,
                                          std::shared_ptr<ObjectStore> source = nullptr) {
    options.source_name = "src";
    options.target_name = "mirror";
    if (!source) {
      source = std::make_shared<FsObjectStore>(source_dir_, true);
    }
    return std::make_unique<ObjectSyncJob>(std::move(options), std::move(source),
                                           std::make_shared<FsObjectStore>(target_dir_, false));
  }

  Status run(ObjectSyncJob& job, bool dry_run = false) {
    progress_ = std::make_unique<engine::RunProgress>();
    engine::RunContext ctx;
    ctx.job = "files";
    ctx.progress = progress_.get();
    ctx.dry_run = dry_run;
    return job.run(ctx);
  }

  // path -> contents of every regular file under `root`, versions folder aside.
  static std::map<std::string, std::string> tree(const std::string& root) {
    std::map<std::string, std::string> files;
    for (auto it = stdfs::recursive_directory_iterator(root);
         it != stdfs::recursive_directory_iterator(); ++it) {
      if (it->path().filename() == ".megasync-versions") {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) {
        std::ifstream in(it->path(), std::ios::binary);
        std::stringstream data;
        data << in.rdbuf();
        files[it->path().lexically_relative(root).generic_string()] = data.str();
      }
    }
    return files;
  }

  std::string dir_, source_dir_, target_dir_;
  std::unique_ptr<engine::RunProgress> progress_;
};

TEST_F(ObjectSyncJobTest, MirrorsATreeThenOnlyTheChanges) {
  add_files(kFiles, 300);
  ObjectSyncOptions options;
  options.plan.delete_extra = true;
  auto job = make_job(options);
  ASSERT_TRUE(run(*job));
  EXPECT_EQ(tree(target_dir_), tree(source_dir_));
  EXPECT_EQ(progress_->snapshot().records, 300);
  EXPECT_EQ(progress_->snapshot().per_target.at("mirror").first, 300);
  // mtimes are preserved, so a second cycle has nothing to do.
  EXPECT_EQ(stdfs::last_write_time(target_dir_ + "/dir0/sub0/file0.txt"),
            stdfs::last_write_time(source_dir_ + "/dir0/sub0/file0.txt"));
  ASSERT_TRUE(run(*job));
  EXPECT_EQ(progress_->snapshot().records, 0);

  write_file("dir1/sub1/file1.txt", "changed and longer");
  write_file("new/dir/added.bin", std::string(3 << 20, 'x'));  // several pipe chunks
  stdfs::remove(source_dir_ + "/dir2/sub2/file2.txt");
  ASSERT_TRUE(run(*job));
  EXPECT_EQ(tree(target_dir_), tree(source_dir_));
  EXPECT_EQ(progress_->snapshot().records, 3);
  EXPECT_EQ(job->describe()["last_plan"]["deletions"], 1);
}

TEST_F(ObjectSyncJobTest, QuickListingsAreCompletedFromTheObjectIndex) {
  auto state = state::open_memory_store();
  auto run_with_index = [&](ObjectSyncJob& job) {
    progress_ = std::make_unique<engine::RunProgress>();
    engine::RunContext ctx;
    ctx.job = "files";
    ctx.progress = progress_.get();
    ctx.store = state.get();
    return job.run(ctx);
  };
  auto job_over = [&](std::shared_ptr<QuickListingStore> target) {
    ObjectSyncOptions options;
    options.source_name = "src";
    options.target_name = "mirror";
    options.plan.delete_extra = true;
    return std::make_unique<ObjectSyncJob>(
        options, std::make_shared<FsObjectStore>(source_dir_, true), std::move(target));
  };

  auto first = std::make_shared<QuickListingStore>(target_dir_);
  ASSERT_TRUE(run_with_index(*job_over(first)));
  EXPECT_EQ(tree(target_dir_), tree(source_dir_));
  EXPECT_EQ(state->load_object_index("files", "mirror")->size(), static_cast<std::size_t>(kFiles));

  // A new process: nothing to copy, and no object needed a stat.
  auto second = std::make_shared<QuickListingStore>(target_dir_);
  ASSERT_TRUE(run_with_index(*job_over(second)));
  EXPECT_EQ(progress_->snapshot().records, 0);
  EXPECT_EQ(second->stats.load(), 0);

  // Another tool rewrites one target object (new ETag) and deletes another:
  // the first is stat'ed and replaced, the second copied again and the index
  // follows.
  const std::string edited = target_dir_ + "/dir1/sub1/file1.txt";
  stdfs::remove(edited);
  std::ofstream(edited, std::ios::binary) << "written by another tool";
  stdfs::remove(target_dir_ + "/dir2/sub2/file2.txt");
  auto third = std::make_shared<QuickListingStore>(target_dir_);
  ASSERT_TRUE(run_with_index(*job_over(third)));
  EXPECT_EQ(third->stats.load(), 1);
  EXPECT_EQ(progress_->snapshot().records, 2);
  EXPECT_EQ(tree(target_dir_), tree(source_dir_));

  auto fourth = std::make_shared<QuickListingStore>(target_dir_);
  ASSERT_TRUE(run_with_index(*job_over(fourth)));
  EXPECT_EQ(progress_->snapshot().records, 0);
  EXPECT_EQ(fourth->stats.load(), 0);
}

TEST_F(ObjectSyncJobTest, DryRunChangesNothing) {
  ObjectSyncOptions options;
  auto job = make_job(options);
  ASSERT_TRUE(run(*job, /*dry_run=*/true));
  EXPECT_TRUE(stdfs::is_empty(target_dir_));
  EXPECT_NE(progress_->snapshot().phase.find("dry run: 60 to copy"), std::string::npos);
  EXPECT_EQ(job->describe()["last_plan"]["copies"], kFiles);
  EXPECT_EQ(job->describe()["last_plan"]["dry_run"], true);
}

TEST_F(ObjectSyncJobTest, VanishedSourceFileIsSkippedNotFailed) {
  ObjectSyncOptions options;
  auto job =
      make_job(options, std::make_shared<VanishingStore>(source_dir_, "dir3/sub0/file3.txt"));
  ASSERT_TRUE(run(*job));
  EXPECT_EQ(progress_->snapshot().records, kFiles - 1);
  EXPECT_FALSE(stdfs::exists(target_dir_ + "/dir3/sub0/file3.txt"));
  EXPECT_EQ(job->describe()["vanished"], 1);
}

TEST_F(ObjectSyncJobTest, RefusesMassDeletionUnlessForced) {
  ObjectSyncOptions options;
  options.plan.delete_extra = true;
  auto job = make_job(options);
  ASSERT_TRUE(run(*job));
  for (int i = 0; i < 40; ++i) {
    stdfs::remove(source_dir_ + fmt::format("/dir{}/sub{}/file{}.txt", i % 7, i % 3, i));
  }
  Status refused = run(*job);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(refused.error().message().find("40 of the target's 60 objects"), std::string::npos);
  EXPECT_EQ(tree(target_dir_).size(), 60u);

  options.plan.force = true;
  ASSERT_TRUE(run(*make_job(options)));
  EXPECT_EQ(tree(target_dir_), tree(source_dir_));
}

TEST_F(ObjectSyncJobTest, KeepsVersionsOfReplacedAndDeletedFiles) {
  ObjectSyncOptions options;
  options.plan.delete_extra = true;
  options.keep_versions = 2;
  auto job = make_job(options);
  ASSERT_TRUE(run(*job));
  write_file("dir0/sub0/file0.txt", "second");
  ASSERT_TRUE(run(*job));
  stdfs::remove(source_dir_ + "/dir0/sub0/file0.txt");
  ASSERT_TRUE(run(*job));
  FsObjectStore target(target_dir_, false);
  Result<std::vector<ObjectInfo>> versions = target.versions("dir0/sub0/file0.txt");
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].size, 6u);  // "second", kept when deleted
  EXPECT_EQ((*versions)[1].size, 0u);  // the original (file0 is empty)
}

TEST_F(ObjectSyncJobTest, ChecksumModeSeesSameSizeSameMtimeEdits) {
  ObjectSyncOptions options;
  auto job = make_job(options);
  ASSERT_TRUE(run(*job));
  const std::string path = source_dir_ + "/dir5/sub2/file5.txt";
  const auto mtime = stdfs::last_write_time(path);
  const std::string original = tree(source_dir_).at("dir5/sub2/file5.txt");
  std::string edited = original;
  edited[0] = 'Z';
  std::ofstream(path, std::ios::binary) << edited;
  stdfs::last_write_time(path, mtime);

  ASSERT_TRUE(run(*job));  // the quick check cannot see it
  EXPECT_EQ(tree(target_dir_).at("dir5/sub2/file5.txt"), original);

  options.plan.checksum = true;
  ASSERT_TRUE(run(*make_job(options)));
  EXPECT_EQ(tree(target_dir_).at("dir5/sub2/file5.txt"), edited);
  EXPECT_EQ(progress_->snapshot().records, 1);
}

TEST_F(ObjectSyncJobTest, VerifyReportsAndRepairsDifferences) {
  ObjectSyncOptions options;
  auto job = make_job(options);
  ASSERT_TRUE(run(*job));
  stdfs::remove(target_dir_ + "/dir0/sub0/file0.txt");
  std::ofstream(target_dir_ + "/dir1/sub1/file1.txt") << "tampered";
  std::ofstream(target_dir_ + "/stray.txt") << "extra";

  engine::RunProgress progress;
  engine::RunContext ctx;
  ctx.job = "files";
  ctx.progress = &progress;
  Result<nlohmann::json> doc = job->verify(ctx, false);
  ASSERT_TRUE(doc);
  EXPECT_EQ((*doc)["equal"], false);
  const nlohmann::json& mirror = (*doc)["targets"]["mirror"];
  EXPECT_EQ(mirror["missing"], nlohmann::json::array({"dir0/sub0/file0.txt"}));
  EXPECT_EQ(mirror["differ"], nlohmann::json::array({"dir1/sub1/file1.txt"}));
  EXPECT_EQ(mirror["extra"], nlohmann::json::array({"stray.txt"}));

  Result<nlohmann::json> repaired = job->verify(ctx, true);
  ASSERT_TRUE(repaired);
  EXPECT_EQ((*repaired)["repaired"]["copies"], 1);
  EXPECT_EQ((*repaired)["repaired"]["replacements"], 1);
  Result<nlohmann::json> after = job->verify(ctx, false);
  ASSERT_TRUE(after);
  // The extra file stays (delete is off) and does not make it unequal.
  EXPECT_EQ((*after)["equal"], true);
  EXPECT_EQ((*after)["targets"]["mirror"]["extra"], nlohmann::json::array({"stray.txt"}));
}

TEST_F(ObjectSyncJobTest, CancelledRunStops) {
  ObjectSyncOptions options;
  auto job = make_job(options);
  CancelSource cancel;
  cancel.cancel();
  engine::RunProgress progress;
  engine::RunContext ctx;
  ctx.job = "files";
  ctx.progress = &progress;
  ctx.cancel = cancel.token();
  Status status = job->run(ctx);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), ErrorCode::kCancelled);
}

}  // namespace
}  // namespace megasync::sync::objects
