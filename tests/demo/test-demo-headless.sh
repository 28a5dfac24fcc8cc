#!/usr/bin/env bash
# The demo's processes, headless: tools/demo-services --headless starts a
# cpns-server, a user, three simulated devices and cpns-gatewayd (which
# confirms codes and approves connections by itself). Passes when every
# device reached step 5b (connection setup complete) within the time limit,
# and when stopping the demo leaves none of its processes running.
set -euo pipefail
build=${CPNS_BUILD_ROOT:?}
src=${CPNS_SOURCE_ROOT:?}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# A discovery port of its own, so parallel tests don't hear each other.
export CPNS_DEMO_DISCOVERY_PORT=$(( 20000 + RANDOM % 30000 ))

"$src/tools/demo-services" "$build" --headless --devices 3 >"$out" 2>&1 &
demo=$!

done_count=0
for _ in $(seq 300); do
  done_count=$(grep -c '"step":"5b","outcome":"done"' "$out" || true)
  [ "$done_count" -ge 3 ] && break
  kill -0 "$demo" 2>/dev/null || break
  sleep 0.1
done

kill -TERM "$demo" 2>/dev/null || true
wait "$demo" 2>/dev/null || true

echo "devices that reached step 5b: $done_count of 3"
if [ "$done_count" -lt 3 ]; then
  echo "--- demo output ---"; cat "$out"
  exit 1
fi
# Nothing this demo started may outlive it.
dir=$(sed -n 's/^demo: working directory //p' "$out" | head -n1)
[ -n "$dir" ] || { echo "the demo did not say where it works"; exit 1; }
[ ! -e "$dir" ] || { echo "the demo left $dir behind"; exit 1; }
sleep 0.5
if pgrep -f "$dir/" >/dev/null; then
  echo "processes of the demo are still running:"; pgrep -af "$dir/"
  exit 1
fi
echo "1 passed, 0 failed"
