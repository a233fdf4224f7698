"""The sweep at fleet scale: AWS calls per sweep and sweep duration, the listing path beside the
tagging path, against moto on loopback (one replica: a second one stops once it finds the
first's lease renewed, see docs/deploy.md).

    python3 benches/sweep_scale.py [BINARY]    # default target/release/throttle-bot

Needs a Python that can import moto and boto3 (the tests' venv: target/tmp/moto-venv/bin/python,
made by the first `cargo test`). Starts moto with the tests' stand-ins (tests/support/
moto_server.py, which adds the Resource Groups Tagging API's GetResources for API Gateway), and a
counting proxy in front of it; every replica gets its own access key, so the proxy can tell
whose calls it forwards. Two targets: home (us-east-1) and `eu` (eu-west-1, same account),
each with 500 REST APIs, 100 HTTP APIs and 25 usage plans (1,000, 200 and 50 in all), and 5
timed changes in force (3 REST stages, 1 HTTP stage, 1 usage plan, in both targets).

Prints, per path and replica count: management (API Gateway) and tagging calls per sweep round,
and each target's sweep duration (from the service's own "swept a target" lines); the goal,
calls per sweep <= 2 x targets + 2 x records; a burst of unknown names and the listings it cost;
and whether the 5 timed changes, made again for 45 s by a process then killed, all ended on time
under the replica that replaced it.

Every AWS credential and setting in the environment is replaced: nothing here can reach real
AWS. The sweep runs every SWEEP_EVERY seconds; the management pace is raised to PACE calls a
second so that the listing path's sweeps end within the bench (its durations at the default
pace of 5 a second are printed beside them, from its call counts).
"""
import concurrent.futures
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "bench-signing-secret"
REGIONS = {"home": "us-east-1", "eu": "eu-west-1"}
REST_PER_TARGET, HTTP_PER_TARGET, PLANS_PER_TARGET = 500, 100, 25
SWEEP_EVERY = 5
PACE = 100
HOLD_LONG, HOLD_SHORT = "1h", 45
DEFAULT_PACE = 5.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the counting proxy -------------------------------------------------------------------------

class Counts:
    lock = threading.Lock()
    calls = []  # (at, access key, kind, method, path)


