# Shared by the ci/ scripts: build once, unique DPDK prefixes, cleanup of
# only what this script started.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SFCD=${SFCD:-$ROOT/target/release/sfcd}
SFCCTL=${SFCCTL:-$ROOT/target/release/sfcctl}
WORK=$(mktemp -d /tmp/sfc-ci.XXXXXX)
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
  # Prefixes are made in subshells too ($(prefix x)); all carry this
  # script's PID ($$ is the same in subshells).
  rm -rf /var/run/dpdk/sfc-*-"$$"-* 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A DPDK --file-prefix unique to this run, removed at exit.
prefix() {
  echo "sfc-$1-$$-$RANDOM$RANDOM"
}

build_release() {
  (cd "$ROOT" && cargo build --release --quiet -p sfc-dataplane -p sfc-control)
}

# EAL memory flags for the mode in $MEM_MODE (default $1, else nohuge):
# hugepages reserves 1024 2-MiB pages (root) and falls back to nohuge when
# the kernel cannot give them; nohuge runs anywhere (~25% slower).
eal_mem() {
  case "${MEM_MODE:-${1:-nohuge}}" in
    hugepages)
      local have
      have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
      if [ "$have" -lt 1024 ]; then
        echo 1024 > /proc/sys/vm/nr_hugepages 2>/dev/null || true
        have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
      fi
      if [ "$have" -ge 512 ]; then
        echo "--in-memory --no-pci"
      else
        echo "hugepages unavailable ($have reserved): using --no-huge" >&2
        echo "--no-huge -m 1024 --no-pci"
      fi ;;
    *) echo "--no-huge -m 1024 --no-pci" ;;
  esac
}

# median of numbers on stdin
median() {
  sort -g | awk '{a[NR]=$1} END {if (NR==0) {print 0} else if (NR%2) {print a[(NR+1)/2]} else {printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}}'
}

# A DPF chain file: interfaces named by the port names given, one switch of
# all of them (chain $1).
switch_yaml() {
  local chain=$1; shift
  local p
  for p in "$@"; do
    cat <<YAML
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUServiceInterface
metadata: {name: if-$p, namespace: bench}
spec:
  template:
    spec:
      template:
        metadata: {labels: {bench-port: "$p"}}
        spec: {interfaceType: physical, physical: {interfaceName: "$p"}}
---
YAML
  done
  cat <<YAML
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUServiceChain
metadata: {name: $chain, namespace: bench}
spec:
  template:
    spec:
      template:
        spec:
          switches:
          - ports:
YAML
  for p in "$@"; do
    echo "            - serviceInterface: {matchLabels: {bench-port: \"$p\"}}"
  done
}
