//! sfc-pktgen against real DPDK vdevs: counts and pacing.

use std::process::Command;

struct Prefix(String);

impl Drop for Prefix {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.0));
    }
}

fn run(name: &str, extra: &[&str]) -> serde_json::Value {
    let prefix = Prefix(format!("sfc-pktgen-test-{name}-{}", std::process::id()));
    let eal = format!("--no-huge -m 512 --no-pci -l 0 --file-prefix {}", prefix.0);
    let mut args = vec!["--eal", &eal, "--json", "--quiet", "--cores", "0"];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_sfc-pktgen"))
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run sfc-pktgen: {e}"));
    assert!(
        out.status.success(),
        "sfc-pktgen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn u(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

/// net_ring0 loops TX back to RX: every stamped frame sent is received,
/// in order, with a latency sample each.
#[test]
fn ring_loopback_receives_every_frame() {
    let r = run(
        "ring",
        &[
            "--port",
            "net_ring0",
            "--rate",
            "200k",
            "--duration",
            "1",
            "--macs",
            "64",
            "--flows",
            "8",
        ],
    );
    let t = &r["trials"][0];
    let (tx, rx) = (u(t, "tx"), u(t, "rx"));
    assert!(tx > 150_000, "tx {tx}");
    assert_eq!(tx, rx);
    assert_eq!(u(t, "lost"), 0);
    assert_eq!(u(t, "reordered"), 0);
    assert_eq!(u(t, "foreign"), 0);
    assert_eq!(u(&t["latency"], "samples"), rx);
    assert_eq!(r["trials"][0]["ports"][0]["rx"].as_u64(), Some(rx));
}

/// Pacing on net_null: within 5% of the set rate over a second.
#[test]
fn null_port_is_paced_to_the_rate() {
    let r = run(
        "null",
        &[
            "--port",
            "net_null0,size=64,no-rx=1",
            "--rate",
            "1M",
            "--duration",
            "1",
        ],
    );
    let t = &r["trials"][0];
    let tx = u(t, "tx") as f64;
    let secs = t["seconds"].as_f64().unwrap_or(0.0);
    let rate = tx / secs;
    assert!((rate - 1e6).abs() / 1e6 < 0.05, "rate {rate} over {secs}s");
    assert_eq!(u(t, "rx"), 0);
}
