#!/usr/bin/python3
"""Checks deploy/ as far as this machine allows (docs/operations.md).

  check_deploy.py static ROOT BUILD   units, compose, Dockerfile, Kubernetes manifests
  check_deploy.py run ROOT BUILD      the services started from the units' command lines

static: `systemd-analyze verify` and `security --offline` on every unit (the
binary paths replaced by the built ones), the env files' and command lines'
flags against each binary's --help, compose.yaml and the manifests parsed and
held to the fields docs/operations.md promises, the Dockerfile's bases, users
and stages, and the Kubernetes Secrets and ConfigMaps every pod refers to
(rendered by `kubectl kustomize` where kubectl exists).

run: a Redis started through deploy/docker/redis-entrypoint.sh with the
project's ACL, then every unit's ExecStart with the built binary, %d the
unit's credentials (LoadCredential= sources under a temporary /etc/govreport:
certificates from scripts/gen-certs.sh, a secret key) and its environment
file made from the .env.example with free ports; each must say "listening on
port", answer health SERVING to deploy/docker/govreport-health (the probe the
images use), over mTLS when the binary has the TLS flags (and then refuse
plaintext and a client without a certificate), serve /metrics when it has
--metrics-listen, and exit 0 on SIGTERM within the unit's TimeoutStopSec.

A binary, flag or script that is missing is a failure. Only tools this
machine lacks (systemd-analyze, kubectl, docker compose) are skipped, with a
line saying so. Exit 0 when every check passed.
"""

import glob
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

