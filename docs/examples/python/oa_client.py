#!/usr/bin/env python3
"""What an OA system does with govreport, from the protos alone.

Pushes its records with retries that can never double one, syncs every
record back and then only what changed, follows its org's events and
resumes them from its last cursor, and reads errors as a code, a reason,
the wrong fields and a message in Chinese.
docs/integration.md walks through it; tests/e2e/python_client.sh runs it
against real servers.

  GOVREPORT_RECORDS=host:port GOVREPORT_TOKEN=... python3 oa_client.py ORG
Over TLS (docs/tls.md): GOVREPORT_TLS_CA=ca.pem, and for mTLS
GOVREPORT_TLS_CERT=client.pem GOVREPORT_TLS_KEY=client.key; optional
GOVREPORT_TLS_SERVER_NAME: the name the server's certificate must carry.
Stubs: protoc -I proto --python_out=OUT --grpc_python_out=OUT \
         --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
         $(find proto/govreport proto/google -name '*.proto')
and OUT on PYTHONPATH (or googleapis-common-protos for google.rpc).
"""
import os
import sys
import time

import grpc

from govreport.events.v1 import events_pb2 as epb
from govreport.events.v1 import events_pb2_grpc as egrpc
from govreport.records.v1 import records_pb2 as rpb
from govreport.records.v1 import records_pb2_grpc as rgrpc

# Codes worth a retry with the same request ids: the call may or may not
# have happened, and the request id makes a repeat harmless either way.
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.ABORTED, grpc.StatusCode.RESOURCE_EXHAUSTED}


def call_with_retries(method, request, metadata, attempts=5):
    """Calls `method`, retrying transient failures with backoff."""
    delay = 0.2
    for attempt in range(attempts):
        try:
            return method(request, metadata=metadata, timeout=30)
        except grpc.RpcError as err:
            if err.code() not in RETRYABLE or attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def oa_records(count):
    """The OA's own records: each has a stable id of the OA system."""
    for i in range(count):
        yield {"oa_id": f"meeting-{i:05d}", "type": "theme_party_day",
               "date": f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
               "title": f"主题党日 {i}", "participants": 10 + i % 30}


def push(stub, metadata, org, records):
    """Stores records in batches. The request id and external id come from
    the OA's own record id, so a re-run after a crash stores nothing twice."""
    created = 0
    batch = []

    def flush():
        nonlocal created
        req = rpb.BatchCreateActivitiesRequest(parent=f"orgs/{org}", requests=batch)
        resp = call_with_retries(stub.BatchCreateActivities, req, metadata)
        for item, result in zip(batch, resp.results):
            if result.code != 0:
                print(f"  refused {item.activity.external_id}: {result.message}")
        created += resp.created
        batch.clear()

    for rec in records:
        activity = rpb.ActivityRecord(
            type=rec["type"], occurred_on=rec["date"], title=rec["title"],
            source_system="oa", external_id=rec["oa_id"],
            quantities={"participants": rec["participants"]})
        batch.append(rpb.CreateActivityRequest(
            parent=f"orgs/{org}", activity=activity, request_id=f"oa-{rec['oa_id']}"))
        if len(batch) == 500:
            flush()
    if batch:
        flush()
    return created


def sync(stub, metadata, org, changed_after=0):
    """Reads every record changed after `changed_after` (0: all of them),
    a page at a time, in change order. Returns them and the greatest
    change_sequence seen, the starting point of the next sync."""
    seen = {}
    last = changed_after
    token = ""
    while True:
        req = rpb.ListActivitiesRequest(
            parent=f"orgs/{org}", page_size=1000, page_token=token,
            order_by="change_sequence", include_voided=True, changed_after=changed_after)
        resp = call_with_retries(stub.ListActivities, req, metadata)
        for a in resp.activities:
            seen[a.name] = a
            last = max(last, a.change_sequence)
        token = resp.next_page_token
        if not token:
            return seen, last


def follow(channel, metadata, org, cursor, want):
    """Reads the org's events after `cursor` ("": the oldest kept) until
    `want` of them came, then until a heartbeat says nothing more is there.
    Returns them and the cursor to store; an event whose cursor was seen
    already (delivery is at least once) is skipped."""
    req = epb.StreamEventsRequest(parent=f"orgs/{org}", heartbeat_seconds=1)
    if cursor:
        req.after_cursor = cursor
    else:
        req.position = epb.START_POSITION_OLDEST
    stream = egrpc.EventServiceStub(channel).StreamEvents(req, metadata=metadata, timeout=60)
    events, seen = [], set()
    try:
        for item in stream:
            if item.HasField("heartbeat"):
                cursor = item.heartbeat.cursor
                if len(events) >= want:
                    break
                continue
            if item.event.cursor in seen:
                continue
            seen.add(item.event.cursor)
            events.append(item.event)
            cursor = item.event.cursor
    finally:
        stream.cancel()
    return events, cursor


def error_details(err):
    """The google.rpc details of a failed call: reason, wrong fields, when to
    retry, and the message for operators in Chinese."""
    from google.rpc import error_details_pb2, status_pb2
    out = {}
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        for detail in status_pb2.Status.FromString(value).details:
            for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest,
                         error_details_pb2.RetryInfo, error_details_pb2.LocalizedMessage):
                if detail.Is(kind.DESCRIPTOR):
                    msg = kind()
                    detail.Unpack(msg)
                    out[kind.DESCRIPTOR.name] = msg
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


