"""Cluster end-to-end check (scripts/cluster-e2e.sh runs it): Redis, three
gateway nodes, HAProxy built from deploy/haproxy.cfg, Prometheus built from
deploy/prometheus.yml with dashboards/alerts.yml loaded; a mixed workload
through the balancer; every dashboard panel's query proven against live
metrics through Prometheus's HTTP API; promtool on the alert rules; a node
stopped behind the balancer with no request lost. The long form also renders
the dashboard's panels from the same queries into a PNG.

Standard library only (the PNG needs matplotlib, installed by the long form
into a virtual environment of its own). Exits non-zero with a reason on any
failure; every process it started is stopped on the way out.
"""

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ADMIN_KEY = "e2e-admin-key"
TEAM_A, TEAM_B = "gw-e2e-team-a", "gw-e2e-team-b"
MODEL = "mock-chat"
# Paraphrase pairs the shipped verifier accepts with a wide margin
# (verifier.json's reference scores); filled on one node, asked on others.
PARAPHRASES = [
    ("How do I reset my password?", "how can I reset my password"),
    ("What is the capital of Australia?", "what's the capital city of australia"),
    ("Give me a recipe for chocolate chip cookies.", "Can you give me a chocolate chip cookie recipe?"),
]


class Failed(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def chat(base, key, content, stream=False, extra=None):
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}], "stream": stream}
    headers = {"authorization": f"Bearer {key}"}
    headers.update(extra or {})
    status, head, raw = http("POST", f"{base}/v1/chat/completions", body, headers)
    head = {k.lower(): v for k, v in head.items()}
    return status, head.get("x-gateway-cache", ""), raw


def wait_for(what, check, deadline_s):
    """Polls `check` (returns a truthy value when done) until the deadline."""
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        try:
            got = check()
            if got:
                return got
        except (OSError, urllib.error.URLError, ValueError) as e:
            last = e
        time.sleep(0.25)
    raise Failed(f"timed out after {deadline_s} s waiting for {what}" + (f" (last error: {last})" if last else ""))


