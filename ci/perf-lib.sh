# Shared by ci/perf-*: sfc-pktgen, OVS-DPDK as a peer with all its state in
# $WORK, DPF chain YAML for N-port switches. Source after lib.sh.

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SFCD=${SFCD_BIN:-$TARGET/release/sfcd}
SFCCTL=${SFCCTL_BIN:-$TARGET/release/sfcctl}
PKTGEN=${PKTGEN_BIN:-$TARGET/release/sfc-pktgen}
CORE_MAIN=0
CORE_FWD=$(( $(nproc) > 1 ? 1 : 0 ))

build_perf() {
  (cd "$ROOT" && cargo build --release --quiet -p sfc-dataplane -p sfc-control -p sfc-pktgen)
}

# The DPDK prefixes we make all match lib.sh's cleanup glob; OVS is stopped
# here too (its own cleanup, chained to lib.sh's).
OVS_UP=0
perf_cleanup() {
  ovs_stop
  cleanup
}
trap perf_cleanup EXIT


# sfcd in the background: ovs-like placement (main on CORE_MAIN, one worker
# on CORE_FWD). Args: a log file, then sfcd flags. Sets SFCD_PID, SFCD_SOCK.
sfcd_start() {
  local log=$1; shift
  local pfx; pfx=$(prefix sfcd)
  SFCD_SOCK=$WORK/sfcd-$RANDOM.sock
  rm -rf "$WORK/state"
  "$SFCD" --eal "$MEM --file-prefix $pfx -l $CORE_MAIN" --worker-cores "$CORE_FWD" \
      --socket "$SFCD_SOCK" --state-dir "$WORK/state" --log warn "$@" > "$log" 2>&1 &
  SFCD_PID=$!
  PIDS+=("$SFCD_PID")
  local i
  for i in $(seq 1 100); do
    [ -S "$SFCD_SOCK" ] && return 0
    kill -0 "$SFCD_PID" 2>/dev/null || { echo "sfcd exited:" >&2; tail -5 "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "sfcd did not open its socket" >&2; return 1
}

sfcd_stop() {
  [ -n "${SFCD_PID:-}" ] || return 0
  kill -INT "$SFCD_PID" 2>/dev/null || true
  wait "$SFCD_PID" 2>/dev/null || true
  SFCD_PID=
}

# Mpps medians from sfcd stats lines after WARMUP intervals.
sfcd_rate() {
  grep -E '^stats ' "$1" | sed -E 's/.* tx=([0-9.]+) Mpps.*/\1/' \
    | awk -v w="${WARMUP:-2}" '$1>0 {n++; if (n>w) print}' | median
}

# --- OVS-DPDK -------------------------------------------------------------
OVS_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk

# Installs openvswitch-switch-dpdk when missing, and makes sure the
# package's own daemons are neither running nor started at boot.
ovs_install() {
  if [ ! -x "$OVS_VSWITCHD" ]; then
    echo "installing openvswitch-switch-dpdk" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openvswitch-switch-dpdk >/dev/null
  fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now openvswitch-switch ovs-vswitchd ovsdb-server >/dev/null 2>&1 || true
  fi
  # A system instance (default run dir) started by the package: stop it.
  if [ -e /var/run/openvswitch/ovs-vswitchd.pid ] || [ -e /var/run/openvswitch/ovsdb-server.pid ]; then
    /usr/share/openvswitch/scripts/ovs-ctl stop >/dev/null 2>&1 || true
  fi
  command -v update-rc.d >/dev/null 2>&1 && update-rc.d openvswitch-switch disable >/dev/null 2>&1 || true
}

# ovsdb-server + ovs-vswitchd-dpdk with every file under $WORK/ovs, DPDK on
# the same memory mode, PMD on CORE_FWD.
ovs_start() {
  export OVS_RUNDIR=$WORK/ovs/run OVS_DBDIR=$WORK/ovs/db OVS_LOGDIR=$WORK/ovs/log
  export OVS_SYSCONFDIR=$WORK/ovs/etc OVS_PKGDATADIR=/usr/share/openvswitch
  mkdir -p "$OVS_RUNDIR" "$OVS_DBDIR" "$OVS_LOGDIR" "$OVS_SYSCONFDIR"
  rm -f "$OVS_DBDIR/conf.db"
  ovsdb-tool create "$OVS_DBDIR/conf.db" "$OVS_PKGDATADIR/vswitch.ovsschema"
  ovsdb-server "$OVS_DBDIR/conf.db" --remote="punix:$OVS_RUNDIR/db.sock" \
      --pidfile="$OVS_RUNDIR/ovsdb-server.pid" --detach --log-file="$OVS_LOGDIR/ovsdb-server.log"
  OVS_UP=1
  local pfx; pfx=$(prefix ovs)
  ovs-vsctl --no-wait init
  ovs-vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
      "other_config:dpdk-extra=$MEM --file-prefix $pfx" \
      other_config:pmd-cpu-mask=$(printf '0x%x' $((1 << CORE_FWD))) \
      other_config:dpdk-lcore-mask=$(printf '0x%x' $((1 << CORE_MAIN)))
  taskset -c "$CORE_MAIN" "$OVS_VSWITCHD" "unix:$OVS_RUNDIR/db.sock" --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" \
      --detach --log-file="$OVS_LOGDIR/ovs-vswitchd.log" >/dev/null 2>&1 \
    || { echo "ovs-vswitchd-dpdk failed:" >&2; tail -20 "$OVS_LOGDIR/ovs-vswitchd.log" >&2; return 1; }
}

# A secure-fail-mode netdev bridge br0 with DPDK ports 1..N from devargs.
ovs_bridge() {
  ovs-vsctl --timeout 30 add-br br0 -- set bridge br0 datapath_type=netdev fail_mode=secure
  local i=1 d
  for d in "$@"; do
    ovs-vsctl --timeout 30 add-port br0 "dp$i" -- set Interface "dp$i" type=dpdk \
        "options:dpdk-devargs=$d" "ofport_request=$i"
    i=$((i + 1))
  done
  ovs-ofctl del-flows br0
}

ovs_del_bridge() {
  ovs-vsctl --timeout 30 --if-exists del-br br0 || true
}

# Sum of tx packets over the bridge's ports (live, from the datapath).
ovs_tx() {
  ovs-ofctl dump-ports br0 | grep -oE 'tx pkts=[0-9]+' | cut -d= -f2 | awk '{s+=$1} END {print s+0}'
}

# Mpps forwarded: WARMUP seconds, then the median of DUR-WARMUP 1 s samples.
ovs_rate() {
  sleep "${WARMUP:-2}"
  local a b i
  a=$(ovs_tx)
  for i in $(seq 1 $((DUR - ${WARMUP:-2}))); do
    sleep 1; b=$(ovs_tx)
    awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f\n", (b-a)/1e6}'
    a=$b
  done | median
}

ovs_stop() {
  [ "$OVS_UP" = 1 ] || return 0
  OVS_UP=0
  ovs_del_bridge
  local f
  for f in ovs-vswitchd ovsdb-server; do
    if [ -e "$OVS_RUNDIR/$f.pid" ]; then
      local pid; pid=$(cat "$OVS_RUNDIR/$f.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  # Taps OVS made for the bridge and its netdev datapath.
  ip link del br0 2>/dev/null || true
  ip link del ovs-netdev 2>/dev/null || true
}

# DPF's exact flows (dpf-chains.md section 5) for one switch of the given
# OpenFlow ports, cookie $1.
dpf_flows() {
  local cookie=$1; shift
  local p q learns outs
  for p in "$@"; do
    learns=""; outs=""
    for q in "$@"; do
      [ "$q" = "$p" ] && continue
      learns="${learns}learn(cookie=$cookie,idle_timeout=10,table=1,priority=1,in_port=$q,dl_dst=dl_src,output:NXM_OF_IN_PORT[]),"
      outs="${outs:+$outs,}output:$q"
    done
    echo "cookie=$cookie, table=0, priority=0, in_port=$p actions=${learns}resubmit(,1)"
    echo "cookie=$cookie, table=1, priority=2, in_port=$p, dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=$outs"
    echo "cookie=$cookie, table=1, priority=0, in_port=$p actions=$outs"
  done
}

# Machine line for reports.
machine() {
  echo "$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, kernel $(uname -r)"
}