def dial(target):
    """A TLS channel when GOVREPORT_TLS_CA is set (the token must not cross
    a network in clear), plaintext otherwise (loopback development)."""
    ca = os.environ.get("GOVREPORT_TLS_CA")
    if not ca:
        return grpc.insecure_channel(target)
    cert, key = os.environ.get("GOVREPORT_TLS_CERT"), os.environ.get("GOVREPORT_TLS_KEY")
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(ca),
        private_key=read(key) if key else None,
        certificate_chain=read(cert) if cert else None)
    options = []
    if os.environ.get("GOVREPORT_TLS_SERVER_NAME"):
        options.append(("grpc.ssl_target_name_override", os.environ["GOVREPORT_TLS_SERVER_NAME"]))
    return grpc.secure_channel(target, creds, options=options)


def main():
    org = sys.argv[1]
    count = int(os.environ.get("OA_RECORDS", "1200"))
    channel = dial(os.environ["GOVREPORT_RECORDS"])
    stub = rgrpc.ActivityServiceStub(channel)
    metadata = [("authorization", "Bearer " + os.environ["GOVREPORT_TOKEN"])]
    failures = []

    first = push(stub, metadata, org, oa_records(count))
    print(f"pushed {count} record(s): {first} new")
    # A re-run, as after a crash before the OA marked them sent: nothing new.
    again = push(stub, metadata, org, oa_records(count))
    print(f"pushed them again: {again} new")
    if first != count or again != 0:
        failures.append("push counts")

    seen, last = sync(stub, metadata, org)
    print(f"synced {len(seen)} record(s), up to change {last}")
    if len(seen) != count:
        failures.append("full sync")

    # Its event subscriber: every record created so far, then it stops
    # (as when the OA restarts) and keeps the cursor.
    events, cursor = follow(channel, metadata, org, "", count)
    print(f"events: {len(events)} up to cursor {cursor}")
    if len(events) != count or any(e.kind != epb.EVENT_KIND_ACTIVITY_CREATED for e in events):
        failures.append("events of the creates")

    # The OA corrects one meeting and cancels another; the next sync sees
    # exactly those two.
    names = sorted(seen)
    fixed = seen[names[0]]
    fixed.title += "（更正）"
    stub.AmendActivity(rpb.AmendActivityRequest(
        activity=fixed, expected_revision=fixed.revision, reason="标题有误",
        request_id=f"oa-amend-{fixed.external_id}"), metadata=metadata, timeout=30)
    stub.VoidActivity(rpb.VoidActivityRequest(
        name=names[1], reason="活动取消", request_id=f"oa-void-{seen[names[1]].external_id}"),
        metadata=metadata, timeout=30)
    changed, last = sync(stub, metadata, org, changed_after=last)
    print(f"incremental sync: {len(changed)} changed record(s), up to change {last}")
    if sorted(changed) != names[:2] or not changed[names[1]].voided:
        failures.append("incremental sync")
    # Instants are google.protobuf.Timestamp (UTC); dates stay YYYY-MM-DD.
    amended = changed.get(names[0])
    if amended is None or not amended.HasField("create_time") or \
            amended.update_time.ToDatetime() < amended.create_time.ToDatetime():
        failures.append("record times")
    else:
        print(f"{amended.name}: occurred on {amended.occurred_on}, created "
              f"{amended.create_time.ToJsonString()}, amended {amended.update_time.ToJsonString()}")
    # Resumed from its cursor, the subscriber sees exactly those two changes.
    events, cursor = follow(channel, metadata, org, cursor, 2)
    kinds = [(epb.EventKind.Name(e.kind), e.activity_amended.activity.name or
              e.activity_voided.activity) for e in events]
    print(f"events after resuming: {kinds}")
    if kinds != [("EVENT_KIND_ACTIVITY_AMENDED", names[0]),
                 ("EVENT_KIND_ACTIVITY_VOIDED", names[1])] or \
            events[0].activity_amended.reason != "标题有误":
        failures.append("resumed events")

    try:
        bad = rpb.CreateActivityRequest(
            parent=f"orgs/{org}", request_id="oa-bad-1",
            activity=rpb.ActivityRecord(type="no_such_type", occurred_on="2023-01-01"))
        stub.CreateActivity(bad, metadata=metadata, timeout=30)
        failures.append("an unknown type was accepted")
    except grpc.RpcError as err:
        details = error_details(err)
        info = details.get("ErrorInfo")
        fields = [v.field for v in details["BadRequest"].field_violations] \
            if "BadRequest" in details else []
        zh = details["LocalizedMessage"].message if "LocalizedMessage" in details else ""
        print(f"unknown type refused: {err.code().name} reason={info.reason if info else None} "
              f"fields={fields} zh={zh}")
        if err.code() != grpc.StatusCode.INVALID_ARGUMENT or info is None or \
                info.reason != "UNKNOWN_ACTIVITY_TYPE" or "activity.type" not in fields or not zh:
            failures.append("error details")

    print("OK" if not failures else "FAILED: " + ", ".join(failures))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