SERVERS = ["records", "templates", "approval", "assembler"]
ALL = SERVERS + ["gateway"]
UNIT_HARDENING = {
    "DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "PrivateDevices": "yes",
    "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
    "Restart": "on-failure", "Type": "exec",
}
DRAIN_SLACK_S = 5  # common/server.h kDrainSlack


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = []
        self.skipped = []

    def ok(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed.append(what)
            print(f"FAIL {what}", flush=True)
        return cond

    def skip(self, what):
        self.skipped.append(what)
        print(f"SKIP {what}", flush=True)

    def finish(self, name):
        print(f"{name}: {self.passed} passed, {len(self.failed)} failed, "
              f"{len(self.skipped)} skipped")
        return 1 if self.failed or self.passed == 0 else 0


# ---- what the build has ----------------------------------------------------

class Build:
    def __init__(self, root, build):
        self.root = root
        self.dir = build
        self._help = {}

    def binary(self, name):
        path = os.path.join(self.dir, "services", name, name)
        return path if os.access(path, os.X_OK) else None

    def flags(self, name):
        """The flags of a binary, from its --help ('--name  [GOVREPORT_NAME]')."""
        if name not in self._help:
            path = self.binary(name)
            text = ""
            if path:
                text = subprocess.run([path, "--help"], capture_output=True, text=True,
                                      timeout=30).stdout
            self._help[name] = set(re.findall(r"^\s+--([a-z0-9-]+)\s", text, re.M))
        return self._help[name]

    @property
    def gen_certs(self):
        return os.path.join(self.root, "scripts", "gen-certs.sh")


def flag_known(c, b, binary, flag, where):
    """A flag (or GOVREPORT_ variable) must be the binary's."""
    if not c.ok(b.binary(binary) is not None, f"{where}: no {binary} binary in this build"):
        return
    c.ok(flag in b.flags(binary), f"{where}: {binary} has no flag --{flag}")


# ---- systemd ---------------------------------------------------------------

def parse_unit(path):
    """{section: [(key, value)]}, continuation lines joined, comments dropped."""
    sections, current, pending = {}, None, ""
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if pending:
            line = pending + " " + line.strip()
            pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            current = s.strip("[]")
            sections.setdefault(current, [])
            continue
        key, _, value = s.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def unit_get(unit, key, section="Service"):
    return [v for k, v in unit.get(section, []) if k == key]


def exec_argv(unit):
    (line,) = unit_get(unit, "ExecStart")
    return shlex.split(line)


def grace_ms(argv):
    for a in argv:
        if a.startswith("--shutdown-grace-ms="):
            return int(a.split("=", 1)[1])
    return None


def seconds(text):
    m = re.fullmatch(r"(\d+)(s|min)?", text)
    return int(m.group(1)) * (60 if m.group(2) == "min" else 1)


def parse_env_file(path, commented=False):
    """KEY=VALUE lines; with commented, also '#GOVREPORT_X=' examples."""
    out = {}
    for line in open(path, encoding="utf-8"):
        s = line.strip()
        if commented and s.startswith("#GOVREPORT_"):
            s = s[1:]
        if not s or s.startswith("#") or "=" not in s:
            continue
        k, _, v = s.partition("=")
        out[k.strip()] = v.strip()
    return out


def env_flag(var):
    return var[len("GOVREPORT_"):].lower().replace("_", "-")


def check_units(c, b):
    sd = os.path.join(b.root, "deploy", "systemd")
    target = parse_unit(os.path.join(sd, "govreport.target"))
    wanted = " ".join(unit_get(target, "Wants", "Unit")).split()
    for name in ALL:
        unit_name = f"govreport-{name}.service"
        path = os.path.join(sd, unit_name)
        if not c.ok(os.path.exists(path), f"{unit_name} exists"):
            continue
        unit = parse_unit(path)
        c.ok(unit_name in wanted, f"govreport.target wants {unit_name}")
        c.ok("govreport.target" in unit_get(unit, "WantedBy", "Install"),
             f"{unit_name}: WantedBy=govreport.target")
        for key, want in UNIT_HARDENING.items():
            c.ok(want in unit_get(unit, key), f"{unit_name}: {key}={want}")
        c.ok(any("@system-service" in v for v in unit_get(unit, "SystemCallFilter")),
             f"{unit_name}: SystemCallFilter=@system-service")
        c.ok(bool(unit_get(unit, "RestrictAddressFamilies")),
             f"{unit_name}: RestrictAddressFamilies")
        c.ok(unit_get(unit, "EnvironmentFile") == [f"/etc/govreport/{name}.env"],
             f"{unit_name}: EnvironmentFile=/etc/govreport/{name}.env")
        creds = dict(v.split(":", 1) for v in unit_get(unit, "LoadCredential"))
        for cred, src in [("tls.pem", f"tls/{name}.pem"), ("tls.key", f"tls/{name}.key"),
                          ("ca.pem", "tls/ca.pem")]:
            c.ok(creds.get(cred) == f"/etc/govreport/{src}",
                 f"{unit_name}: LoadCredential={cred}:/etc/govreport/{src} (gen-certs.sh names)")
        argv = exec_argv(unit)
        c.ok(argv[0] == f"/opt/govreport/bin/{name}", f"{unit_name}: ExecStart runs {name}")
        for a in argv[1:]:
            c.ok(a.startswith("--") and "=" in a, f"{unit_name}: ExecStart argument {a} is --flag=value")
            flag_known(c, b, name, a[2:].split("=", 1)[0], f"{unit_name} ExecStart")
        stop = seconds(unit_get(unit, "TimeoutStopSec")[0])
        if name in SERVERS:
            g = grace_ms(argv)
            c.ok(g is not None and stop >= g / 1000 + DRAIN_SLACK_S,
                 f"{unit_name}: TimeoutStopSec={stop}s covers --shutdown-grace-ms + {DRAIN_SLACK_S}s")
            c.ok(creds.get("secret.key") == "/etc/govreport/secret.key",
                 f"{unit_name}: the secret key as a credential")
        # The signing master key seals every org's SM2 key: the assembler's
        # alone, as a credential its ExecStart names.
        has_master = creds.get("signing-master.key") == "/etc/govreport/signing-master.key"
        c.ok(has_master == (name == "assembler"),
             f"{unit_name}: {'the' if name == 'assembler' else 'no'} signing master key credential")
        if name == "assembler":
            c.ok("--signing-master-key-file=%d/signing-master.key" in argv,
                 f"{unit_name}: ExecStart gives --signing-master-key-file")
        check_env_example(c, b, name)
    systemd_analyze(c, b, sd)


def check_env_example(c, b, name):
    path = os.path.join(b.root, "deploy", "systemd", f"{name}.env.example")
    if not c.ok(os.path.exists(path), f"{name}.env.example exists"):
        return
    env = parse_env_file(path, commented=True)
    for var, value in env.items():
        c.ok(var.startswith("GOVREPORT_"), f"{name}.env.example: {var} is a GOVREPORT_ variable")
        flag_known(c, b, name, env_flag(var), f"{name}.env.example {var}")
        secretish = "TOKEN" in var or re.search(r"://[^:/@]+:[^@]+@", value)
        if secretish and value:
            c.ok("CHANGE_ME" in value, f"{name}.env.example: {var} is a placeholder, not a secret")


def systemd_analyze(c, b, sd):
    tool = shutil.which("systemd-analyze")
    if not tool:
        c.skip("systemd-analyze is not installed: the units were only parsed")
        return
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for unit in sorted(glob.glob(os.path.join(sd, "govreport*"))):
            text = open(unit, encoding="utf-8").read()
            for name in ALL + ["reportctl"]:
                if f"/opt/govreport/bin/{name}" not in text:
                    continue
                built = b.binary(name)
                if not c.ok(built is not None,
                            f"{os.path.basename(unit)}: no {name} binary in this build"):
                    built = "/bin/true"  # still verify the rest of the unit
                text = text.replace(f"/opt/govreport/bin/{name} ", f"{built} ")
            out = os.path.join(tmp, os.path.basename(unit))
            open(out, "w", encoding="utf-8").write(text)
            paths.append(out)
        r = subprocess.run([tool, "verify", "--man=no"] + paths, capture_output=True, text=True,
                           timeout=120)
        msg = (r.stdout + r.stderr).strip()
        if r.returncode != 0 and "Failed to" in msg and "bus" in msg.lower():
            c.skip(f"systemd-analyze verify cannot run here: {msg.splitlines()[0]}")
            return
        # It warns (unknown keys, bad values) and still exits 0: any word is a failure.
        c.ok(r.returncode == 0 and not msg, f"systemd-analyze verify: {msg or r.returncode}")
        for p in paths:
            if not p.endswith(".service"):
                continue
            r = subprocess.run([tool, "security", "--offline=yes", "--threshold=20", p],
                               capture_output=True, text=True, timeout=60)
            level = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout)
            c.ok(r.returncode == 0,
                 f"systemd-analyze security {os.path.basename(p)}: exposure "
                 f"{level.group(1) if level else '?'} (at most 2.0)")


# ---- Dockerfile and compose ------------------------------------------------

