#include "common/stream_slots.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/errors.h"

namespace govreport {
namespace {

// A slot frees up when any stream of the server ends: a few seconds is a
// fair first wait.
constexpr absl::Duration kRetryAfter = absl::Seconds(5);

absl::Status Full(const StreamNames& names, absl::string_view english, absl::string_view whose_zh) {
  return errors::WithRetry(
      errors::WithReason(absl::ResourceExhaustedError(english), names.reason,
                         absl::StrCat(whose_zh, "的", names.chinese, "数已达上限，请稍后重试")),
      kRetryAfter);
}

}  // namespace

StreamSlots::Slot::Slot(StreamSlots* owner, std::string org, std::string caller)
    : owner_(owner), org_(std::move(org)), caller_(std::move(caller)) {}

StreamSlots::Slot::Slot(Slot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      org_(std::move(other.org_)),
      caller_(std::move(other.caller_)) {}

StreamSlots::Slot::~Slot() {
  if (owner_ != nullptr) owner_->Release(org_, caller_);
}

StreamSlots::StreamSlots(StreamNames names, StreamLimits limits)
    : names_(std::move(names)), limits_(limits) {}

absl::StatusOr<StreamSlots::Slot> StreamSlots::Acquire(const std::string& org,
                                                       const std::string& caller) {
  if (stopping()) {
    return ShuttingDown("reconnect (to another replica)", "请重新连接（或连接其他副本）");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (open_ >= limits_.total) {
    return Full(names_,
                absl::StrCat("this server already serves ", open_, " ", names_.english,
                             " (its limit); retry later or on another replica"),
                "本服务器");
  }
  auto org_count = by_org_.find(org);
  if (org_count != by_org_.end() && org_count->second >= limits_.per_org) {
    return Full(names_,
                absl::StrCat("org ", org, " already has ", org_count->second, " ", names_.english,
                             " open on this server (the limit per org); end one first"),
                "本单位");
  }
  if (limits_.per_caller > 0) {
    auto mine = by_caller_.find(caller);
    if (mine != by_caller_.end() && mine->second >= limits_.per_caller) {
      return Full(names_,
                  absl::StrCat(caller, " already has ", mine->second, " ", names_.english,
                               " open (the limit per caller); end one first"),
                  "调用者");
    }
    ++by_caller_[caller];
  }
  ++by_org_[org];
  ++open_;
  return Slot(this, org, caller);
}

bool StreamSlots::WaitUntilIdle(absl::Duration limit) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_.wait_for(lock, absl::ToChronoMilliseconds(limit), [this] { return open_ == 0; });
}

void StreamSlots::Release(const std::string& org, const std::string& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  if (--open_ == 0) idle_.notify_all();
  if (auto it = by_org_.find(org); it != by_org_.end() && --it->second <= 0) by_org_.erase(it);
  if (limits_.per_caller > 0) {
    if (auto it = by_caller_.find(caller); it != by_caller_.end() && --it->second <= 0) {
      by_caller_.erase(it);
    }
  }
}

absl::Status ShuttingDown(absl::string_view what_next, absl::string_view what_next_zh) {
  return errors::WithRetry(
      errors::WithReason(absl::UnavailableError(absl::StrCat("server shutting down: ", what_next)),
                         "SHUTTING_DOWN", absl::StrCat("服务正在停止：", what_next_zh)),
      absl::Seconds(1));
}

}  // namespace govreport
