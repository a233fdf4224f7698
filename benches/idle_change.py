"""Idle-change latency and a 40-at-once burst, against moto on loopback.

    python3 benches/idle_change.py [BINARY]    # default target/release/throttle-bot

Needs a Python that can import moto and boto3 (the tests' venv: target/tmp/moto-venv/bin/python,
made by the first `cargo test`). Prints, from one run on this machine:
- the floor: the two management calls a change needs (GetStage + UpdateStage), made directly
  with boto3 against the same moto;
- an idle change as a user feels it: POST of a signed `/throttle <id> test <rate> <burst>` to its
  final message on the response_url, 20 changes one after another, p50 and max, and p50 / floor;
- 40 changes at once on 40 stages: how many landed, and how long the last one took.
Every AWS credential in the environment is replaced: nothing here can reach real AWS.
"""
import hashlib
import hmac
import http.server
import logging
import os
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
from moto.server import ThreadedMotoServer

SECRET = "bench-signing-secret"
CHANGES = 20
BURST = 40


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replies(http.server.BaseHTTPRequestHandler):
    arrived = {}
    cond = threading.Condition()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with Replies.cond:
            Replies.arrived[self.path] = (time.perf_counter(), body)
            Replies.cond.notify_all()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def wait_for(paths, timeout=60):
    deadline = time.time() + timeout
    with Replies.cond:
        while not all(p in Replies.arrived for p in paths):
            left = deadline - time.time()
            if left <= 0:
                raise SystemExit(f"no final message for {[p for p in paths if p not in Replies.arrived]}")
            Replies.cond.wait(left)
        return [Replies.arrived[p] for p in paths]


def signed(port, reply_port, text, path):
    body = urllib.parse.urlencode({
        "token": "x", "team_id": "T1DC2JH3J", "channel_id": "C0123ABC", "user_id": "U2CERLKJA",
        "command": "/throttle", "text": text,
        "response_url": f"http://127.0.0.1:{reply_port}{path}",
    }).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/commands", data=body, method="POST",
        headers={"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + mac.hexdigest(),
                 "Content-Type": "application/x-www-form-urlencoded"})
    return request


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/throttle-bot"
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{moto.get_host_and_port()[1]}"
    aws = boto3.client("apigateway", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
    api = aws.create_rest_api(name="bench")["id"]
    root = aws.get_resources(restApiId=api)["items"][0]["id"]
    aws.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    aws.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    deployment = aws.create_deployment(restApiId=api)["id"]
    stages = ["test"] + [f"s{i}" for i in range(BURST)]
    for stage in stages:
        aws.create_stage(restApiId=api, stageName=stage, deploymentId=deployment)

    # The floor: what a change needs from AWS, called directly.
    floor = []
    for i in range(CHANGES):
        started = time.perf_counter()
        aws.get_stage(restApiId=api, stageName="test")
        aws.update_stage(restApiId=api, stageName="test", patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(60 + i)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(120 + i)}])
        floor.append((time.perf_counter() - started) * 1000)

    reply_port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", reply_port), Replies)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    port = free_port()
    home = tempfile.mkdtemp()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home,
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_EC2_METADATA_DISABLED": "true", "SWEEP_APIS": "none",
           "SLACK_SIGNING_SECRET": SECRET, "LISTEN_ADDR": f"127.0.0.1:{port}",
           "THROTTLE_POLICY": "allow-all", "INSECURE_TEST_HOSTS": "127.0.0.1", "RUST_LOG": "warn"}
    service = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        # Warm up: the first change resolves the AWS setup and reads the account's quota.
        urllib.request.urlopen(signed(port, reply_port, f"{api} test 10 20", "/warm")).read()
        wait_for(["/warm"])

        idle = []
        for i in range(CHANGES):
            path = f"/idle{i}"
            started = time.perf_counter()
            urllib.request.urlopen(signed(port, reply_port, f"{api} test {50 + i} {100 + i}", path)).read()
            (arrived, body), = wait_for([path])
            if b"changed throttling" not in body:
                raise SystemExit(f"change {i} did not apply: {body[:300]!r}")
            idle.append((arrived - started) * 1000)
            time.sleep(0.3)  # quiet between changes: each one finds the service idle

        paths = [f"/burst{i}" for i in range(BURST)]
        started = time.perf_counter()
        threads = [threading.Thread(target=lambda i=i: urllib.request.urlopen(
            signed(port, reply_port, f"{api} s{i} 7 14", paths[i])).read()) for i in range(BURST)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results = wait_for(paths, timeout=120)
        landed = sum(1 for _, body in results if b"changed throttling" in body)
        last = max(arrived for arrived, _ in results) - started
    finally:
        service.terminate()
        service.wait()
        server.shutdown()
        moto.stop()

    floor_p50 = statistics.median(floor)
    idle_p50 = statistics.median(idle)
    print(f"floor (GetStage + UpdateStage, boto3): p50 {floor_p50:.1f} ms")
    print(f"idle change, POST to final message:   p50 {idle_p50:.1f} ms, max {max(idle):.1f} ms"
          f" = {idle_p50 / floor_p50:.2f}x the floor (target <= 1.3x)")
    print(f"{BURST} changes at once: {landed}/{BURST} landed, the last after {last * 1000:.0f} ms")


if __name__ == "__main__":
    main()