def dockerfile_stages(path):
    """[{name, base, user, copies, runs}] of a Dockerfile, continuations joined."""
    text = re.sub(r"\\\n", " ", open(path, encoding="utf-8").read())
    stages = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        word, _, rest = s.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            base = m.group(1)
            inherited = next((st["user"] for st in stages if st["name"] == base), None)
            stages.append({"name": m.group(2), "base": base, "user": inherited, "copies": [],
                           "runs": [], "entrypoint": None})
        elif word == "USER":
            stages[-1]["user"] = rest.strip()
        elif word in ("COPY", "ADD"):
            stages[-1]["copies"].append((word, rest))
        elif word == "RUN":
            stages[-1]["runs"].append(rest)
        elif word == "ENTRYPOINT":
            stages[-1]["entrypoint"] = rest
    return stages


def check_dockerfile(c, b):
    path = os.path.join(b.root, "deploy", "docker", "Dockerfile")
    stages = dockerfile_stages(path)
    names = [s["name"] for s in stages]
    c.ok(len(stages) >= 2 and "build" in names and "runtime" in names,
         "Dockerfile: multi-stage (build, runtime)")
    ignore = open(path + ".dockerignore", encoding="utf-8").read().split()
    for st in stages:
        c.ok(st["base"] in names[: names.index(st["name"])] or
             re.fullmatch(r"debian:12(-slim)?", st["base"]) is not None,
             f"Dockerfile stage {st['name']}: FROM debian:12 or an earlier stage ({st['base']})")
        for run in st["runs"]:
            c.ok(not re.search(r"\b(curl|wget|pip3?|npm|git clone)\b", run),
                 f"Dockerfile stage {st['name']}: nothing but Debian packages ({run[:60]})")
        for word, rest in st["copies"]:
            c.ok(word == "COPY", f"Dockerfile stage {st['name']}: COPY, not ADD")
            if "--from=" in rest:
                continue
            for src in rest.split()[:-1]:
                c.ok(os.path.exists(os.path.join(b.root, src)), f"Dockerfile: COPY {src} exists")
                c.ok(f"!{src.rstrip('/')}" in [i.rstrip("/") for i in ignore],
                     f"Dockerfile.dockerignore lets {src} into the context")
    # build and base (the user, shared by runtime and certs) are no image.
    final = [s for s in stages if s["name"] not in ("build", "base")]
    for st in final:
        user = (st["user"] or "root").split(":")[0]
        c.ok(user not in ("root", "0") and user.isdigit(),
             f"Dockerfile stage {st['name']}: runs as a numeric non-root USER ({user})")
    redis = next(s for s in stages if s["name"] == "redis")
    c.ok("--appendonly" in redis["entrypoint"] and '"always"' in redis["entrypoint"],
         "Dockerfile redis: AOF with appendfsync always")
    build = next(s for s in stages if s["name"] == "build")
    built = " ".join(build["runs"])
    for name in ALL + ["reportctl"]:
        c.ok(name in names and re.search(rf"\b{name}\b", built) is not None,
             f"Dockerfile: a {name} target, built in stage build")
    return names


def check_compose(c, b, stages):
    path = os.path.join(b.root, "deploy", "compose.yaml")
    doc = yaml.safe_load(open(path, encoding="utf-8"))
    services = doc["services"]
    for name in ALL + ["redis", "certs", "reportctl"]:
        if not c.ok(name in services, f"compose: service {name}"):
            continue
        s = services[name]
        c.ok(s.get("read_only") is True, f"compose {name}: read_only")
        user = str(s.get("user", "root")).split(":")[0]
        c.ok(user.isdigit() and user != "0", f"compose {name}: a non-root user ({user})")
        c.ok(s.get("cap_drop") == ["ALL"], f"compose {name}: cap_drop ALL")
        c.ok("no-new-privileges:true" in s.get("security_opt", []),
             f"compose {name}: no-new-privileges")
        c.ok(s["build"]["target"] in stages and s["build"]["dockerfile"] == "deploy/docker/Dockerfile",
             f"compose {name}: builds a target of deploy/docker/Dockerfile")
        if name in ALL + ["redis"]:
            c.ok("test" in s.get("healthcheck", {}), f"compose {name}: healthcheck")
        if name != "redis":
            c.ok("secrets:/etc/govreport" in " ".join(s.get("volumes", [])),
                 f"compose {name}: the secrets volume (certificates from gen-certs.sh)")
        if name in ALL:
            env = s["environment"]
            c.ok(s.get("stop_grace_period") == "20s", f"compose {name}: stop_grace_period 20s")
            c.ok(env.get("GOVREPORT_TLS_CERT") == f"/etc/govreport/tls/{name}.pem" and
                 env.get("GOVREPORT_TLS_KEY") == f"/etc/govreport/tls/{name}.key",
                 f"compose {name}: its own certificate and key")
            for var in env:
                flag_known(c, b, name, env_flag(var), f"compose {name} {var}")
            c.ok(("ports" in s) == (name == "gateway"),
                 f"compose {name}: {'the only' if name == 'gateway' else 'no'} published port")
            master = env.get("GOVREPORT_SIGNING_MASTER_KEY_FILE")
            c.ok((master == "/etc/govreport/signing-master.key") == (name == "assembler"),
                 f"compose {name}: {'the' if name == 'assembler' else 'no'} signing master key")
    certs_entry = " ".join(services["certs"].get("entrypoint", [])) + open(
        os.path.join(b.root, "deploy", "docker", "Dockerfile"), encoding="utf-8").read()
    c.ok("signing-master.key" in certs_entry, "compose certs: makes the signing master key")
    redis = services["redis"]
    c.ok("redis-data:/data" in redis.get("volumes", []), "compose redis: AOF on a volume at /data")
    c.ok("/run/redis" in redis.get("tmpfs", []), "compose redis: a tmpfs for the rendered ACL")
    c.ok(set(doc.get("volumes", {})) >= {"secrets", "redis-data"}, "compose: named volumes")
    example = parse_env_file(os.path.join(b.root, "deploy", "compose.env.example"))
    used = set(re.findall(r"\$\{([A-Z_]+)", open(path, encoding="utf-8").read()))
    c.ok(used <= set(example) | {"GOVREPORT_TAG"},
         f"compose.env.example names every variable compose.yaml uses ({sorted(used - set(example))})")
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        with tempfile.TemporaryDirectory() as tmp:
            envf = os.path.join(tmp, "env")
            open(envf, "w").write("\n".join(f"{k}=x" for k in example) + "\n")
            r = subprocess.run([docker, "compose", "--env-file", envf, "-f", path, "config", "-q"],
                               capture_output=True, text=True)
            c.ok(r.returncode == 0, f"docker compose config: {r.stderr.strip()}")
    else:
        c.skip("docker compose is not installed: compose.yaml was parsed as YAML only")


