// The one Lua script every report write goes through. C++ reads the report,
// decides the next state (domain.h) and hands the script the new blob with
// the version it was computed from; the script checks the replay guard and
// the version before its first write, so a refused commit changes nothing.
#ifndef GOVREPORT_ASSEMBLER_LUA_SCRIPTS_H_
#define GOVREPORT_ASSEMBLER_LUA_SCRIPTS_H_

#include "common/redis.h"

namespace govreport::assembler {

// KEYS[1]: the report hash {d: blob, v: version}; KEYS[2..]: keys the
// operations name by index.
// ARGV: expected version ('0': the report must not exist), new blob, new
//       version, guard key index ('0': none), then operations:
//         SET   idx value ttl      (ttl '0': keep forever)
//         SETNX idx value          (frozen documents are never overwritten)
//         ZADD  idx score member
//         XADD  idx n f1 v1 ... fn vn
//         REQ   idx fingerprint result ttl   (common/request_id.h)
//         EVENT idx min_id kind payload      (the org's event log,
//                                             common/events.h)
//         HSET  idx field value
//         SREM  idx member
// Every commit also gives the report the org's next change sequence
// (gr:{org}:rseq) and moves it to the end of gr:{org}:rpts:u.
// Returns {'OK', version, change sequence} | {'DUP', guard value} | {'EXISTS', version} |
//         {'NOTFOUND'} | {'STALE', version}.
const redis::Script& CommitReportScript();

// The 发文字号 register (store.h has the keys). Every script checks all it
// refuses on before its first write.
//
// Allocate: the number of one approval's sign-off.
// KEYS: 1 settings hash {d, r, c}, 2 counters hash "{code}|{year}" → last
//       number, 3 approval → entry id hash, 4 entry id sequence, 5 index
//       (sorted set of entry ids), 6 pending set (entries whose report is
//       not published yet); entries are "<KEYS[4] without :seq>:{id}".
// ARGV: 1 approval, 2 code (as the caller read it), 3 year, 4 the report
//       revision's name, 5 now (unix seconds).
// An approval that has an ISSUED entry gets it again (a redelivered event,
// a crash before the report's commit); a VOIDED one gets a new number.
// Returns {'OK', id, number, fresh '1'|'0'} | {'STALE', the code now}.
const redis::Script& AllocateDocumentNumberScript();

// Update settings. KEYS: 1 settings hash, 2 pending set, 3 request key.
// ARGV: 1 revision read, 2 new blob, 3 new code, 4 code changed '1'|'0',
//       5 request fingerprint ('' = none), 6 request ttl.
// Returns {'OK'} | {'STALE', revision} | {'CONFLICT', revisions pending}
//       | request_prior's answers.
const redis::Script& UpdateDocumentSettingsScript();

// Void an entry. KEYS: 1 the entry, 2 pending set, 3 request key.
// ARGV: 1 entry id, 2 reason, 3 by, 4 now, 5 mode ('admin': refused while
//       its report is being published; 'unpublished': only then),
//       6 request fingerprint, 7 request ttl.
// Returns {'OK'} | {'NOTFOUND'} | {'FINAL'} (voided already)
//       | {'CONFLICT', revision} (admin: being published; unpublished:
//         published already) | request_prior's answers.
const redis::Script& VoidDocumentNumberScript();

// Add a signing key: KEYS: 1 keys hash {seq, active, k{n}: SigningKey blob
// (state not kept: derived from active), r{n}: retire time (unix)}, 2 the
// sealed private keys hash {s{n}}, 3 request key. ARGV: 1 n, 2 blob,
// 3 sealed private key, 4 now (unix microseconds), 5 fingerprint, 6 request retention.
// The key becomes active; the one it replaces gets its retire time.
// Returns {'OK'} | request_prior's answers (the n first written).
const redis::Script& AddSigningKeyScript();
const redis::Script& ReplaceSigningKeyScript();

}  // namespace govreport::assembler

#endif  // GOVREPORT_ASSEMBLER_LUA_SCRIPTS_H_
