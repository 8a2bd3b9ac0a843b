// Instants at the API edge. The protos carry google.protobuf.Timestamp; the
// services count whole Unix seconds inside (domain structs, Lua, stream
// fields), so the conversion is written once here.
#ifndef GOVREPORT_COMMON_TIMESTAMP_H_
#define GOVREPORT_COMMON_TIMESTAMP_H_

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/unknown_field_set.h>

#include <cstdint>

#include "absl/time/time.h"

namespace govreport {

inline google::protobuf::Timestamp ToTimestamp(int64_t unix_seconds) {
  google::protobuf::Timestamp t;
  t.set_seconds(unix_seconds);
  return t;
}

// To the nanosecond, for instants the services take from the clock as they
// send them (an event's commit time, a heartbeat).
inline google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  int64_t nanos = absl::ToUnixNanos(t);
  google::protobuf::Timestamp out;
  out.set_seconds(nanos / 1000000000);
  out.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return out;
}

// Whole seconds (the services never write fractions); an unset field is 0,
// which the services read as "none" (no deadline, never expires, not yet).
inline int64_t FromTimestamp(const google::protobuf::Timestamp& t) { return t.seconds(); }

// Sets `*out` (a mutable_*_time()) only for a real instant: 0, the services'
// "none", leaves the field unset instead of stating 1970-01-01. Call it as
// SetTimestamp(s.due_unix, [&] { return p.mutable_due_time(); }).
template <typename Mutable>
void SetTimestamp(int64_t unix_seconds, Mutable&& mutable_field) {
  if (unix_seconds != 0) mutable_field()->set_seconds(unix_seconds);
}

// Messages stored before an instant became a Timestamp hold it as int64
// Unix seconds at the field's old number, reserved now: the parser keeps it
// as an unknown varint, never as the new field. This reads it back (0 when
// absent), for stored state whose loss would matter (timers, the approval
// history's hash chain).
inline int64_t LegacyUnixSeconds(const google::protobuf::Message& m, int old_number) {
  const google::protobuf::UnknownFieldSet& unknown = m.GetReflection()->GetUnknownFields(m);
  for (int i = 0; i < unknown.field_count(); ++i) {
    const google::protobuf::UnknownField& f = unknown.field(i);
    if (f.number() == old_number && f.type() == google::protobuf::UnknownField::TYPE_VARINT) {
      return static_cast<int64_t>(f.varint());
    }
  }
  return 0;
}

// The instant of `t`, a field of `m`; unset, the one an old stored `m` has
// at old_number.
inline int64_t FromTimestamp(const google::protobuf::Timestamp& t,
                             const google::protobuf::Message& m, int old_number) {
  if (t.seconds() != 0 || t.nanos() != 0) return t.seconds();
  return LegacyUnixSeconds(m, old_number);
}

}  // namespace govreport

#endif  // GOVREPORT_COMMON_TIMESTAMP_H_