# ---- Kubernetes ------------------------------------------------------------

def k8s_docs(root):
    docs = []
    for path in sorted(glob.glob(os.path.join(root, "deploy", "k8s", "*.yaml"))):
        if os.path.basename(path) == "kustomization.yaml":
            continue
        for d in yaml.safe_load_all(open(path, encoding="utf-8")):
            if d:
                d["_file"] = os.path.basename(path)
                docs.append(d)
    return docs


def check_k8s(c, b):
    docs = k8s_docs(b.root)
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    kust = yaml.safe_load(open(os.path.join(b.root, "deploy", "k8s", "kustomization.yaml")))
    listed = set(kust["resources"])
    for f in {d["_file"] for d in docs}:
        c.ok(f in listed, f"kustomization.yaml lists {f}")
    secret_keys = generated_secret_keys(b.root, kust)
    secret_keys.update({n: set((s.get("data") or {}) | (s.get("stringData") or {}))
                        for n, s in kinds.get("Secret", {}).items()})
    workloads = list(kinds.get("Deployment", {}).values()) + list(kinds.get("StatefulSet", {}).values())
    for name in ALL:
        dep = kinds.get("Deployment", {}).get(name)
        if c.ok(dep is not None, f"k8s: Deployment {name}"):
            check_deployment(c, b, dep, name)
        c.ok(name in kinds.get("Service", {}), f"k8s: Service {name}")
    for w in workloads:
        check_refs(c, w, secret_keys, kinds.get("ConfigMap", {}))
        # The signing master key's Secret is mounted by the assembler alone.
        mounts = {v.get("secret", {}).get("secretName") for v in pod_spec(w).get("volumes", [])}
        name = w["metadata"]["name"]
        c.ok(("govreport-signing" in mounts) == (name == "assembler"),
             f"k8s {name}: {'mounts' if name == 'assembler' else 'does not mount'} govreport-signing")
    check_services(c, kinds.get("Service", {}), workloads)
    check_redis(c, kinds)
    check_policies(c, kinds.get("NetworkPolicy", {}), kinds.get("Deployment", {}))
    kustomize_render(c, b)


def generated_secret_keys(root, kust):
    out = {}
    for g in kust.get("secretGenerator", []):
        keys = set()
        for f in g.get("files", []):
            keys.add(f.split("=", 1)[0])
        for e in g.get("envs", []):
            example = os.path.join(root, "deploy", "k8s", e + ".example")
            for line in open(example, encoding="utf-8"):
                s = line.strip().lstrip("#")
                if re.match(r"^[a-z0-9.-]+=", s):
                    keys.add(s.split("=", 1)[0])
        out[g["name"]] = keys
    return out


def pod_spec(w):
    return w["spec"]["template"]["spec"]


