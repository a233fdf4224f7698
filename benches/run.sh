#!/usr/bin/env bash
# Load benchmark of the acknowledgement path, on loopback only, against its floor in the same run.
#
#   bash benches/run.sh        # needs wrk (apt-get install wrk), curl and openssl
#
# Builds the release binary and `benches/ack_floor` (a bare axum server that checks the same
# signature and answers the same bytes), then loads each with a validly signed `/throttle help`
# (32 connections, 10 s, alternating floor / throttle-bot for ROUNDS rounds) and prints each
# one's requests/s and p99, the ratio of the two, the binary's size, and throttle-bot's resident
# memory (idle and peak) with SWEEP_APIS=none (no AWS client is ever used).
#
#   WITH_BOLT=1 bash benches/run.sh   # also Bolt for JavaScript and Bolt for Python (benches/bolt/),
#                                     # answering the same command with the same reply; installs
#                                     # them once under target/bench-bolt (needs npm and python3 -m venv)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
cargo build --release --locked --quiet
# The floor is a crate of its own (benches/ack_floor), built alike but apart.
floor_target=target/ack-floor
CARGO_TARGET_DIR=$floor_target cargo build --release --locked --quiet --manifest-path benches/ack_floor/Cargo.toml
floor=$floor_target/release/ack-floor
bin=target/release/throttle-bot

secret="bench-signing-secret"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port) floor_port=$(free_port)
work=$(mktemp -d)
# A cleared environment: a laptop's AWS keys, profile or ~/.aws must never reach real AWS from a
# bench (the sweep would list real APIs and could restore a real stage).
env -i PATH="$PATH" HOME="$work" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench SWEEP_APIS=none \
  SLACK_SIGNING_SECRET=$secret LISTEN_ADDR=127.0.0.1:$port AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true RUST_LOG=warn THROTTLE_POLICY=allow-all "$bin" serve 2>/dev/null &
pid=$!
trap 'kill $pid ${floor_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

export BODY="token=x&team_id=T1DC2JH3J&channel_id=C0123ABC&user_id=U2CERLKJA&command=%2Fthrottle&text=help&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx"
export TIMESTAMP=$(date +%s)
export SIGNATURE="v0=$(printf 'v0:%s:%s' "$TIMESTAMP" "$BODY" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)"
signed() { curl -s -o "$2" -w '%{http_code}' -X POST "http://127.0.0.1:$1/slack/commands" \
  -H "X-Slack-Request-Timestamp: $TIMESTAMP" -H "X-Slack-Signature: $SIGNATURE" --data "$BODY"; }
code=$(signed "$port" "$work/reply.json")
[ "$code" = 200 ] || { echo "signed request answered $code, expected 200" >&2; exit 1; }

# The floor answers exactly what throttle-bot answered.
env -i SLACK_SIGNING_SECRET=$secret LISTEN_ADDR=127.0.0.1:$floor_port FLOOR_REPLY="$work/reply.json" "$floor" &
floor_pid=$!
for _ in $(seq 50); do [ "$(signed "$floor_port" "$work/floor.json")" = 200 ] && break; sleep 0.1; done
cmp -s "$work/reply.json" "$work/floor.json" || { echo "the floor's answer differs" >&2; exit 1; }

bolt_pids=()
if [ -n "${WITH_BOLT:-}" ]; then
  bolt=target/bench-bolt
  [ -d $bolt/js/node_modules/@slack/bolt ] || npm install --silent --prefix $bolt/js @slack/bolt@4.7.3 >/dev/null
  [ -x $bolt/py/bin/python ] || { python3 -m venv $bolt/py && $bolt/py/bin/pip install --quiet slack_bolt==1.30.0; }
  bolt_js_port=$(free_port) bolt_py_port=$(free_port)
  env -i PATH="$PATH" NODE_PATH=$bolt/js/node_modules SLACK_SIGNING_SECRET=$secret BOLT_REPLY="$work/reply.json" \
    PORT=$bolt_js_port node benches/bolt/app.js >/dev/null 2>&1 &
  bolt_pids+=($!)
  env -i SLACK_SIGNING_SECRET=$secret BOLT_REPLY="$work/reply.json" PORT=$bolt_py_port \
    $bolt/py/bin/python benches/bolt/app.py >/dev/null 2>&1 &
  bolt_pids+=($!)
  for p in $bolt_js_port $bolt_py_port; do
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done
  done
fi
trap 'kill $pid ${floor_pid:-} ${bolt_pids[*]:-} 2>/dev/null || true; rm -rf "$work"' EXIT

rss() { grep -E "^$1:" "/proc/$pid/status" | awk '{print $2}'; }
idle_rss=$(rss VmRSS)
threads=${THREADS:-2} connections=${CONNECTIONS:-32} duration=${DURATION:-5s} rounds=${ROUNDS:-6}
load() { # port [path] -> "req/s p99 non-2xx"
  local out
  out=$(wrk --latency -t"$threads" -c"$connections" -d"$duration" -s benches/signed_help.lua "http://127.0.0.1:$1${2:-/slack/commands}")
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | awk '$1=="99%" {print $2}') ${non2xx:-0}"
}
floor_sum=0 bot_sum=0 ratios=()
for round in $(seq "$rounds"); do
  read -r f_rps f_p99 f_bad <<<"$(load "$floor_port")"
  read -r b_rps b_p99 b_bad <<<"$(load "$port")"
  printf 'round %s  floor %8.0f req/s p99 %-7s non-2xx %s | throttle-bot %8.0f req/s p99 %-7s non-2xx %s | ratio %.2f\n' \
    "$round" "$f_rps" "$f_p99" "$f_bad" "$b_rps" "$b_p99" "$b_bad" "$(echo "$b_rps / $f_rps" | bc -l)"
  floor_sum=$(echo "$floor_sum + $f_rps" | bc -l) bot_sum=$(echo "$bot_sum + $b_rps" | bc -l)
  ratios+=("$(echo "$b_rps / $f_rps" | bc -l)")
  if [ -n "${WITH_BOLT:-}" ]; then
    for which in js py; do
      port_var=bolt_${which}_port
      read -r o_rps o_p99 o_bad <<<"$(load "${!port_var}" /slack/events)"
      printf '        Bolt for %-10s %8.0f req/s p99 %-7s non-2xx %s | ratio to the floor %.3f\n' \
        "$([ $which = js ] && echo JavaScript || echo Python)" "$o_rps" "$o_p99" "$o_bad" "$(echo "$o_rps / $f_rps" | bc -l)"
    done
  fi
done
# Two processes share two cores with wrk, so single rounds vary by ±5%: the median of the
# rounds' ratios, and the ratio of all requests served, say more than any one round.
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
printf 'ack path: median %.2f x the floor, %.2f over all %s rounds (%s connections, %s each)\n' \
  "$median" "$(echo "$bot_sum / $floor_sum" | bc -l)" "$rounds" "$connections" "$duration"
echo "binary: $(stat -c %s "$bin") bytes; reply: $(stat -c %s "$work/reply.json") bytes"
echo "memory (SWEEP_APIS=none): idle VmRSS ${idle_rss} KiB, after load VmRSS $(rss VmRSS) KiB, peak VmHWM $(rss VmHWM) KiB"