def kind_of(headers):
    target = headers.get("X-Amz-Target", "")
    return "tagging" if target.startswith("ResourceGroupsTaggingAPI") else "management"


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None

    def forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = re.search(r"Credential=([^/]+)/", self.headers.get("Authorization", ""))
        with Counts.lock:
            Counts.calls.append((time.monotonic(), match.group(1) if match else "",
                                 kind_of(self.headers), self.command, self.path.split("?")[0]))
        connection = http.client.HTTPConnection("127.0.0.1", Proxy.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        connection.request(self.command, self.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        connection.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    def log_message(self, *args):
        pass


def calls_between(start, end, keys):
    with Counts.lock:
        picked = [c for c in Counts.calls if start <= c[0] < end and c[1] in keys]
    return (sum(1 for c in picked if c[2] == "management"),
            sum(1 for c in picked if c[2] == "tagging"), picked)


# --- Slack's side: replies and the audit webhook ------------------------------------------------

class Quiet(http.server.ThreadingHTTPServer):
    """A killed service's dropped connections are no news."""

    def handle_error(self, request, client_address):
        pass


class Slack(http.server.BaseHTTPRequestHandler):
    arrived = {}
    cond = threading.Condition()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with Slack.cond:
            Slack.arrived.setdefault(self.path, []).append(body)
            Slack.cond.notify_all()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def wait_reply(path, timeout=120):
    deadline = time.time() + timeout
    with Slack.cond:
        while not Slack.arrived.get(path):
            left = deadline - time.time()
            if left <= 0:
                raise SystemExit(f"no reply at {path}")
            Slack.cond.wait(left)
        return Slack.arrived[path][-1]


def signed(port, slack_port, text, path):
    body = urllib.parse.urlencode({
        "token": "x", "team_id": "T1DC2JH3J", "channel_id": "C0123ABC", "user_id": "U2CERLKJA",
        "command": "/throttle", "text": text,
        "response_url": f"http://127.0.0.1:{slack_port}{path}",
    }).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/commands", data=body, method="POST",
        headers={"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + mac.hexdigest(),
                 "Content-Type": "application/x-www-form-urlencoded"})


# --- the service --------------------------------------------------------------------------------

class Service:
    def __init__(self, binary, endpoint, slack_port, key, sweep, extra=None):
        self.port = free_port()
        self.home = tempfile.mkdtemp()
        # A cleared environment: nothing of the caller's AWS setup (keys, profile, ~/.aws)
        # reaches the service, so it can only ever talk to moto.
        env = {"PATH": os.environ.get("PATH", ""), "HOME": self.home,
               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
               "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGIONS["home"],
               "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_EC2_METADATA_DISABLED": "true", "SWEEP_APIS": sweep,
               "SWEEP_INTERVAL_SECS": str(SWEEP_EVERY), "AWS_CALLS_PER_SECOND": str(PACE),
               "AWS_CALLS_BURST": "40", "PLAN_CALLS_INTERVAL_SECS": "1",
               "THROTTLE_TARGETS_TOML": f'[[target]]\nalias = "eu"\nregion = "{REGIONS["eu"]}"\n',
               "SLACK_SIGNING_SECRET": SECRET, "LISTEN_ADDR": f"127.0.0.1:{self.port}",
               "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{slack_port}/webhook",
               "THROTTLE_POLICY": "allow-all", "INSECURE_TEST_HOSTS": "127.0.0.1",
               "CONFIRM_CUT_FRACTION": "1", "CONFIRM_BELOW_TRAFFIC": "false",
               "LOG_FORMAT": "json", "RUST_LOG": "info"}
        env.update(extra or {})
        self.key = key
        self.lines = []
        self.process = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the service did not start")

    def _read(self):
        for line in self.process.stderr:
            self.lines.append((time.monotonic(), line))

    def swept(self, since=0.0):
        found = []
        for at, line in list(self.lines):
            if at >= since and "swept a target" in line:
                found.append(json.loads(line))
        return found

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


# --- moto and its fleet -------------------------------------------------------------------------

def start_moto():
    python = sys.executable
    moto = subprocess.Popen([python, os.path.join(ROOT, "tests/support/moto_server.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    return moto, int(moto.stdout.readline())


def clients(endpoint, region):
    kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="setup",
              aws_secret_access_key="setup")
    return boto3.client("apigateway", **kw), boto3.client("apigatewayv2", **kw)


def rest_api(rest, name):
    api = rest.create_rest_api(name=name)["id"]
    root = rest.get_resources(restApiId=api)["items"][0]["id"]
    rest.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    rest.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    rest.create_deployment(restApiId=api, stageName="prod")
    return api


def build_fleet(endpoint):
    fleet = {}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for alias, region in REGIONS.items():
            rest, v2 = clients(endpoint, region)
            rests = list(pool.map(lambda i: rest_api(rest, f"{alias}-rest-{i}"), range(REST_PER_TARGET)))

            def http_api(i):
                api = v2.create_api(Name=f"{alias}-http-{i}", ProtocolType="HTTP")["ApiId"]
                v2.create_stage(ApiId=api, StageName="live")
                return api
            https = list(pool.map(http_api, range(HTTP_PER_TARGET)))
            plans = [rest.create_usage_plan(name=f"{alias}-plan-{i}")["id"]
                     for i in range(PLANS_PER_TARGET)]
            fleet[alias] = (rests, https, plans)
    return fleet


def timed_targets(fleet):
    """The 5 timed changes: command text (without duration) and where each record lives."""
    home_rest, home_http, _ = fleet["home"]
    eu_rest, _, eu_plans = fleet["eu"]
    return [
        (f"{home_rest[7]} prod 8 16", ("rest", "home", home_rest[7], "prod")),
        (f"{home_rest[301]} prod 8 16", ("rest", "home", home_rest[301], "prod")),
        (f"eu:{eu_rest[42]} prod 8 16", ("rest", "eu", eu_rest[42], "prod")),
        (f"{home_http[13]} live 8 16", ("http", "home", home_http[13], "live")),
        (f"plan eu:{eu_plans[3]} 5 10", ("plan", "eu", eu_plans[3], None)),
    ]


def record_tags(endpoint, where):
    kind, alias, ident, stage = where
    rest, v2 = clients(endpoint, REGIONS[alias])
    if kind == "rest":
        return rest.get_stage(restApiId=ident, stageName=stage).get("tags", {})
    if kind == "http":
        return v2.get_stage(ApiId=ident, StageName=stage).get("Tags", {})
    return rest.get_usage_plan(usagePlanId=ident).get("tags", {})


def make_timed_changes(binary, endpoint, slack_port, changes, hold, tag):
    maker = Service(binary, endpoint, slack_port, "bench-maker", "none")
    for i, (text, _) in enumerate(changes):
        path = f"/{tag}{i}"
        urllib.request.urlopen(signed(maker.port, slack_port, f"{text} for {hold}", path)).read()
        reply = wait_reply(path)
        if b"until" not in reply:
            raise SystemExit(f"`{text} for {hold}` was not made: {reply[:400]!r}")
    # Killed: its timers die with it, and only the sweep can end these.
    maker.kill()


# --- the measurements ---------------------------------------------------------------------------

def measure(label, replicas, rounds):
    """Calls per sweep round over `rounds` whole rounds of the replica that sweeps most (the
    first round, which takes the lease, left out): every replica's calls in that window, by
    budget, from the proxy; each target's median sweep duration and the records found, from the
    service's own lines."""
    start = time.monotonic()
    deadline = start + 900

    def per_target(replica):
        found = {}
        for at, line in list(replica.lines):
            if "swept a target" in line:
                entry = json.loads(line)
                found.setdefault(entry["target_alias"], []).append((at, entry))
        return found

    while True:
        done = [(min((len(v) for v in t.values()), default=0) if len(t) == len(REGIONS) else 0, r, t)
                for r in replicas for t in [per_target(r)]]
        best, reference, lines = max(done, key=lambda d: d[0])
        if best >= rounds + 1:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{label}: the sweeps did not come")
        time.sleep(0.2)
    # A round ends when its last target's sweep is logged.
    ends = [max(v[i][0] for v in lines.values()) for i in range(rounds + 1)]
    window = (ends[0], ends[rounds])
    management, tagging, _ = calls_between(*window, {r.key for r in replicas})
    sweeping = sum(1 for r in replicas if per_target(r))
    seconds = {alias: statistics.median(e["seconds"] for at, e in v if window[0] < at <= window[1])
               for alias, v in lines.items()}
    found = {alias: v[-1][1]["records"] for alias, v in lines.items()}
    return {
        "label": label, "replicas": len(replicas), "rounds": rounds, "sweeping": sweeping,
        "management_per_round": management / rounds, "tagging_per_round": tagging / rounds,
        "seconds": seconds, "records": found,
    }


def run_phase(binary, endpoint, slack_port, label, keys, rounds):
    replicas = [Service(binary, endpoint, slack_port, key, "all") for key in keys]
    try:
        return measure(label, replicas, rounds)
    finally:
        for r in replicas:
            r.kill()


def name_misses(binary, endpoint, slack_port):
    """A command naming an unknown API (which lists them all), then 10 naming 10 other unknown
    APIs one after another: the listing pages (GetRestApis, GetApis) each part cost."""
    service = Service(binary, endpoint, slack_port, "bench-names", "none")

    def pages(start, end):
        _, _, picked = calls_between(start, end, {"bench-names"})
        return (sum(1 for c in picked if c[4] == "/restapis"),
                sum(1 for c in picked if c[4] == "/v2/apis"))

    try:
        start = time.monotonic()
        urllib.request.urlopen(signed(service.port, slack_port, "no-such-api-0 prod 5 10", "/n0")).read()
        wait_reply("/n0")
        first_done = time.monotonic()
        for i in range(1, 11):
            urllib.request.urlopen(signed(service.port, slack_port, f"no-such-api-{i} prod 5 10", f"/n{i}")).read()
            wait_reply(f"/n{i}")
        end = time.monotonic()
        return pages(start, first_done), pages(first_done, end), end - first_done
    finally:
        service.kill()


def deadlines(binary, endpoint, slack_port, changes):
    """One tagging replica; the 5 changes made again for HOLD_SHORT s by a process then killed:
    when each record is gone, against its `until`."""
    replicas = [Service(binary, endpoint, slack_port, "bench-end", "all")]
    try:
        make_timed_changes(binary, endpoint, slack_port, changes, f"{HOLD_SHORT}s", "short")
        untils = {}
        for _, where in changes:
            tags = record_tags(endpoint, where)
            value = next(v for k, v in tags.items() if k.startswith("throttle-bot:")
                         and not k.startswith("throttle-bot:claim:") and k != "throttle-bot:records")
            untils[where] = int(re.search(r"until=(\d+)", value).group(1))
        ended = {}
        stop = max(untils.values()) + 60
        while len(ended) < len(changes) and time.time() < stop:
            for _, where in changes:
                if where in ended:
                    continue
                tags = record_tags(endpoint, where)
                if not any(k.startswith("throttle-bot:") and not k.startswith("throttle-bot:claim:")
                           for k in tags):
                    ended[where] = time.time()
            time.sleep(0.25)
        late = {where: ended[where] - untils[where] for where in ended}
        return late, len(changes)
    finally:
        for r in replicas:
            r.kill()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/throttle-bot")
    moto, moto_port = start_moto()
    Proxy.upstream = moto_port
    proxy_port = free_port()
    proxy = Quiet(("127.0.0.1", proxy_port), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    slack_port = free_port()
    slack = Quiet(("127.0.0.1", slack_port), Slack)
    threading.Thread(target=slack.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{proxy_port}"
    direct = f"http://127.0.0.1:{moto_port}"
    try:
        started = time.time()
        fleet = build_fleet(direct)
        print(f"fleet: {2 * REST_PER_TARGET} REST APIs, {2 * HTTP_PER_TARGET} HTTP APIs, "
              f"{2 * PLANS_PER_TARGET} usage plans in 2 targets (built in {time.time() - started:.0f} s)")
        changes = timed_targets(fleet)
        make_timed_changes(binary, endpoint, slack_port, changes, HOLD_LONG, "long")
        records = len(changes)
        goal = 2 * len(REGIONS) + 2 * records
        results = [
            run_phase(binary, endpoint, slack_port, "tagging", ["bench-t1"], 4),
            run_phase(binary, endpoint, slack_port, "listing", ["no-tagging-l1"], 2),
        ]
        first_miss, more_misses, misses_took = name_misses(binary, endpoint, slack_port)
        # The long changes end now (a person's `restore`), and are made again for 45 s.
        restorer = Service(binary, endpoint, slack_port, "bench-restorer", "none")
        for i, (text, where) in enumerate(changes):
            target = text.split()[1] if where[0] == "plan" else " ".join(text.split()[:2])
            command = f"restore plan {target}" if where[0] == "plan" else f"restore {target}"
            urllib.request.urlopen(signed(restorer.port, slack_port, command, f"/restore{i}")).read()
            wait_reply(f"/restore{i}")
        restorer.kill()
        late, made = deadlines(binary, endpoint, slack_port, changes)
    finally:
        proxy.shutdown()
        slack.shutdown()
        moto.stdin.close()
        moto.wait()

    print(f"sweep every {SWEEP_EVERY} s; management pace raised to {PACE}/s for the bench; "
          f"{records} timed changes in force; goal: calls per sweep <= 2 x 2 targets + 2 x {records} records = {goal}")
    print("| path | replicas (sweeping) | management calls per sweep | tagging calls per sweep | total | "
          "sweep duration per target (median) | at the default pace (5/s) | records found | within goal |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        total = r["management_per_round"] + r["tagging_per_round"]
        seconds = ", ".join(f"{a} {s:.2f} s" for a, s in sorted(r["seconds"].items()))
        paced = r["management_per_round"] / DEFAULT_PACE
        found = sum(r["records"].values())
        print(f"| {r['label']} | {r['replicas']} ({r['sweeping']}) | {r['management_per_round']:.1f} | "
              f"{r['tagging_per_round']:.1f} | {total:.1f} | {seconds} | >= {paced:.0f} s | {found} | "
              f"{'yes' if total <= goal else 'no'} |")
    print(f"name misses (home: {REST_PER_TARGET + HTTP_PER_TARGET} APIs): the first lists them "
          f"({first_miss[0]} GetRestApis + {first_miss[1]} GetApis pages); 10 other unknown names "
          f"one after another ({misses_took:.2f} s) then cost {more_misses[0]} + {more_misses[1]} "
          f"(before: one listing each)")
    on_time = [l for l in late.values() if l <= 5]
    worst = max(late.values()) if late else float("nan")
    print(f"timed changes made for {HOLD_SHORT} s by a process then killed, its replacement sweeping: "
          f"{len(late)}/{made} ended, {len(on_time)} within 5 s of their deadline "
          f"(latest {worst:+.1f} s)")


if __name__ == "__main__":
    main()