def check_deployment(c, b, dep, name):
    where = f"k8s Deployment {name}"
    spec = pod_spec(dep)
    psc = spec.get("securityContext", {})
    c.ok(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccomp RuntimeDefault")
    c.ok(spec.get("automountServiceAccountToken") is False, f"{where}: no service account token")
    (ctr,) = spec["containers"]
    sc = ctr.get("securityContext", {})
    c.ok(sc.get("runAsNonRoot") is True or psc.get("runAsNonRoot") is True, f"{where}: runAsNonRoot")
    c.ok(str(psc.get("runAsUser", sc.get("runAsUser"))) == "10001", f"{where}: runAsUser 10001 (the image's)")
    c.ok(sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem")
    c.ok(sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation false")
    c.ok(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: capabilities drop ALL")
    res = ctr.get("resources", {})
    for kind in ("requests", "limits"):
        c.ok({"cpu", "memory"} <= set(res.get(kind, {})), f"{where}: resources.{kind} cpu and memory")
    ports = {p["name"]: p["containerPort"] for p in ctr.get("ports", [])}
    ann = dep["spec"]["template"]["metadata"].get("annotations", {})
    c.ok(ann.get("prometheus.io/scrape") == "true" and
         str(ports.get("metrics")) == ann.get("prometheus.io/port") and
         ann.get("prometheus.io/path") == "/metrics",
         f"{where}: Prometheus scrape annotations on the metrics port")
    env = {e["name"]: e.get("value") for e in ctr.get("env", [])}
    c.ok(env.get("GOVREPORT_METRICS_LISTEN") == f"0.0.0.0:{ports.get('metrics')}",
         f"{where}: --metrics-listen on the annotated port")
    listen_port = int(env.get("GOVREPORT_LISTEN", ":0").rsplit(":", 1)[1])
    c.ok(listen_port in ports.values(), f"{where}: GOVREPORT_LISTEN on a container port")
    for var in env:
        if var.startswith("GOVREPORT_"):
            flag_known(c, b, name, env_flag(var), f"{where} {var}")
    for probe in ("readinessProbe", "livenessProbe"):
        p = ctr.get(probe)
        if not c.ok(p is not None, f"{where}: {probe}"):
            continue
        if name == "gateway":
            c.ok(p.get("httpGet", {}).get("scheme") == "HTTPS", f"{where}: {probe} over HTTPS")
            # Ready: every backend SERVING; alive: the gateway itself answers.
            want = "/readyz" if probe == "readinessProbe" else "/healthz"
            c.ok(p.get("httpGet", {}).get("path") == want, f"{where}: {probe} GET {want}")
        else:
            cmd = p.get("exec", {}).get("command", [])
            # Kubernetes' grpc probe has no TLS: the image's gRPC health probe over mTLS.
            c.ok(cmd[:1] == ["govreport-health"], f"{where}: {probe} is the gRPC health check")
            c.ok(("--live" in cmd) == (probe == "livenessProbe"),
                 f"{where}: {probe} {'accepts NOT_SERVING' if probe == 'livenessProbe' else 'wants SERVING'}")
    if name in SERVERS:
        g = grace_ms(ctr.get("args", [])) or 10000
        stop = ctr.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        pre = int(stop[1]) if stop[:1] == ["sleep"] else 0
        c.ok(spec.get("terminationGracePeriodSeconds", 30) >= pre + g / 1000 + DRAIN_SLACK_S,
             f"{where}: terminationGracePeriodSeconds covers preStop + grace + {DRAIN_SLACK_S}s")


def check_refs(c, w, secret_keys, configmaps):
    where = f"k8s {w['kind']} {w['metadata']['name']}"
    spec = pod_spec(w)
    for ctr in spec["containers"]:
        for e in ctr.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                keys = secret_keys.get(ref["name"])
                c.ok(keys is not None, f"{where}: Secret {ref['name']} exists")
                c.ok(keys is None or ref["key"] in keys or ref.get("optional") is True,
                     f"{where}: Secret {ref['name']} has key {ref['key']}")
        for ef in ctr.get("envFrom", []):
            if "configMapRef" in ef:
                c.ok(ef["configMapRef"]["name"] in configmaps,
                     f"{where}: ConfigMap {ef['configMapRef']['name']} exists")
            if "secretRef" in ef:
                c.ok(ef["secretRef"]["name"] in secret_keys, f"{where}: Secret {ef['secretRef']['name']}")
        mounts = {m["name"] for m in ctr.get("volumeMounts", [])}
        vols = {v["name"] for v in spec.get("volumes", [])}
        vols |= {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
        c.ok(mounts <= vols, f"{where}: every volumeMount has a volume")
    for v in spec.get("volumes", []):
        if "secret" in v:
            name = v["secret"]["secretName"]
            keys = secret_keys.get(name)
            c.ok(keys is not None, f"{where}: Secret {name} exists")
            for item in v["secret"].get("items", []):
                c.ok(keys is not None and item["key"] in keys, f"{where}: Secret {name} has {item['key']}")


def check_services(c, services, workloads):
    for name, svc in services.items():
        sel = svc["spec"]["selector"]
        match = [w for w in workloads
                 if sel.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        if not c.ok(bool(match), f"k8s Service {name}: selects a workload"):
            continue
        ports = {p["name"] for ctr in pod_spec(match[0])["containers"] for p in ctr.get("ports", [])}
        for p in svc["spec"]["ports"]:
            c.ok(p["targetPort"] in ports, f"k8s Service {name}: targetPort {p['targetPort']} is named")
    c.ok(services.get("gateway", {}).get("spec", {}).get("type") == "LoadBalancer",
         "k8s Service gateway: LoadBalancer (the only one reachable from outside)")
    c.ok(all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for n, s in services.items()
             if n != "gateway"), "k8s: every other Service is cluster-internal")


def check_redis(c, kinds):
    ss = kinds.get("StatefulSet", {}).get("redis")
    if not c.ok(ss is not None, "k8s: StatefulSet redis"):
        return
    claims = ss["spec"].get("volumeClaimTemplates", [])
    c.ok(len(claims) == 1 and "storage" in claims[0]["spec"]["resources"]["requests"],
         "k8s redis: a PersistentVolumeClaim template")
    (ctr,) = pod_spec(ss)["containers"]
    mounts = {m["name"]: m["mountPath"] for m in ctr["volumeMounts"]}
    c.ok(mounts.get(claims[0]["metadata"]["name"]) == "/data", "k8s redis: the claim at /data (AOF)")
    c.ok(ctr["image"].startswith("govreport/redis"), "k8s redis: the image with AOF always (Dockerfile)")
    sc = ctr.get("securityContext", {})
    c.ok(sc.get("readOnlyRootFilesystem") is True and sc.get("runAsNonRoot") is True,
         "k8s redis: non-root, read-only root")


def check_policies(c, policies, deployments):
    c.ok(any(p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] for p in policies.values()),
         "k8s NetworkPolicy: ingress denied by default")
    redis = [p for p in policies.values()
             if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == "redis"]
    if not c.ok(len(redis) == 1, "k8s NetworkPolicy for Redis"):
        return
    (rule,) = redis[0]["spec"]["ingress"]
    (src,) = rule["from"]
    label = src["podSelector"]["matchLabels"]
    clients = sorted(n for n, d in deployments.items()
                     if label.items() <= d["spec"]["template"]["metadata"]["labels"].items())
    c.ok(clients == sorted(SERVERS), f"k8s: only the services reach Redis ({clients})")
    for name in SERVERS:
        pol = policies.get(name)
        if not c.ok(pol is not None, f"k8s NetworkPolicy {name}"):
            continue
        froms = [f for r in pol["spec"]["ingress"] for f in r.get("from", [])]
        c.ok(bool(froms) and all("podSelector" in f and "namespaceSelector" not in f for f in froms),
             f"k8s NetworkPolicy {name}: only pods of the namespace")
    gw = policies.get("gateway")
    c.ok(gw is not None and gw["spec"]["ingress"][0].get("from") is None,
         "k8s NetworkPolicy gateway: reachable from outside")


def kustomize_render(c, b):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        c.skip("kubectl is not installed: kustomization.yaml was not rendered")
        return
    with tempfile.TemporaryDirectory() as tmp:
        k = os.path.join(tmp, "k8s")
        shutil.copytree(os.path.join(b.root, "deploy", "k8s"), k)
        os.makedirs(os.path.join(k, "certs"), exist_ok=True)
        for n in ["ca"] + ALL + ["reportctl"]:
            for ext in ("pem", "key"):
                open(os.path.join(k, "certs", f"{n}.{ext}"), "w").write("placeholder\n")
        for e in glob.glob(os.path.join(k, "secrets", "*.env.example")):
            shutil.copy(e, e[: -len(".example")])
        open(os.path.join(k, "secrets", "secret.key"), "w").write("placeholder\n")
        open(os.path.join(k, "secrets", "signing-master.key"), "w").write("placeholder\n")
        r = subprocess.run([kubectl, "kustomize", k], capture_output=True, text=True, timeout=120)
        if not c.ok(r.returncode == 0, f"kubectl kustomize deploy/k8s: {r.stderr.strip()[:300]}"):
            return
        rendered = [d for d in yaml.safe_load_all(r.stdout) if d]
        names = {(d["kind"], d["metadata"]["name"]) for d in rendered}
        text = r.stdout
        for kind, name in names:
            if kind == "Secret":
                c.ok(name in text.replace(f"name: {name}\n", "", 1),
                     f"kustomize: Secret {name} is used")
        c.ok(all(d["metadata"].get("namespace") == "govreport" for d in rendered
                 if d["kind"] != "Namespace"), "kustomize: everything in namespace govreport")


def run_static(root, build):
    c = Checks()
    b = Build(root, build)
    for name in ALL:
        c.ok(b.binary(name) is not None, f"built binary {name} (the checks read its --help)")
    check_units(c, b)
    stages = check_dockerfile(c, b)
    check_compose(c, b, stages)
    check_k8s(c, b)
    return c.finish("deploy.static")


# ---- run the units ---------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(what, cond, timeout, proc=None):
    """Polls cond() until true; a process that exits first ends the wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        if proc is not None and proc.poll() is not None:
            print(f"  {what}: the process exited with {proc.returncode}")
            return False
        time.sleep(0.1)
    print(f"  {what}: not within {timeout}s")
    return False


class Suite:
    """The processes of one run, and where their files go."""

    def __init__(self, root, build, tmp):
        self.b = Build(root, build)
        self.root = root
        self.tmp = tmp
        self.etc = os.path.join(tmp, "etc", "govreport")  # stands for /etc/govreport
        self.procs = []
        self.ports = {}
        self.metrics_ports = {}
        self.passwords = {}
        self.admin_token = secrets.token_hex(16)

    def stop_all(self):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()

    def start_redis(self, c):
        entry = os.path.join(self.root, "deploy", "docker", "redis-entrypoint.sh")
        template = os.path.join(self.root, "deploy", "redis", "users.acl.template")
        env = {"PATH": os.environ["PATH"], "GOVREPORT_REDIS_ACL_TEMPLATE": template,
               "GOVREPORT_REDIS_ACL": os.path.join(self.tmp, "run", "redis", "users.acl")}
        for user in ["admin"] + SERVERS:
            self.passwords[user] = secrets.token_hex(16)
            env[f"REDIS_{user.upper()}_PASSWORD"] = self.passwords[user]
        port = free_port()
        data = os.path.join(self.tmp, "redis")
        os.makedirs(data)
        log = open(os.path.join(self.tmp, "redis.log"), "w")
        p = subprocess.Popen([entry, "--bind", "127.0.0.1", "--port", str(port), "--dir", data,
                              "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                             env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(("redis", p))
        self.redis_port = port

        def pong():
            r = subprocess.run(["redis-cli", "-p", str(port), "--user", "admin", "--no-auth-warning",
                                "ping"], env={**os.environ, "REDISCLI_AUTH": self.passwords["admin"]},
                               capture_output=True, text=True)
            return r.stdout.strip() == "PONG"

        ok = c.ok(wait_for("redis", pong, 30, p), "redis-entrypoint.sh: Redis with the rendered ACL")
        if ok:
            r = subprocess.run(["redis-cli", "-p", str(port), "GET", "gr:orgs"], capture_output=True,
                               text=True)
            c.ok("NOAUTH" in r.stdout + r.stderr, "redis-entrypoint.sh: no AUTH, no access")
        return ok

    def make_etc(self, c):
        os.makedirs(self.etc)
        with open(os.path.join(self.etc, "secret.key"), "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
        # As docs/operations.md makes it: openssl rand -hex 32.
        with open(os.path.join(self.etc, "signing-master.key"), "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        r = subprocess.run([self.b.gen_certs, os.path.join(self.etc, "tls")], capture_output=True,
                           text=True, timeout=120)
        c.ok(r.returncode == 0, f"scripts/gen-certs.sh: {r.stderr.strip()[:300]}")
        for n in ["ca"] + ALL + ["reportctl"]:
            ext = ["pem"] if n == "ca" else ["pem", "key"]
            for e in ext:
                c.ok(os.path.exists(os.path.join(self.etc, "tls", f"{n}.{e}")),
                     f"gen-certs.sh made tls/{n}.{e}")

    def credentials(self, c, name, unit):
        """The unit's LoadCredential= files, copied like systemd does."""
        d = os.path.join(self.tmp, "credentials", name)
        os.makedirs(d)
        for spec in unit_get(unit, "LoadCredential"):
            cred, src = spec.split(":", 1)
            local = os.path.join(self.etc, os.path.relpath(src, "/etc/govreport"))
            if c.ok(os.path.exists(local), f"{name}: LoadCredential source {src} exists"):
                shutil.copy(local, os.path.join(d, cred))
                os.chmod(os.path.join(d, cred), 0o400)
        return d

    def environment(self, c, name):
        """The unit's EnvironmentFile, from the example with this run's values."""
        env = parse_env_file(os.path.join(self.root, "deploy", "systemd", f"{name}.env.example"))
        self.ports[name] = free_port()
        env["GOVREPORT_LISTEN"] = f"127.0.0.1:{self.ports[name]}"
        if c.ok("GOVREPORT_METRICS_LISTEN" in env,
                f"{name}.env.example: GOVREPORT_METRICS_LISTEN (/metrics)"):
            self.metrics_ports[name] = free_port()
            env["GOVREPORT_METRICS_LISTEN"] = f"127.0.0.1:{self.metrics_ports[name]}"
        if "GOVREPORT_REDIS_URL" in env:
            env["GOVREPORT_REDIS_URL"] = (
                f"redis://{name}:{self.passwords[name]}@127.0.0.1:{self.redis_port}")
        if "GOVREPORT_ADMIN_TOKEN" in env:
            env["GOVREPORT_ADMIN_TOKEN"] = self.admin_token
        for peer in SERVERS:
            var = f"GOVREPORT_{peer.upper()}"
            if var in env:
                c.ok(peer in self.ports, f"{name}: {peer} starts first (ordering of the units)")
                env[var] = f"127.0.0.1:{self.ports.get(peer, 1)}"
        path = os.path.join(self.tmp, f"{name}.env")
        with open(path, "w") as f:
            f.write("".join(f"{k}={v}\n" for k, v in env.items()))
        return env

    def argv(self, c, name, unit, creds):
        argv = exec_argv(unit)
        argv[0] = self.b.binary(name)
        out = [argv[0]]
        for a in argv[1:]:
            if "%" in a.replace("%d", "").replace("%%", ""):
                c.ok(False, f"{name}: ExecStart uses a specifier this check does not know: {a}")
            out.append(a.replace("%d", creds).replace("%%", "%"))
        return out

    def start(self, c, name):
        unit = parse_unit(os.path.join(self.root, "deploy", "systemd", f"govreport-{name}.service"))
        creds = self.credentials(c, name, unit)
        env = self.environment(c, name)
        argv = self.argv(c, name, unit, creds)
        base = {"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": creds, "LANG": "C.UTF-8"}
        out = open(os.path.join(self.tmp, f"{name}.out"), "w")
        err = open(os.path.join(self.tmp, f"{name}.err"), "w")
        print(f"  start {name}: {' '.join(argv)}", flush=True)
        p = subprocess.Popen(argv, env={**base, **env}, stdout=out, stderr=err, cwd="/")
        self.procs.append((name, p))
        outfile = os.path.join(self.tmp, f"{name}.out")

        def up():
            if "listening on port" in open(outfile).read():
                return True
            # The gateway need not print the line: its port answering will do.
            return name == "gateway" and port_open(self.ports[name])

        if not c.ok(wait_for(f"{name} listening", up, 60, p),
                    f"{name} started from its unit's command line"):
            print(open(os.path.join(self.tmp, f"{name}.err")).read()[-2000:])
            return None
        m = re.search(r"listening on port (\d+)", open(outfile).read())
        c.ok(port_open(self.ports[name]) and (m is None or int(m.group(1)) == self.ports[name]),
             f"{name}: listens on GOVREPORT_LISTEN's port")
        return unit, env, creds, p

    def probe_env(self, creds, port, with_cert=True):
        """The probe's environment: the CA, and the unit's certificate as the
        client certificate unless with_cert is false."""
        env = {"PATH": "/usr/bin:/bin", "GOVREPORT_LISTEN": f"127.0.0.1:{port}",
               "GOVREPORT_TLS_CA": os.path.join(creds, "ca.pem")}
        if with_cert:
            env["GOVREPORT_TLS_CERT"] = os.path.join(creds, "tls.pem")
            env["GOVREPORT_TLS_KEY"] = os.path.join(creds, "tls.key")
        return env

    def probe(self, args, env):
        probe = os.path.join(self.root, "deploy", "docker", "govreport-health")
        return subprocess.run([sys.executable, probe] + args, env=env, capture_output=True,
                              text=True, timeout=30)

    def check_grpc(self, c, name, creds):
        port = self.ports[name]
        env = self.probe_env(creds, port)
        serving = wait_for(f"{name} SERVING", lambda: self.probe([], env).returncode == 0, 30)
        c.ok(serving, f"{name}: health SERVING through govreport-health over mTLS")
        c.ok(self.probe(["--live"], env).returncode == 0, f"{name}: govreport-health --live")
        # Exit 2 is also argparse's: the refusal must say UNAVAILABLE.
        plain = self.probe(["--tls-ca=", "--tls-cert=", "--tls-key="], env)
        c.ok(plain.returncode == 2 and ": UNAVAILABLE: " in plain.stdout,
             f"{name}: a plaintext client gets UNAVAILABLE "
             f"({plain.returncode}: {(plain.stdout + plain.stderr).strip()[:200]})")
        no_cert = self.probe(["--tls-cert=", "--tls-key="], env)
        c.ok(no_cert.returncode == 2 and ": UNAVAILABLE: " in no_cert.stdout,
             f"{name}: a TLS client without a certificate gets UNAVAILABLE (mTLS) "
             f"({no_cert.returncode}: {(no_cert.stdout + no_cert.stderr).strip()[:200]})")

    def check_metrics(self, c, name):
        if name not in self.metrics_ports:
            return
        url = f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = r.read().decode()
                c.ok(r.status == 200 and "# TYPE" in body, f"{name}: {url} serves Prometheus text")
        except (urllib.error.URLError, OSError) as e:
            c.ok(False, f"{name}: {url}: {e}")

    def check_gateway(self, c, creds):
        port = self.ports["gateway"]
        # Clients of the gateway bring a token, not a certificate.
        env = self.probe_env(creds, port, with_cert=False)
        for path, what in [("/healthz", "up"), ("/readyz", "every backend SERVING")]:
            up = wait_for(f"gateway {path}",
                          lambda: self.probe(["--http", path], env).returncode == 0, 30)
            c.ok(up, f"gateway: {path} ({what}) through govreport-health --http over HTTPS")
        c.ok(self.probe(["--http"], env).returncode == 0, "gateway: govreport-health --http")
        ctx = ssl.create_default_context(cafile=os.path.join(creds, "ca.pem"))
        base = f"https://127.0.0.1:{port}"
        try:
            with urllib.request.urlopen(f"{base}/openapi.json", context=ctx, timeout=10) as r:
                spec = json.load(r)
        except (urllib.error.URLError, OSError, ValueError) as e:
            c.ok(False, f"gateway: GET /openapi.json: {e}")
            return
        # ListOrgs: a plain unary read, 200 for the operator's token.
        route = "/v1/orgs"
        if not c.ok("get" in spec.get("paths", {}).get(route, {}),
                    f"gateway: the OpenAPI document has GET {route}"):
            return
        req = urllib.request.Request(f"{base}{route}",
                                     headers={"Authorization": f"Bearer {self.admin_token}"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                code, body = r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            code, body = e.code, e.read().decode(errors="replace")
        except OSError as e:
            code, body = "no answer", str(e)
        c.ok(code == 200, f"gateway: GET {route} with the operator's token answers 200 from "
             f"records ({code} {body[:200]})")

    def stop(self, c, name, unit, p):
        limit = seconds(unit_get(unit, "TimeoutStopSec")[0])
        p.send_signal(signal.SIGTERM)
        try:
            code = p.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            code = "still running"
        c.ok(code == 0, f"{name}: SIGTERM ends it with 0 within TimeoutStopSec={limit}s ({code})")


def run_units(root, build):
    c = Checks()
    with tempfile.TemporaryDirectory(prefix="govreport-deploy-") as tmp:
        s = Suite(root, build, tmp)
        for name in ALL:
            c.ok(s.b.binary(name) is not None, f"built binary {name}")
        c.ok(os.access(s.b.gen_certs, os.X_OK), "scripts/gen-certs.sh exists")
        if c.failed:
            return c.finish("deploy.run")
        try:
            if not s.start_redis(c):
                return c.finish("deploy.run")
            s.make_etc(c)
            started = []
            for name in ALL:
                r = s.start(c, name)
                if r is None:
                    break
                started.append((name, r))
                if name == "gateway":
                    s.check_gateway(c, r[2])
                else:
                    s.check_grpc(c, name, r[2])
                s.check_metrics(c, name)
            for name, (unit, _, _, p) in reversed(started):
                s.stop(c, name, unit, p)
        finally:
            s.stop_all()
    return c.finish("deploy.run")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("static", "run"):
        print(__doc__)
        return 2
    root, build = os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    return run_static(root, build) if sys.argv[1] == "static" else run_units(root, build)


if __name__ == "__main__":
    sys.exit(main())
