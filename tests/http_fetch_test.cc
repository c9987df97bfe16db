#include "pipeline/fetch/http_fetch.h"

#include <gtest/gtest.h>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/interrupt.h"
#include "tests/fake_http_server.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using testing::Payload;
using testing::ServeBytes;

struct Fixture {
  testing::TempDir dir;
  std::vector<std::string> notes;
  FetchOptions options;
  FetchStats stats;
  Fixture() {
    options.backoff_seconds = {0.01};
    options.low_speed_seconds = 5;
    options.note = [this](const std::string& n) { notes.push_back(n); };
  }
  std::string part() const { return dir / "images.tar.gz.part"; }
  Status Fetch(const std::string& url) {
    ProgressOptions quiet;
    quiet.quiet = true;
    Progress p("test", 0, Progress::Unit::kBytes, "", quiet);
    return FetchUrl(url, part(), options, &p, &stats);
  }
  std::string AllNotes() const {
    std::string all;
    for (const auto& n : notes) all += n + "\n";
    return all;
  }
};

TEST(HttpFetchTest, ClosedHalfwayThenResumedWithRange) {
  const std::string data = Payload(300000);
  FakeHttpServer server([&](const FakeRequest& req, int i) {
    FakeResponse r = ServeBytes(data, req);
    if (i == 0) r.close_after = 150000;
    return r;
  });
  Fixture f;
  ASSERT_TRUE(f.Fetch(server.url("/images.tar.gz")).ok()) << f.AllNotes();
  EXPECT_EQ(*ReadFile(f.part()), data);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].range_start, -1);
  EXPECT_EQ(reqs[1].range_start, 150000);
  EXPECT_EQ(f.stats.attempts, 2);
  EXPECT_NE(f.AllNotes().find("shorter than announced"), std::string::npos) << f.AllNotes();
}

TEST(HttpFetchTest, ServerErrorTwiceThenOk) {
  const std::string data = Payload(5000);
  FakeHttpServer server([&](const FakeRequest& req, int i) {
    if (i < 2) {
      FakeResponse r;
      r.status = 500;
      r.body = "try later";
      return r;
    }
    return ServeBytes(data, req);
  });
  Fixture f;
  ASSERT_TRUE(f.Fetch(server.url("/x")).ok());
  EXPECT_EQ(*ReadFile(f.part()), data) << "error pages never reach the file";
  EXPECT_EQ(f.stats.attempts, 3);
  EXPECT_NE(f.AllNotes().find("HTTP 500"), std::string::npos) << f.AllNotes();
}

TEST(HttpFetchTest, ServerIgnoringRangeRestartsCleanly) {
  const std::string data = Payload(40000);
  FakeHttpServer server([&](const FakeRequest& req, int) { return ServeBytes(data, req, false); });
  Fixture f;
  ASSERT_TRUE(WriteFileAtomic(f.part(), "garbage that must not stay in front").ok());
  ASSERT_TRUE(f.Fetch(server.url("/x")).ok());
  EXPECT_EQ(*ReadFile(f.part()), data) << "nothing appended to the old part";
  EXPECT_TRUE(f.stats.restarted);
  EXPECT_GT(server.requests()[0].range_start, 0);
  EXPECT_NE(f.AllNotes().find("ignored the Range request"), std::string::npos);
}

TEST(HttpFetchTest, AnnouncedLengthLongerThanBody) {
  const std::string data = Payload(20000);
  FakeHttpServer server([&](const FakeRequest& req, int i) {
    FakeResponse r = ServeBytes(data, req);
    if (i == 0) r.content_length = static_cast<int64_t>(data.size()) + 100;
    return r;
  });
  Fixture f;
  ASSERT_TRUE(f.Fetch(server.url("/x")).ok()) << f.AllNotes();
  EXPECT_EQ(*ReadFile(f.part()), data);
  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.requests()[1].range_start, 20000) << "resumed past what arrived";
  EXPECT_NE(f.AllNotes().find("shorter than announced"), std::string::npos);
}

TEST(HttpFetchTest, NotFoundIsNotRetried) {
  FakeHttpServer server([](const FakeRequest&, int) {
    FakeResponse r;
    r.status = 404;
    r.body = "no";
    return r;
  });
  Fixture f;
  Status s = f.Fetch(server.url("/missing.tar.gz"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(server.url("/missing.tar.gz")), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("HTTP 404"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpFetchTest, FollowsRedirects) {
  const std::string data = Payload(1000);
  FakeHttpServer server([&](const FakeRequest& req, int) {
    if (req.path == "/old") {
      FakeResponse r;
      r.status = 302;
      r.headers.push_back({"Location", "/new"});
      return r;
    }
    return ServeBytes(data, req);
  });
  Fixture f;
  ASSERT_TRUE(f.Fetch(server.url("/old")).ok());
  EXPECT_EQ(*ReadFile(f.part()), data);
  EXPECT_EQ(server.requests().back().path, "/new");
}

TEST(HttpFetchTest, TooSlowTransfersAreAbandoned) {
  const std::string data = Payload(100000);
  FakeHttpServer server([&](const FakeRequest& req, int) {
    FakeResponse r = ServeBytes(data, req);
    r.chunk = 100;
    r.chunk_delay_ms = 100;
    return r;
  });
  Fixture f;
  f.options.low_speed_bytes = 5000;
  f.options.low_speed_seconds = 1;
  f.options.max_attempts = 2;
  Status s = f.Fetch(server.url("/x"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kNetworkError);
  EXPECT_NE(s.message().find("gave up after 2 attempts"), std::string::npos) << s.message();
  EXPECT_EQ(f.stats.attempts, 2);
  server.Stop();
}

TEST(HttpFetchTest, BodyLongerThanAnyVersionIsCorruption) {
  const std::string data = Payload(50000);
  FakeHttpServer server([&](const FakeRequest& req, int) { return ServeBytes(data, req); });
  Fixture f;
  f.options.max_bytes = 40000;
  Status s = f.Fetch(server.url("/x"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
}

TEST(HttpFetchTest, InterruptStopsQuicklyAndKeepsThePart) {
  const std::string data = Payload(400000);
  FakeHttpServer server([&](const FakeRequest& req, int) {
    FakeResponse r = ServeBytes(data, req);
    r.chunk = 4096;
    r.chunk_delay_ms = 20;
    return r;
  });
  Fixture f;
  std::thread stopper([&] {
    while (server.body_bytes_sent() < 20000)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    RequestInterrupt();
  });
  auto start = std::chrono::steady_clock::now();
  Status s = f.Fetch(server.url("/x"));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stopper.join();
  ClearInterrupt();
  ASSERT_TRUE(s.IsInterrupted()) << s.ToString();
  EXPECT_LT(took, 5.0);
  auto part = ReadFile(f.part());
  ASSERT_TRUE(part.ok());
  EXPECT_GT(part->size(), 0u);
  EXPECT_LT(part->size(), data.size());
  EXPECT_EQ(*part, data.substr(0, part->size())) << "what was kept is a true prefix";
}

}  // namespace
}  // namespace petprep
