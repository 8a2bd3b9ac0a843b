#!/usr/bin/env python3
"""Checks deploy/redis/users.acl.template against the code and a real Redis.

Loads the ACL into a private redis-server (a Unix socket in a temporary
folder) and, for each service's user:
  - every command the service's code sends (C++ `{"CMD", ...}` argument lists
    and Lua `redis.call('CMD', ...)`, in its folder and the common files it
    uses) is allowed on a gr: key (ACL DRYRUN);
  - the user is allowed nothing more than that (ACL GETUSER);
  - FLUSHALL, KEYS *, SCAN, CONFIG, DEBUG, INFO, MONITOR, ACL, SHUTDOWN,
    SCRIPT FLUSH, keys outside gr: and Pub/Sub are refused.
And a connection that does not AUTH (the `default` user) can do nothing.
usage: check_redis_acl.py SOURCE_DIR
"""
import os
import re
import subprocess
import sys
import tempfile
import time

SOURCE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../..")
TEMPLATE = os.path.join(SOURCE, "deploy/redis/users.acl.template")

# What each service's process runs: its own folder plus the common code it
# calls (every write script starts with the request-id prelude of
# common/request_id.cc; those that append to an org's event log also with the
# event prelude of common/events.cc). Token issue/revoke (common/auth.cc) is the records service's; the
# other services only look tokens up (HGETALL, below). Every service links
# the cluster router (common/redis_cluster.cc: CLUSTER SLOTS, ASKING) and
# the WAIT of --redis-wait-replicas (common/redis.cc). The slot check of
# common/slot_check.cc (EXISTS) is in records' and the assembler's scripts.
SOURCES = {
    "records": ["services/records", "services/events", "services/common/auth.cc",
                "services/common/slot_check.cc",
                "services/common/redis.cc", "services/common/redis_cluster.cc", "services/common/request_id.cc",
                "services/common/paging.cc", "services/common/events.cc"],
    "templates": ["services/templates", "services/common/redis.cc", "services/common/redis_cluster.cc",
                  "services/common/request_id.cc"],
    "approval": ["services/approval", "services/common/redis.cc", "services/common/redis_cluster.cc", "services/common/request_id.cc",
                 "services/common/events.cc"],
    "assembler": ["services/assembler", "services/common/slot_check.cc", "services/common/redis.cc", "services/common/redis_cluster.cc", "services/common/streams.cc",
                  "services/common/request_id.cc", "services/common/paging.cc",
                  "services/common/events.cc", "services/common/metrics.cc"],
}
TOKEN_LOOKUP = {"hgetall"}  # TokenStore::Lookup, in every service's auth check.
NOT_SERVER_COMMANDS = {"auth", "sentinel"}  # AUTH is always allowed; SENTINEL goes to sentinels.
CONTAINERS = {"script", "xgroup", "xinfo", "client", "config", "object", "memory", "function",
              "acl", "cluster", "command"}
MUST_REFUSE = [
    ["flushall"], ["flushdb"], ["keys", "*"], ["scan", "0"], ["config", "get", "*"],
    ["config", "set", "dir", "/tmp"], ["debug", "sleep", "0"], ["info"], ["monitor"],
    ["acl", "list"], ["shutdown"], ["script", "flush"], ["eval", "return 1", "0"],
    ["get", "other:key"], ["publish", "ch", "x"], ["subscribe", "ch"], ["swapdb", "0", "1"],
    ["replicaof", "no", "one"], ["sort", "gr:x"], ["migrate", "h", "1", "gr:x", "0", "1"],
]

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def used_commands(paths, server_commands):
    cmds = set()
    files = []
    for p in paths:
        full = os.path.join(SOURCE, p)
        if os.path.isdir(full):
            for d, _, names in os.walk(full):
                files += [os.path.join(d, n) for n in names if n.endswith((".cc", ".h", ".lua"))]
        else:
            files.append(full)
    # {"CMD", "sub", ...} argument lists, push_back("CMD") and Lua's redis.call('CMD', 'sub').
    pattern = re.compile(r"""(?:(?:\{|push_back\()\s*"([A-Z]+)"(?:\s*,\s*"([A-Za-z-]+)")?"""
                         r"""|redis\.p?call\(\s*'([A-Z]+)'(?:\s*,\s*'([A-Za-z-]+)')?)""")
    for f in files:
        text = open(f, encoding="utf-8").read()
        for m in pattern.finditer(text):
            name = (m.group(1) or m.group(3)).lower()
            sub = (m.group(2) or m.group(4) or "").lower()
            if name in NOT_SERVER_COMMANDS or name not in server_commands:
                continue
            cmds.add(f"{name}|{sub}" if name in CONTAINERS and sub else name)
    return cmds


