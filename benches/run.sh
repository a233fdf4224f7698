#!/usr/bin/env bash
# Load benchmark of the acknowledgement path, on loopback only.
#
#   bash benches/run.sh            # builds the release binary; needs wrk (apt-get install wrk)
#                                  # or oha (cargo install oha)
#
# Measures requests/s for GET /healthz (bare axum) and for a signed `/throttle help`
# (signature check + parse + reply, no AWS), then the server's resident memory (VmRSS) and
# peak (VmHWM). Targets: ~65k and ~43k req/s on 2 cores, under 16 MiB resident.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v wrk >/dev/null; then tool=wrk
elif command -v oha >/dev/null; then tool=oha
else echo "wrk or oha is needed: apt-get install wrk, or cargo install oha" >&2; exit 2; fi
cargo build --release --locked --quiet
bin=target/release/throttle-bot

secret="bench-signing-secret"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# A cleared environment: a laptop's AWS keys, profile or ~/.aws must never reach real AWS from a
# bench (the sweep would list real APIs and could restore a real stage).
no_aws_home=$(mktemp -d)
env -i PATH="$PATH" HOME="$no_aws_home" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench SWEEP_APIS=none \
  SLACK_SIGNING_SECRET=$secret LISTEN_ADDR=127.0.0.1:$port AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true RUST_LOG=warn THROTTLE_POLICY=allow-all "$bin" serve 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

export BODY="token=x&team_id=T1DC2JH3J&channel_id=C0123ABC&user_id=U2CERLKJA&command=%2Fthrottle&text=help&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx"
export TIMESTAMP=$(date +%s)
export SIGNATURE="v0=$(printf 'v0:%s:%s' "$TIMESTAMP" "$BODY" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/slack/commands" \
  -H "X-Slack-Request-Timestamp: $TIMESTAMP" -H "X-Slack-Signature: $SIGNATURE" --data "$BODY")
[ "$code" = 200 ] || { echo "signed request answered $code, expected 200" >&2; exit 1; }

threads=${THREADS:-2} connections=${CONNECTIONS:-64} duration=${DURATION:-10s}
rss() { grep -E "^$1:" "/proc/$pid/status" | awk '{print $2}'; }
echo "idle: VmRSS $(rss VmRSS) KiB"
for run in healthz signed; do
  if [ $tool = wrk ]; then
    if [ $run = healthz ]; then
      out=$(wrk --latency -t"$threads" -c"$connections" -d"$duration" "http://127.0.0.1:$port/healthz")
    else
      out=$(wrk --latency -t"$threads" -c"$connections" -d"$duration" -s benches/signed_help.lua "http://127.0.0.1:$port/slack/commands")
    fi
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    printf '%-8s %s req/s  p50 %s  p99 %s  non-2xx %s\n' "$run" \
      "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
      "$(echo "$out" | awk '$1=="50%" {print $2}')" \
      "$(echo "$out" | awk '$1=="99%" {print $2}')" \
      "${non2xx:-0}"
  else
    if [ $run = healthz ]; then
      out=$(oha --no-tui --output-format json -z "$duration" -c "$connections" "http://127.0.0.1:$port/healthz")
    else
      out=$(oha --no-tui --output-format json -z "$duration" -c "$connections" -m POST \
        -H "X-Slack-Request-Timestamp: $TIMESTAMP" -H "X-Slack-Signature: $SIGNATURE" \
        -H "Content-Type: application/x-www-form-urlencoded" -d "$BODY" "http://127.0.0.1:$port/slack/commands")
    fi
    echo "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
codes = r.get("statusCodeDistribution", {})
other = sum(n for code, n in codes.items() if code != "200")
p = r["latencyPercentiles"]
rps = r["summary"]["requestsPerSec"]
print("%-8s %.0f req/s  p50 %.2fms  p99 %.2fms  non-2xx %d" % (sys.argv[1], rps, p["p50"] * 1000, p["p99"] * 1000, other))
' "$run"
  fi
done
echo "after load: VmRSS $(rss VmRSS) KiB, peak VmHWM $(rss VmHWM) KiB"
