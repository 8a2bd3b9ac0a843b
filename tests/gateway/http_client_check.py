"""An outside system calling the gateway with Python's standard library only.

    http_client_check.py BASE_URL TOKEN   (a recorder+auditor token of org kjj)
"""
import http.client
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

BASE, TOKEN = sys.argv[1], sys.argv[2]


def call(method, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"{}"), res.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers


def expect(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)


created = []
for day in ("2023-03-02", "2023-04-20", "2023-07-01"):
    status, rec, headers = call("POST", "/v1/orgs/kjj/activities",
                                {"type": "theme_party_day", "occurredOn": day, "title": "主题党日"},
                                headers={"X-Request-Id": "py-" + day})
    expect(status == 200, f"CreateActivity {status} {rec}")
    expect(headers["X-Request-Id"] == "py-" + day, "request id echoed")
    created.append(rec["name"])
status, got, _ = call("GET", "/v1/" + created[0])
expect(status == 200 and got["occurredOn"] == "2023-03-02", f"GetActivity {status} {got}")
status, page, _ = call("GET", "/v1/orgs/kjj/activities?" + urllib.parse.urlencode({"pageSize": 2}))
expect(status == 200 and len(page["activities"]) == 2 and page["nextPageToken"], f"List {page}")

# Bad input: each a JSON error.
status, err, _ = call("POST", "/v1/orgs/kjj/activities", raw=b'{"type": ')
expect(status == 400 and err["error"]["status"] == "INVALID_ARGUMENT", f"malformed {err}")
status, err, _ = call("POST", "/v1/orgs/kjj/activities", {"type": "x", "colour": "red"})
expect(status == 400 and "activity.colour" in err["error"]["message"], f"unknown field {err}")
status, err, _ = call("POST", "/v1/orgs/kjj/activities", raw=b"{" + b" " * 70000 + b"}")
expect(status == 413 and err["error"]["code"] == 413, f"too large {status} {err}")
status, err, _ = call("GET", "/v1/no/such/route")
expect(status == 404 and err["error"]["status"] == "NOT_FOUND", f"no route {err}")
status, err, headers = call("PUT", "/v1/orgs/kjj/activities")
expect(status == 405 and headers["Allow"] == "POST, GET", f"method {status} {headers['Allow']}")
status, err, _ = call("POST", "/v1/orgs/kjj/activities", {"type": "no_such_type", "occurredOn": "2023-01-01"})
expect(status == 400 and any("@type" in d for d in err["error"]["details"]), f"details {err}")

# The event feed as server-sent events, resumed with Last-Event-ID.
def events(headers, query, count):
    host = urllib.parse.urlsplit(BASE)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    conn.request("GET", "/v1/orgs/kjj/events:stream" + query,
                 headers={"Authorization": "Bearer " + TOKEN, "Accept": "text/event-stream", **headers})
    res = conn.getresponse()
    expect(res.status == 200, f"stream {res.status}")
    expect(res.getheader("Content-Type").startswith("text/event-stream"), "content type")
    ids, event = [], {}
    while len(ids) < count:
        # readline() of the response, not of its socket: it undoes the chunked
        # transfer coding.
        line = res.readline().decode().rstrip("\r\n")
        if line.startswith("id: "):
            event["id"] = line[4:]
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif line == "":
            if event.get("event") == "event":
                ids.append(event["id"])
            event = {}
    conn.close()
    return ids

first = events({}, "?position=START_POSITION_OLDEST&kinds=EVENT_KIND_ACTIVITY_CREATED", 3)
again = events({"Last-Event-ID": first[0]}, "?kinds=EVENT_KIND_ACTIVITY_CREATED", 2)
expect(again == first[1:], f"resume {first} {again}")
print("python client: OK")