class Cluster:
    def __init__(self, args, tmp):
        self.args, self.tmp, self.procs = args, tmp, []

    def spawn(self, name, cmd, env=None):
        log = open(os.path.join(self.tmp, f"{name}.log"), "wb")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                             env={**os.environ, **(env or {})}, start_new_session=True)
        self.procs.append((name, p))
        return p

    def stop_all(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

    def log_tail(self, name, lines=30):
        try:
            with open(os.path.join(self.tmp, f"{name}.log"), "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""


def gateway_config(mock_port, redis_port):
    return f"""
[server]
shutdown_grace_secs = 5

[[upstreams]]
name = "mock"
base_url = "http://127.0.0.1:{mock_port}/v1"
api_keys = []

[[tenants]]
name = "team-a"
api_keys = ["{TEAM_A}"]

[[tenants]]
name = "team-b"
api_keys = ["{TEAM_B}"]
[tenants.limits]
requests_per_minute = 60
request_burst = 3

[rate_limit]
nodes = 3

[redis]
url = "redis://127.0.0.1:{redis_port}/0"
timeout_ms = 500

[semantic]
# Every semantic hit is also asked upstream in the background, so the audit
# panel has data (an operator would sample a few percent).
audit_sample = 1.0

[cluster]
read_block_ms = 200
snapshot_interval_secs = 0

[admin]
key = "{ADMIN_KEY}"

[prices."mock-*"]
input = 1.0
output = 2.0
"""


def haproxy_config(port, nodes):
    """deploy/haproxy.cfg with this run's frontend port and servers."""
    with open(os.path.join(ROOT, "deploy", "haproxy.cfg")) as f:
        text = f.read()
    text = text.replace("bind *:8080", f"bind 127.0.0.1:{port}")
    text = re.sub(r"^\s*server gw-.*\n", "", text, flags=re.M)
    text = text.replace("inter 2s", "inter 500ms").replace("slowstart 10s", "slowstart 1s")
    # The production maxconn needs a file-descriptor limit raised by its
    # service manager; a test run keeps within the shell's.
    text = re.sub(r"maxconn \d+", "maxconn 2000", text)
    if "option httpchk GET /readyz" not in text:
        raise Failed("deploy/haproxy.cfg no longer health-checks /readyz")
    text += "".join(f"    server gw-{i + 1} 127.0.0.1:{p} check\n" for i, p in enumerate(nodes))
    return text


def prometheus_config(nodes):
    """deploy/prometheus.yml with this run's targets, a 1 s scrape and the
    repository's alert rules."""
    with open(os.path.join(ROOT, "deploy", "prometheus.yml")) as f:
        text = f.read()
    alerts = os.path.join(ROOT, "dashboards", "alerts.yml")
    text = text.replace("/etc/prometheus/g-aigateway-alerts.yml", alerts)
    text = text.replace("scrape_interval: 15s", "scrape_interval: 1s").replace("evaluation_interval: 15s",
                                                                                  "evaluation_interval: 1s")
    targets = ", ".join(f'"127.0.0.1:{p}"' for p in nodes)
    text, n = re.subn(r"targets: \[.*\]", f"targets: [{targets}]", text)
    if n != 1 or alerts not in text:
        raise Failed("deploy/prometheus.yml changed shape: no single targets list or rule file to fill in")
    return text


def metric_sum(base, name):
    _, _, raw = http("GET", f"{base}/metrics")
    total = 0.0
    for line in raw.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def panel_queries(interval):
    with open(os.path.join(ROOT, "dashboards", "g-aigateway.json")) as f:
        board = json.load(f)
    out = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$node", ".*").replace("$__rate_interval", interval)
            out.append((panel["title"], target.get("legendFormat", ""), expr))
    return out


def prom_query(prom, expr, at=None):
    q = {"query": expr}
    if at:
        q["time"] = str(at)
    status, _, raw = http("GET", f"{prom}/api/v1/query?" + urllib.parse.urlencode(q))
    body = json.loads(raw)
    if status != 200 or body.get("status") != "success":
        raise Failed(f"Prometheus rejected {expr!r}: {body.get('error', raw[:200])}")
    return body["data"]["result"]


def finite(result):
    return [r for r in result if math.isfinite(float(r["value"][1]))]


def workload(lb, nodes, quick):
    """A mixed workload; returns what it saw, asserting what must hold."""
    seen = {"requests": 0}

    def count(status, want=200):
        seen["requests"] += 1
        if status != want:
            raise Failed(f"expected {want}, got {status}")

    distinct = 8 if quick else 60
    # Exact repeats through the balancer: the second round is a hit on
    # whichever node answers (process memory or the shared Redis L1).
    for round_ in range(2):
        for i in range(distinct):
            status, cache, _ = chat(lb, TEAM_A, f"e2e question number {i}: what is {i} squared?")
            count(status)
            if round_ == 1 and not cache.startswith("hit"):
                raise Failed(f"repeat {i} through the balancer was not a cache hit ({cache!r})")

    # Paraphrases: filled on node 1, answered by nodes 2 and 3 once the
    # cluster log delivered the vectors.
    applied = [metric_sum(n, "gateway_cluster_entries_applied_total") for n in nodes[1:]]
    for cached, _ in PARAPHRASES:
        status, cache, _ = chat(nodes[0], TEAM_A, cached)
        count(status)
        if cache != "miss":
            raise Failed(f"{cached!r} was not a fresh miss on node 1 ({cache!r})")
    for node, before in zip(nodes[1:], applied):
        wait_for("the fills to reach the other nodes",
                 lambda: metric_sum(node, "gateway_cluster_entries_applied_total") >= before + len(PARAPHRASES), 30)
    for i, (_, asked) in enumerate(PARAPHRASES):
        node = nodes[1 + i % 2]
        status, cache, _ = chat(node, TEAM_A, asked)
        count(status)
        if cache != "hit-l2":
            raise Failed(f"paraphrase {asked!r} on node {2 + i % 2} was {cache!r}, not a semantic hit")

    # Streams through the balancer, then again (served from the cache), and
    # one the upstream cuts: the client gets an error event, the log a line.
    streams = 4 if quick else 30
    for round_ in range(2):
        for i in range(streams):
            status, cache, raw = chat(lb, TEAM_A, f"e2e stream {i}: tell me about the number {i}", stream=True)
            count(status)
            if b"data: [DONE]" not in raw:
                raise Failed(f"stream {i} did not finish")
            if round_ == 1 and not cache.startswith("hit"):
                raise Failed(f"repeated stream {i} was not a cache hit ({cache!r})")
    status, _, raw = chat(lb, TEAM_A, "e2e stream that the upstream cuts", stream=True, extra={"x-mock-fault": "cut:3"})
    count(status)

    # Upstream failures: retried, then a 5xx in OpenAI's error shape.
    for i in range(3 if quick else 10):
        status, _, raw = chat(lb, TEAM_A, f"e2e failing request {i}", extra={"x-mock-fault": "503"})
        seen["requests"] += 1
        if status < 500 or "error" not in json.loads(raw):
            raise Failed(f"an upstream 503 came back as {status}: {raw[:200]!r}")

    # Rate limits: team-b's burst is 3 requests.
    refused = 0
    for i in range(8):
        status, _, _ = chat(lb, TEAM_B, f"e2e team b {i}")
        seen["requests"] += 1
        refused += status == 429
    if refused == 0:
        raise Failed("team-b was never rate limited past its burst")
    seen["rate_limited"] = refused

    for node in nodes:
        status, _, raw = http("POST", f"{node}/admin/snapshot", {}, {"authorization": f"Bearer {ADMIN_KEY}"})
        if status != 200:
            raise Failed(f"snapshot on {node}: {status} {raw[:200]!r}")
    return seen


def check_dashboard(prom, deadline_s):
    """Every panel query returns at least one finite value, polled until the
    scrapes after the workload are in."""
    queries = panel_queries("2m")
    pending = list(queries)
    end = time.monotonic() + deadline_s
    while pending and time.monotonic() < end:
        pending = [q for q in pending if not finite(prom_query(prom, q[2]))]
        if pending:
            time.sleep(1)
    if pending:
        lines = "\n".join(f"  {title}: {expr}" for title, _, expr in pending)
        raise Failed(f"{len(pending)} of {len(queries)} dashboard queries returned no data:\n{lines}")
    print(f"dashboard: all {len(queries)} panel queries return data")
    return queries


def check_rules(prom, promtool):
    alerts = os.path.join(ROOT, "dashboards", "alerts.yml")
    out = subprocess.run([promtool, "check", "rules", alerts], capture_output=True, text=True)
    if out.returncode != 0:
        raise Failed(f"promtool check rules failed:\n{out.stdout}{out.stderr}")
    status, _, raw = http("GET", f"{prom}/api/v1/rules")
    groups = json.loads(raw)["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    bad = [r["name"] for r in rules if r.get("health") not in ("ok", "unknown")]
    if not rules or bad:
        raise Failed(f"Prometheus loaded {len(rules)} alert rules; unhealthy: {bad}")
    wait_for("every alert rule to be evaluated",
             lambda: all(r.get("health") == "ok" for g in json.loads(http("GET", f"{prom}/api/v1/rules")[2])["data"]["groups"]
                         for r in g["rules"]), 30)
    print(f"alerts: promtool passes; Prometheus evaluates all {len(rules)} rules")


def failover(cluster, lb, node_procs, quick):
    """Stops node 3 behind the balancer: no request through it fails."""
    name, proc = node_procs[2]
    proc.send_signal(signal.SIGTERM)
    lost = []
    for i in range(10 if quick else 40):
        status, _, raw = chat(lb, TEAM_A, f"e2e after node 3 stopped {i}")
        if status != 200:
            lost.append((status, raw[:120]))
    if proc.wait(timeout=30) != 0:
        raise Failed(f"node 3 did not drain cleanly:\n{cluster.log_tail(name)}")
    if lost:
        raise Failed(f"{len(lost)} requests failed while node 3 stopped: {lost[:3]}")
    print("failover: node 3 stopped (SIGTERM) behind the balancer, no request failed")


def render_png(prom, queries, start, end, path):
    venv = os.path.join(ROOT, "target", "e2e-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check",
                        "matplotlib>=3.8"], check=True)
    step = max(1, int((end - start) / 200))
    series = []
    for title, legend, expr in queries:
        q = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
        body = json.loads(http("GET", f"{prom}/api/v1/query_range?{q}")[2])
        series.append({"title": title, "expr": expr, "result": body["data"]["result"]})
    data = os.path.join(os.path.dirname(os.path.abspath(path)) or ".", ".dashboard-data.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(data, "w") as f:
        json.dump({"start": start, "series": series}, f)
    subprocess.run([py, os.path.join(ROOT, "tools", "cluster-e2e", "render.py"), data, path], check=True)
    os.remove(data)
    print(f"rendered the dashboard's panels from this run into {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--haproxy", required=True)
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--promtool", required=True)
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--png")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="g-aigateway-e2e-")
    cluster = Cluster(args, tmp)
    started = time.time()
    try:
        redis_port, mock_port, lb_port, prom_port = free_port(), free_port(), free_port(), free_port()
        node_ports = [free_port() for _ in range(3)]
        cluster.spawn("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"])
        cluster.spawn("mock", [os.path.join(args.bin, "mock-upstream"), "--listen", f"127.0.0.1:{mock_port}",
                               "--chunk-delay-ms", "2"])
        config = os.path.join(tmp, "gateway.toml")
        with open(config, "w") as f:
            f.write(gateway_config(mock_port, redis_port))
        node_procs = []
        for i, port in enumerate(node_ports):
            name = f"node-{i + 1}"
            env = {"GATEWAY_LISTEN": f"127.0.0.1:{port}", "GATEWAY_NODE_ID": f"gw-{i + 1}",
                   "GATEWAY_SNAPSHOT_DIR": os.path.join(tmp, f"snapshots-{i + 1}"), "GATEWAY_LOG": "info"}
            node_procs.append((name, cluster.spawn(name, [os.path.join(args.bin, "g-aigateway"), "--config", config],
                                                   env)))
        nodes = [f"http://127.0.0.1:{p}" for p in node_ports]
        for (name, proc), node in zip(node_procs, nodes):
            def ready(node=node, proc=proc, name=name):
                if proc.poll() is not None:
                    raise Failed(f"{name} exited:\n{cluster.log_tail(name)}")
                return http("GET", f"{node}/readyz", timeout=2)[0] == 200
            wait_for(f"{name} to be ready", ready, 300)

        haproxy_cfg = os.path.join(tmp, "haproxy.cfg")
        with open(haproxy_cfg, "w") as f:
            f.write(haproxy_config(lb_port, node_ports))
        check = subprocess.run([args.haproxy, "-c", "-f", haproxy_cfg], capture_output=True, text=True)
        if check.returncode != 0:
            raise Failed(f"haproxy rejects deploy/haproxy.cfg:\n{check.stdout}{check.stderr}")
        cluster.spawn("haproxy", [args.haproxy, "-db", "-f", haproxy_cfg])
        prom_cfg = os.path.join(tmp, "prometheus.yml")
        with open(prom_cfg, "w") as f:
            f.write(prometheus_config(node_ports))
        check = subprocess.run([args.promtool, "check", "config", prom_cfg], capture_output=True, text=True)
        if check.returncode != 0:
            raise Failed(f"promtool rejects deploy/prometheus.yml:\n{check.stdout}{check.stderr}")
        cluster.spawn("prometheus", [args.prometheus, f"--config.file={prom_cfg}",
                                     f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                                     f"--web.listen-address=127.0.0.1:{prom_port}"])
        lb, prom = f"http://127.0.0.1:{lb_port}", f"http://127.0.0.1:{prom_port}"
        wait_for("HAProxy to see the nodes", lambda: http("GET", f"{lb}/readyz", timeout=2)[0] == 200, 60)
        wait_for("Prometheus to be ready", lambda: http("GET", f"{prom}/-/ready", timeout=2)[0] == 200, 60)
        wait_for("Prometheus to scrape all three nodes",
                 lambda: len([r for r in prom_query(prom, 'up{job="g-aigateway"} == 1')]) == 3, 60)

        load_start = time.time()
        seen = workload(lb, nodes, args.short)
        print(f"workload: {seen['requests']} requests through the balancer and the nodes, "
              f"{seen['rate_limited']} rate limited as configured")
        wait_for("requests to show on all three nodes", lambda: len(prom_query(
            prom, 'sum by (instance) (gateway_requests_total{route="chat_completions"}) > 0')) == 3 or None, 30)
        print("balancer: chat requests served by all three nodes")
        queries = check_dashboard(prom, 90)
        check_rules(prom, args.promtool)
        if args.png:
            render_png(prom, queries, load_start - 10, time.time(), args.png)
        failover(cluster, lb, node_procs, args.short)
        print(f"cluster end-to-end: passed in {time.time() - started:.0f} s")
        return 0
    except Failed as e:
        print(f"cluster end-to-end FAILED: {e}", file=sys.stderr)
        for name, _ in cluster.procs:
            if name.startswith("node"):
                print(f"--- {name} (last lines)\n{cluster.log_tail(name, 15)}", file=sys.stderr)
        return 1
    finally:
        cluster.stop_all()
        if os.environ.get("KEEP_E2E_TMP"):
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
