#!/usr/bin/env bash
# System test: the shipped Grafana dashboard and alerting rules against a
# real Prometheus and node_exporter (Debian's prometheus and
# prometheus-node-exporter, on loopback ports), whose textfile collector
# reads densityd's textfile directory on the testbed:
#   - the rules load (healthy) into Prometheus;
#   - every query of every panel of contrib/grafana/densityd.json returns
#     data (densityd moves balloons under a budget, and a guest is shed
#     and restored by hand, so every family has samples);
#   - on a clean stop densityd removes density.prom, and its series leave
#     node_exporter.
# Everything started is stopped, and the testbed taken down, on exit.
# Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"
DASHBOARD=$SRC/contrib/grafana/densityd.json
RULES=$SRC/contrib/prometheus/densityd-rules.yml

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system)"
	exit 77
fi
for t in jq virsh curl prometheus prometheus-node-exporter; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done

WORK=$(mktemp -d /tmp/densityd-prometheus.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	stop_daemon
	"$TB" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# free_port: a loopback TCP port nobody listens on.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo $p; return 0; }
	done
	return 1
}

"$TB" down >/dev/null 2>&1 || true
"$TB" up 3 2>"$WORK/testbed.log" || {
	echo "Bail out! testbed up 3 failed:"
	sed 's/^/# /' "$WORK/testbed.log"
	exit 1
}
# Balloons have something to do: a budget twice what the guests use is
# above HostTarget=10%.
"$TB" budget $(($(usage_mib) * 2)) 2>>"$WORK/testbed.log"
write_policy "$WORK" 1s
cat >>"$WORK/policy.conf" <<EOT
[Balloon]
Enable=yes
HostTarget=10%
EOT
start_daemon "$WORK" || exit 1

NE_PORT=$(free_port) && PROM_PORT=$(free_port) || { echo "Bail out! no free loopback port"; exit 1; }
prometheus-node-exporter --web.listen-address="127.0.0.1:$NE_PORT" --collector.disable-defaults \
	--collector.textfile --collector.textfile.directory="$WORK/prom" >"$WORK/node-exporter.log" 2>&1 &
PIDS+=($!)
cat >"$WORK/prometheus.yml" <<EOT
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$NE_PORT']
EOT
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
API="http://127.0.0.1:$PROM_PORT/api/v1"

# query EXPR: the number of series EXPR returns now (empty on error).
query() {
	curl -s --max-time 5 --data-urlencode "query=$1" "$API/query" | jq -r 'if .status == "success" then (.data.result | length) else empty end'
}
has_data() { [ "$(query "$1")" -gt 0 ] 2>/dev/null; }

check "node_exporter serves density.prom" \
	wait_for 30 eval 'curl -s --max-time 2 "http://127.0.0.1:$NE_PORT/metrics" | grep -q "^density_guests "' ||
	diag "$(tail -n 5 "$WORK/node-exporter.log")"
check "Prometheus scrapes it" wait_for 60 has_data 'density_guests' || diag "$(tail -n 5 "$WORK/prometheus.log")"
rules_ok() {
	curl -s --max-time 5 "$API/rules" |
		jq -e '[.data.groups[].rules[]] | length >= 7 and all(.health == "ok")' >/dev/null
}
check "the alerting rules load and evaluate (health ok)" wait_for 30 rules_ok ||
	diag "$(curl -s "$API/rules" | jq -c '[.data.groups[].rules[] | {name, health, lastError}]')"

# Something in every family: balloon moves (the controller), a shed and a
# restore by hand.
check "the balloon controller moved a balloon" \
	wait_for 60 eval 'ctl "$WORK" log --json -n 1000 | jqe "[.entries[] | select(.action == \"balloon\" and .result == \"done\")] | length > 0"'
ctl "$WORK" shed dtest-3 >/dev/null || diag "densityctl shed dtest-3 refused"
saved() { virsh -q -c qemu:///system list --all --with-managed-save --name 2>/dev/null | grep -qx dtest-3; }
wait_for 60 saved || diag "dtest-3 not saved"
sleep 3
ctl "$WORK" restore dtest-3 >/dev/null || diag "densityctl restore dtest-3 refused"
wait_for 60 eval '[ "$(virsh -q -c qemu:///system domstate dtest-3)" = running ]' || diag "dtest-3 not running again"
sleep 5 # a few scrapes: rate() and increase() need two samples

# Every panel's queries, the dashboard's variables set to "all".
n_queries=0
empty=()
while IFS=$'\t' read -r title expr; do
	n_queries=$((n_queries + 1))
	q=${expr//\$instance/.*}
	wait_for 20 has_data "$q" || empty+=("$title: $expr")
done < <(jq -r '.panels[] | .title as $t | .targets[] | [$t, .expr] | @tsv' "$DASHBOARD")
check "every panel query of the dashboard returns data ($((n_queries - ${#empty[@]})) of $n_queries)" test ${#empty[@]} -eq 0 ||
	for e in "${empty[@]}"; do diag "no data: $e"; done
check "the dashboard's host variable query returns the host" \
	has_data 'group by (instance) (density_guests)'

# A clean stop removes the textfile; node_exporter then serves none of it.
stop_daemon
check "densityd removed density.prom on its clean stop" test ! -e "$WORK/prom/density.prom"
check "node_exporter no longer serves densityd's series" \
	eval '! curl -s --max-time 2 "http://127.0.0.1:$NE_PORT/metrics" | grep -q "^density_"'

echo "1..$n"
[ $failed -eq 0 ]
