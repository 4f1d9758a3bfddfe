#!/usr/bin/env bash
# Renders docs/dashboard.png: a real run of `haderctl dashboard` at 120x40
# in tmux, against a throwaway redis-server on loopback, with upstreams,
# a gateway with traffic, health checks, queued operations and a chaos
# experiment made by the CLI itself. The captured pane (with its colour
# escapes) is turned into a PNG by charmbracelet/freeze, a tool only: set
# FREEZE to its binary, e.g.
#   GOBIN=/tmp/tools go install github.com/charmbracelet/freeze@v0.2.2
#   FREEZE=/tmp/tools/freeze bash scripts/dashboard-screenshot.sh
# Everything it starts listens on 127.0.0.1 and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${FREEZE:?set FREEZE to the freeze binary (see the header)}"
work=$(mktemp -d)
pids=()
cleanup() {
  tmux -S "$work/tmux.sock" kill-server 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --dir "$work" >/dev/null
go build -o "$work/haderctl" ./cmd/haderctl
export REDIS_URL="redis://127.0.0.1:$port/0" HADERCTL_NAMESPACE=hader
h="$work/haderctl"
until redis-cli -p "$port" ping >/dev/null 2>&1; do :; done

# upstreams: aramex answers 503, smsa and shopify 200
mkdir -p "$work/ok" && echo ok >"$work/ok/health" && echo '{"rate":12}' >"$work/ok/rates"
up() { (cd "$work/ok" && exec python3 -m http.server --bind 127.0.0.1 "$1" >/dev/null 2>&1) & pids+=($!); }
shopify=$(free); smsa=$(free); aramex=$(free); notif=$(free); gw=$(free); admin=$(free)
up "$shopify"; up "$smsa"
python3 - "$aramex" >/dev/null 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_ANY(self):
        self.send_response(503); self.end_headers(); self.wfile.write(b"down")
    do_GET = do_POST = do_ANY
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)
cat >"$work/haderctl.yaml" <<YAML
environment: staging
services:
  - {name: shopify, base_url: "http://127.0.0.1:$shopify"}
  - {name: aramex, base_url: "http://127.0.0.1:$aramex"}
  - {name: smsa, base_url: "http://127.0.0.1:$smsa"}
  - {name: notifications, base_url: "http://127.0.0.1:$notif"}
chaos:
  allowed_environments: [staging]
gateway:
  routes:
    - {name: shipping, prefix: /api/v1/integrations/shipping/, providers: [aramex, smsa], strip_prefix: true}
YAML
export HADERCTL_CONFIG="$work/haderctl.yaml"
for p in "$shopify" "$smsa" "$aramex"; do until curl -s -o /dev/null "http://127.0.0.1:$p/health"; do :; done; done
for s in shopify smsa aramex; do
  port_var=$s; $h health register "$s" --url "http://127.0.0.1:${!port_var}/health" --interval 5s --timeout 1s >/dev/null
done
$h health register notifications --url "http://127.0.0.1:$notif/health" --interval 5s --timeout 1s >/dev/null
for s in shopify smsa notifications; do $h breaker record "$s" success >/dev/null; done
(cd "$work" && exec "$h" health watch >/dev/null 2>&1) & pids+=($!)
(cd "$work" && exec "$h" gateway --listen "127.0.0.1:$gw" --admin-listen "127.0.0.1:$admin" --access-log off >/dev/null 2>&1) & pids+=($!)
until curl -fsS "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1; do :; done
for i in $(seq 1 40); do curl -s -o /dev/null "http://127.0.0.1:$gw/api/v1/integrations/shipping/rates"; done
for i in $(seq 1 6); do curl -s -o /dev/null -X POST "http://127.0.0.1:$gw/notifications/send" -d '{"to":"ops"}'; done
for i in $(seq 1 12); do
  $h queue push orders --operation create_order --service shopify --data "{\"order_id\": $((1040+i))}" --error "HTTP 503" --priority high >/dev/null
done
$h queue push orders --operation refund --service shopify --data '{"order_id": 977}' --error "HTTP 500" --max-attempts 1 >/dev/null
$h chaos enable >/dev/null
$h chaos inject latency --service shopify --delay 300ms --duration 10m --reason "game day: slow shopify" >/dev/null
$h breaker trip smsa --reason "smsa maintenance window" >/dev/null
until $h health status aramex -o json | grep -q '"healthy": false'; do :; done

tmux -S "$work/tmux.sock" -f /dev/null new-session -d -s dash -x 120 -y 40 \
  -e REDIS_URL="$REDIS_URL" -e HADERCTL_NAMESPACE=hader -e HADERCTL_CONFIG="$HADERCTL_CONFIG" \
  -e TERM=xterm-256color -e COLORTERM=truecolor -- "$h" dashboard
until tmux -S "$work/tmux.sock" capture-pane -p -t dash | grep -q 'GATEWAY'; do :; done
# two refreshes more, so rates and sparklines have data
for i in 1 2; do
  before=$(tmux -S "$work/tmux.sock" capture-pane -p -t dash | head -1)
  until [ "$(tmux -S "$work/tmux.sock" capture-pane -p -t dash | head -1)" != "$before" ]; do :; done
done
tmux -S "$work/tmux.sock" capture-pane -p -e -t dash >"$work/pane.ansi"
"$FREEZE" "$work/pane.ansi" --language ansi --window=false --padding 20 --font.size 7 -o docs/dashboard.png >/dev/null
echo "wrote docs/dashboard.png"
