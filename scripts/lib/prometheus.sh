# Sourced by scripts/run: the demo's Prometheus (Debian's, installed by scripts/prometheus),
# started in the background beside gennaker and stopped when gennaker exits. It scrapes every
# local-cloud instance, found through gennaker's HTTP service discovery
# (/api/v1/metrics/targets), and gennaker's own /metrics, both with the metrics token; the
# metrics account `prometheus` (data/clouds.yml) points canary analysis at it.
#
#   prometheus_up ARGS...  (ARGS: those given to `gennaker serve`) starts or reuses it and sets
#                          PROMETHEUS_SERVE_ARGS, the flags to add to `gennaker serve` (empty
#                          when Prometheus is not installed or did not start)
#   prometheus_down        stops it, when this script started (or adopted) it
#
# State in data/prometheus/: prometheus.yml, tsdb/, prometheus.log, pid (Prometheus's) and
# owner (the scripts/run that stops it). A Prometheus left behind by a killed run is adopted;
# one whose run is alive (a second scripts/run) is shared and left to that run.
# GENNAKER_PROMETHEUS_PORT picks its port on 127.0.0.1 (default 9090).
# shellcheck shell=bash

PROMETHEUS_SERVE_ARGS=()
PROMETHEUS_OWNED=0
PROMETHEUS_PID=""

# The value of flag $1 (`--flag value` or `--flag=value`) among the remaining arguments.
_prometheus_flag() {
  local name="$1" previous=""; shift
  for arg in "$@"; do
    if [ "$previous" = "$name" ]; then printf '%s' "$arg"; return 0; fi
    case "$arg" in "$name="*) printf '%s' "${arg#*=}"; return 0 ;; esac
    previous="$arg"
  done
  return 1
}

# Running (a zombie nobody reaped yet counts as gone).
_prometheus_alive() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# True when pid $1 is a Prometheus running with our config file.
_prometheus_ours() {
  _prometheus_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "--config.file=$PROMETHEUS_DIR/prometheus.yml"
}

_prometheus_listen_of() { tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | sed -n 's/^--web.listen-address=//p'; }

_prometheus_ready() {
  local deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    curl -sf -o /dev/null "http://$1/-/ready" && return 0
    _prometheus_alive "$PROMETHEUS_PID" || return 1
    sleep 0.3
  done
  return 1
}

