#include <catch2/catch.hpp>

#include <filesystem>

#include "storage/fault_injecting_file_system.h"
#include "tests/unit/storage/storage_test_support.h"

using namespace tandem::storage;
using namespace tandem::storage::test;

TEST_CASE("drop_unsynced truncates to the last sync and forgets undurable creations", "[fs]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto durable = dir.file("durable");
  auto fresh = dir.file("fresh");
  {
    auto f = fs.open(durable, open_mode::create_exclusive);
    REQUIRE(f.ok());
    REQUIRE_FALSE((*f)->append("hello", 5));
    REQUIRE_FALSE((*f)->sync());
    REQUIRE_FALSE(fs.sync_dir(dir.path()));
    REQUIRE_FALSE((*f)->append(" world", 6));  // never synced
  }
  {
    auto f = fs.open(fresh, open_mode::create_exclusive);
    REQUIRE_FALSE((*f)->append("x", 1));
    REQUIRE_FALSE((*f)->sync());  // data synced, directory entry not
  }
  fs.drop_unsynced();
  REQUIRE(file_size(durable) == 5);
  REQUIRE_FALSE(std::filesystem::exists(fresh));
}

TEST_CASE("exclusive create lets exactly one contender win", "[fs]") {
  scratch_dir dir;
  posix_file_system fs;
  auto first = fs.open(dir.file("epoch-2"), open_mode::create_exclusive);
  auto second = fs.open(dir.file("epoch-2"), open_mode::create_exclusive);
  REQUIRE(first.ok());
  REQUIRE_FALSE(second.ok());
  REQUIRE(second.code() == std::errc::file_exists);
  REQUIRE(second.err().message.find("epoch-2") != std::string::npos);
}

TEST_CASE("fail_next fails exactly n calls and set_down fails all", "[fs]") {
  scratch_dir dir;
  posix_file_system disk;
  fault_injecting_file_system fs(disk);
  auto f = fs.open(dir.file("f"), open_mode::create);
  REQUIRE(f.ok());
  fs.fail_next(fault_op::write, 2);
  REQUIRE((*f)->append("a", 1));
  REQUIRE((*f)->append("a", 1));
  REQUIRE_FALSE((*f)->append("a", 1));
  fs.set_down(true);
  REQUIRE((*f)->sync());
  REQUIRE_FALSE(fs.list(dir.path()).ok());
  fs.set_down(false);
  REQUIRE(fs.list(dir.path()).ok());
}

TEST_CASE("posix file system lists, renames, stats and removes", "[fs]") {
  scratch_dir dir;
  posix_file_system fs(dir.path());  // rooted: paths are relative to the scratch directory
  REQUIRE_FALSE(fs.mkdirs("a/b"));
  auto f = fs.open("a/b/x.tmp", open_mode::create);
  REQUIRE(f.ok());
  REQUIRE_FALSE((*f)->write_at(10, "z", 1));
  REQUIRE(*(*f)->size() == 11);
  char c = 0;
  REQUIRE(*(*f)->read_at(10, &c, 1) == 1);
  REQUIRE(c == 'z');
  REQUIRE(*(*f)->read_at(11, &c, 1) == 0);
  REQUIRE_FALSE(fs.rename("a/b/x.tmp", "a/b/x"));
  REQUIRE_FALSE(fs.sync_dir("a/b"));
  auto names = fs.list("a/b");
  REQUIRE(names.ok());
  REQUIRE(*names == std::vector<std::string>{"x"});
  REQUIRE(fs.stat("a/b/x")->size == 11);
  REQUIRE(fs.stat("a")->is_directory);
  REQUIRE_FALSE(fs.remove("a/b/x"));
  REQUIRE(fs.stat("a/b/x").code() == std::errc::no_such_file_or_directory);
}
