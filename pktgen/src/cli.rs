//! Command line.

use clap::Parser;

use crate::frame::SizeSpec;
use crate::pacing::Rate;

/// sfc-pktgen: a DPDK traffic generator. Sends stamped frames (sequence
/// number, TSC timestamp) on its ports, receives on the same ports, and
/// reports rate, loss, reordering and latency.
#[derive(Debug, Parser)]
#[command(name = "sfc-pktgen", version)]
pub struct Args {
    /// EAL arguments, e.g. "--no-huge -m 512 --no-pci -l 0". A unique
    /// --file-prefix is added when absent.
    #[arg(long, allow_hyphen_values = true, default_value = "")]
    pub eal: String,
    /// A port as DPDK devargs (repeat): net_null0,size=64;
    /// net_memif0,role=client,socket=PATH,socket-abstract=no; net_tap0,iface=X;
    /// net_pcap0,...; net_ring0 (loopback). Port i addresses its frames to
    /// port (i+1) % N.
    #[arg(long = "port", required_unless_present = "write_pcap")]
    pub ports: Vec<String>,
    /// Cores of the workers (comma list); port i is served (TX and RX) by
    /// worker i % cores. Default: the last core.
    #[arg(long, value_delimiter = ',')]
    pub cores: Vec<usize>,
    /// Offered rate, all sending ports together: PPS (1000000, 2.5M), N% of
    /// line rate, or max.
    #[arg(long, default_value = "max", value_parser = Rate::parse)]
    pub rate: Rate,
    /// Frame size without FCS: N, sweep:N,N,... (one trial each) or imix.
    #[arg(long, default_value = "64", value_parser = SizeSpec::parse)]
    pub size: SizeSpec,
    /// Distinct IP/UDP flows per port.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub flows: u32,
    /// Distinct source MACs per port (destinations are the peer port's
    /// MACs of the same index), to make a switch learn N MACs per port.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub macs: u32,
    /// Replay the frames of this pcap file (not stamped: counts only).
    #[arg(long)]
    pub pcap: Option<std::path::PathBuf>,
    /// Seconds per trial.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Milliseconds to keep receiving after sending stops.
    #[arg(long, default_value_t = 200)]
    pub drain_ms: u64,
    /// Ports that send (indexes, comma list); default all. The others only
    /// receive.
    #[arg(long, value_delimiter = ',')]
    pub tx_ports: Vec<usize>,
    /// RFC 2544 throughput search (per frame size).
    #[arg(long)]
    pub rfc2544: bool,
    /// Loss ratio that passes the RFC 2544 search.
    #[arg(long, default_value_t = 0.001)]
    pub loss: f64,
    /// RFC 2544 search resolution (fraction of the top rate).
    #[arg(long, default_value_t = 0.01)]
    pub resolution: f64,
    /// Packet buffers.
    #[arg(long, default_value_t = 32768)]
    pub mbufs: u32,
    /// Seconds to wait for every port's link to come up before sending.
    #[arg(long, default_value_t = 5)]
    pub link_wait: u64,
    /// Descriptors per RX/TX queue.
    #[arg(long, default_value_t = 1024)]
    pub desc: u16,
    /// Print the report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
    /// Write the frames of stream --stream (of --streams ports) to this
    /// pcap file and exit (no DPDK): --macs x --flows distinct frames, or
    /// --count.
    #[arg(long)]
    pub write_pcap: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub stream: u8,
    #[arg(long, default_value_t = 2)]
    pub streams: u8,
    #[arg(long)]
    pub count: Option<u32>,
}

/// Splits an EAL string into arguments (whitespace; no quoting).
pub fn eal_args(s: &str, pid: u32) -> Vec<String> {
    let mut v: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
    if !v.iter().any(|a| a.starts_with("--file-prefix")) {
        v.push(format!("--file-prefix=sfc-pktgen-{pid}"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_prefix_added_once() {
        assert_eq!(
            eal_args("--no-huge -m 256", 42),
            vec!["--no-huge", "-m", "256", "--file-prefix=sfc-pktgen-42"]
        );
        assert_eq!(eal_args("--file-prefix x", 1), vec!["--file-prefix", "x"]);
    }

    #[test]
    fn flags_parse() {
        let a = Args::try_parse_from([
            "sfc-pktgen",
            "--port",
            "net_null0",
            "--port",
            "net_null1",
            "--rate",
            "50%",
            "--size",
            "sweep:64,128",
            "--macs",
            "4096",
            "--cores",
            "0,1",
        ]);
        let a = a.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.ports.len(), 2);
        assert_eq!(a.rate, Rate::Percent(50.0));
        assert_eq!(a.size, SizeSpec::Sweep(vec![64, 128]));
        assert_eq!(a.cores, vec![0, 1]);
        assert!(Args::try_parse_from(["sfc-pktgen", "--port", "x", "--macs", "0"]).is_err());
        assert!(Args::try_parse_from(["sfc-pktgen"]).is_err());
    }
}