prometheus_up() {
  PROMETHEUS_DIR="$GENNAKER_ROOT/data/prometheus"
  local binary port listen gennaker sd_host token_file clouds_file outbound
  binary="$(command -v prometheus || true)"
  [ -z "$binary" ] && [ -x /usr/bin/prometheus ] && binary=/usr/bin/prometheus
  if [ -z "$binary" ]; then
    log "prometheus is not installed (scripts/prometheus installs it): running without it, so canary analysis has no metrics"
    return 0
  fi
  port="${GENNAKER_PROMETHEUS_PORT:-9090}"
  listen="127.0.0.1:$port"
  mkdir -p "$PROMETHEUS_DIR"

  # Where Prometheus finds gennaker: its listen address, with a wildcard host made loopback.
  gennaker="$(_prometheus_flag --listen "$@" || printf '%s' "${GENNAKER_LISTEN:-127.0.0.1:3000}")"
  sd_host="${gennaker%:*}"
  case "$sd_host" in 0.0.0.0|"") sd_host=127.0.0.1 ;; "[::]") sd_host="[::1]" ;; esac
  gennaker="$sd_host:${gennaker##*:}"

  # The token Prometheus presents to gennaker: the user's file, else data/metrics-token.
  if token_file="$(_prometheus_flag --metrics-token-file "$@")"; then
    :
  elif [ -n "${GENNAKER_METRICS_TOKEN_FILE:-}" ]; then
    token_file="$GENNAKER_METRICS_TOKEN_FILE"
  else
    token_file="$GENNAKER_ROOT/data/metrics-token"
    if [ ! -s "$token_file" ]; then
      (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$token_file")
      chmod 600 "$token_file"
    fi
    PROMETHEUS_SERVE_ARGS+=(--metrics-token-file "$token_file")
  fi
  token_file="$(cd "$(dirname "$token_file")" && pwd)/$(basename "$token_file")"

  local pid owner running_listen
  pid="$(cat "$PROMETHEUS_DIR/pid" 2>/dev/null || true)"
  owner="$(cat "$PROMETHEUS_DIR/owner" 2>/dev/null || true)"
  if _prometheus_ours "$pid" && _prometheus_alive "$owner" && [ "$owner" != "$$" ] \
    && tr '\0' ' ' <"/proc/$owner/cmdline" 2>/dev/null | grep -q "scripts/run"; then
    # Another scripts/run started it and will stop it: share it as it is.
    listen="$(_prometheus_listen_of "$pid")"
    PROMETHEUS_PID="$pid"
    log "using the Prometheus (pid $pid) of the scripts/run with pid $owner on http://$listen"
  else
    cat >"$PROMETHEUS_DIR/prometheus.yml" <<EOF
# Written by scripts/run at each start (edits are lost).
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  # Every instance of the local cloud, as gennaker lists them (HTTP service discovery). The
  # type is spelled out: without it Debian's 2.42 sends the token without "Bearer " from
  # http_sd_configs (only there), and gennaker answers 401.
  - job_name: gennaker-instances
    http_sd_configs:
      - url: http://$gennaker/api/v1/metrics/targets
        refresh_interval: 5s
        authorization:
          type: Bearer
          credentials_file: $token_file
  # gennaker itself: the load balancers' series.
  - job_name: gennaker
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $token_file
    static_configs:
      - targets: ['$gennaker']
EOF
    if _prometheus_ours "$pid"; then
      running_listen="$(_prometheus_listen_of "$pid")"
      if [ "$running_listen" = "$listen" ]; then
        # Left by a run that was killed: adopt it, with the config just written.
        log "reusing Prometheus (pid $pid) on http://$listen, reloading its config"
        kill -HUP "$pid"
        PROMETHEUS_PID="$pid"
      else
        log "stopping the Prometheus (pid $pid) left on http://$running_listen"
        kill "$pid" 2>/dev/null || true
        local waited=0
        while _prometheus_alive "$pid" && [ $waited -lt 100 ]; do sleep 0.2; waited=$((waited + 1)); done
        pid=""
      fi
    fi
    if [ -z "$PROMETHEUS_PID" ]; then
      log "starting Prometheus on http://$listen (log: data/prometheus/prometheus.log)"
      # In its own session, so Ctrl-C reaches gennaker only (prometheus_down stops Prometheus
      # after it), and started from a subshell, so it is not this script's child: the script's
      # `wait` for gennaker then has gennaker alone to wait for.
      (
        setsid "$binary" \
          --config.file="$PROMETHEUS_DIR/prometheus.yml" \
          --storage.tsdb.path="$PROMETHEUS_DIR/tsdb" \
          --web.listen-address="$listen" \
          >"$PROMETHEUS_DIR/prometheus.log" 2>&1 </dev/null &
        echo $! >"$PROMETHEUS_DIR/pid"
      )
      PROMETHEUS_PID="$(cat "$PROMETHEUS_DIR/pid")"
    fi
    echo "$$" >"$PROMETHEUS_DIR/owner"
    PROMETHEUS_OWNED=1
  fi

  if ! _prometheus_ready "$listen"; then
    log "Prometheus did not become ready on http://$listen; running without it. Its log (data/prometheus/prometheus.log) ends:"
    tail -n 5 "$PROMETHEUS_DIR/prometheus.log" >&2 || true
    prometheus_down
    PROMETHEUS_SERVE_ARGS=()
    return 0
  fi

  # The metrics account canary analysis uses, unless the user brings their own clouds file.
  if clouds_file="$(_prometheus_flag --clouds-file "$@")" || [ -n "${GENNAKER_CLOUDS_FILE:-}" ]; then
    log "your clouds file ${clouds_file:-$GENNAKER_CLOUDS_FILE} is used: add {\"name\":\"prometheus\",\"cloudProvider\":\"prometheus\",\"prometheus\":{\"baseUrl\":\"http://$listen\"}} to its accounts for canary analysis"
  else
    cat >"$GENNAKER_ROOT/data/clouds.yml" <<EOF
# Written by scripts/run at each start (edits are lost; pass --clouds-file to use your own).
accounts:
  - name: prometheus
    cloudProvider: prometheus
    prometheus:
      baseUrl: http://$listen
EOF
    PROMETHEUS_SERVE_ARGS+=(--clouds-file "$GENNAKER_ROOT/data/clouds.yml")
  fi

  # gennaker calls private addresses only when allowed; a flag replaces the variable, so the
  # variable's prefixes are passed along.
  outbound="http://$listen"
  [ -n "${GENNAKER_OUTBOUND_ALLOW:-}" ] && outbound="$GENNAKER_OUTBOUND_ALLOW,$outbound"
  PROMETHEUS_SERVE_ARGS+=(--outbound-allow "$outbound")
}

prometheus_down() {
  [ "$PROMETHEUS_OWNED" -eq 1 ] || return 0
  PROMETHEUS_OWNED=0
  local pid="$PROMETHEUS_PID" waited=0
  if _prometheus_alive "$pid"; then
    log "stopping Prometheus (pid $pid)"
    kill "$pid" 2>/dev/null || true
    # Not this script's child: poll. It writes its head block out within seconds.
    while _prometheus_alive "$pid" && [ $waited -lt 150 ]; do sleep 0.2; waited=$((waited + 1)); done
    if _prometheus_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$PROMETHEUS_DIR/pid" "$PROMETHEUS_DIR/owner"
}