def main():
    tmp = tempfile.mkdtemp(prefix="gr-acl-")
    acl = os.path.join(tmp, "users.acl")
    # Rendered by the redis image's entry point, as in every deployment; the
    # password of user NAME is pwNAME.
    env = {"PATH": os.environ["PATH"], "GOVREPORT_REDIS_ACL_TEMPLATE": TEMPLATE,
           "GOVREPORT_REDIS_ACL": acl}
    for name in set(re.findall(r"@([A-Z]+)_PASSWORD@", open(TEMPLATE, encoding="utf-8").read())):
        env[f"REDIS_{name}_PASSWORD"] = "pw" + name.lower()
    sock = os.path.join(tmp, "redis.sock")
    server = subprocess.Popen(
        [os.path.join(SOURCE, "deploy/docker/redis-entrypoint.sh"), "--port", "0",
         "--unixsocket", sock, "--dir", tmp, "--save", "", "--logfile",
         os.path.join(tmp, "redis.log")], env=env)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            if server.poll() is not None:
                sys.exit("redis-server refused the ACL file: " +
                         open(os.path.join(tmp, "redis.log")).read()[-2000:])
            time.sleep(0.05)

        def cli(*args, user="admin"):
            env = dict(os.environ)
            cmd = ["redis-cli", "-s", sock]
            if user is not None:
                env["REDISCLI_AUTH"] = "pw" + user
                cmd += ["--user", user]
            return subprocess.run(cmd + list(args), env=env, capture_output=True, text=True,
                                  timeout=10).stdout.strip()

        for _ in range(100):
            if cli("ping") == "PONG":
                break
            time.sleep(0.05)
        server_commands = set(cli("command", "list").split())

        def arity(cmd):
            info = cli("command", "info", cmd).split("\n")
            return int(info[1]) if len(info) > 1 else -1

        for user, paths in SOURCES.items():
            used = used_commands(paths, server_commands) | TOKEN_LOOKUP
            for cmd in sorted(used):
                n = arity(cmd)
                words = cmd.split("|")
                extra = (n - 1 if n > 0 else -n - 1) - (len(words) - 1)
                answer = cli("acl", "dryrun", user, *words, *(["gr:{acl}:k"] * max(extra, 0)))
                if answer != "OK":
                    fail(f"{user}: the code sends {cmd.upper()} but the ACL says: {answer}")
            rules = cli("acl", "getuser", user).split("\n")
            commands = rules[rules.index("commands") + 1] if "commands" in rules else ""
            # Redis may write a long list back as a category with
            # exceptions (+@hash -hmset ...): apply the rules in order to get
            # the commands really allowed.
            allowed = set()
            for w in commands.split():
                sign, name = w[0], w[1:]
                names = (set(cli("command", "list", "filterby", "aclcat", name[1:]).split())
                         if name.startswith("@") else {name})
                if name == "@all":
                    names = set(server_commands)
                if sign == "+":
                    allowed |= names
                elif sign == "-":
                    allowed -= names
            for extra in sorted(allowed - used):
                fail(f"{user}: the ACL allows {extra.upper()}, which the code does not send")
            for cmd in MUST_REFUSE:
                answer = cli("acl", "dryrun", user, *cmd)
                if answer == "OK":
                    fail(f"{user}: may run {' '.join(cmd)}")
            # And through a real connection as the service would make one.
            if cli("flushall", user=user).find("NOPERM") != 0:
                fail(f"{user}: FLUSHALL was not refused")
            if cli("keys", "*", user=user).find("NOPERM") != 0:
                fail(f"{user}: KEYS * was not refused")
            if cli("ping", user=user) != "PONG":
                fail(f"{user}: cannot log in with its password")
            print(f"{user}: {len(used)} commands, all allowed; nothing else; dangerous ones refused")
        answer = cli("get", "gr:orgs", user=None)
        if not answer.startswith("NOAUTH"):
            fail(f"a connection without AUTH got: {answer}")
    finally:
        server.terminate()
        server.wait()
        subprocess.run(["rm", "-rf", tmp])
    if failures:
        sys.exit(f"{len(failures)} problem(s) with deploy/redis/users.acl.template")
    print("redis ACL: ok")


if __name__ == "__main__":
    main()
