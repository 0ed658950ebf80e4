//! sfcd's command line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;

/// sfcd: the DPF service-chain dataplane of one node.
#[derive(Debug, Clone, Parser)]
#[command(name = "sfcd", version, about)]
pub struct Args {
    /// A port, as NAME=DEVARGS (e.g. p0=net_null0,size=64 or
    /// pf0hpf=0000:03:00.0,representor=pf0). Repeatable. NAME is what DPF
    /// interfaces resolve to (p0, pf0hpf, pf0vf3, a service's interfaceName,
    /// ovn).
    #[arg(long = "port", value_name = "NAME=DEVARGS")]
    pub ports: Vec<String>,

    /// Cores for the workers, comma-separated (one worker each). Default:
    /// one worker, on the last core of the machine.
    #[arg(long, value_delimiter = ',', value_name = "CORES")]
    pub worker_cores: Vec<usize>,

    /// EAL arguments, as one string (e.g. "--in-memory --no-pci"). A
    /// unique --file-prefix is added when absent; `-l` defaults to the
    /// control core.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub eal: String,

    /// The control socket.
    #[arg(long, default_value = "/run/sfcd/sfcd.sock")]
    pub socket: PathBuf,

    /// Where accepted state is written (and restored from at start).
    #[arg(long, default_value = "/var/lib/sfcd")]
    pub state_dir: PathBuf,

    /// This node's name (defaults to the host name).
    #[arg(long)]
    pub node_name: Option<String>,

    /// A node label, KEY=VALUE (repeatable): nodeSelectors match these.
    #[arg(long = "node-label", value_name = "KEY=VALUE")]
    pub node_labels: Vec<String>,

    /// DPF YAML applied at start (after the saved state), like `sfcctl
    /// apply -f`. Repeatable.
    #[arg(long = "apply", value_name = "FILE")]
    pub apply: Vec<PathBuf>,

    /// Idle time after which a learned MAC expires (DPF: 10 s).
    #[arg(long, default_value_t = 10_000)]
    pub mac_idle_ms: u32,

    /// Most MACs a learning switch holds; new ones beyond are not learned.
    #[arg(long, default_value_t = 65_536)]
    pub mac_capacity: usize,

    /// Mbufs in the packet pool.
    #[arg(long, default_value_t = 16_384)]
    pub mbufs: u32,

    /// Descriptors per RX and TX queue.
    #[arg(long, default_value_t = 1024)]
    pub queue_size: u16,

    /// Print per-port rates every SECS seconds (0: never).
    #[arg(long, default_value_t = 0.0)]
    pub stats_interval: f64,

    /// Exit after SECS seconds (0: run until SIGTERM).
    #[arg(long, default_value_t = 0.0)]
    pub duration: f64,

    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "sfc_dataplane=debug".
    #[arg(long, default_value = "info")]
    pub log: String,
}

/// A `NAME=VALUE` pair, with an error naming the flag.
pub fn split_pair(flag: &str, s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("{flag} {s:?}: expected NAME=VALUE")),
    }
}

impl Args {
    /// Ports by name, in flag order; duplicate names are an error.
    pub fn port_list(&self) -> Result<Vec<(String, String)>, String> {
        let mut seen = BTreeMap::new();
        let mut out = Vec::new();
        for p in &self.ports {
            let (name, devargs) = split_pair("--port", p)?;
            if devargs.is_empty() {
                return Err(format!("--port {p:?}: empty devargs"));
            }
            if seen.insert(name.clone(), ()).is_some() {
                return Err(format!("--port: port name {name:?} given twice"));
            }
            out.push((name, devargs));
        }
        Ok(out)
    }

    pub fn labels(&self) -> Result<BTreeMap<String, String>, String> {
        self.node_labels
            .iter()
            .map(|l| split_pair("--node-label", l))
            .collect()
    }

    /// EAL arguments with sfcd's defaults filled in.
    pub fn eal_args(&self, control_core: usize) -> Vec<String> {
        let mut args: Vec<String> = self.eal.split_whitespace().map(str::to_owned).collect();
        let has = |a: &[String], flags: &[&str]| {
            a.iter().any(|x| {
                flags
                    .iter()
                    .any(|f| x == f || x.starts_with(&format!("{f}=")))
            })
        };
        if !has(&args, &["--file-prefix"]) {
            args.push("--file-prefix".into());
            args.push(format!("sfcd-{}", std::process::id()));
        }
        if !has(&args, &["-l", "--lcores", "-c"]) {
            args.push("-l".into());
            args.push(control_core.to_string());
        }
        args
    }

    /// The file prefix EAL runs with.
    pub fn file_prefix(eal_args: &[String]) -> Option<String> {
        let mut it = eal_args.iter();
        while let Some(a) = it.next() {
            if a == "--file-prefix" {
                return it.next().cloned();
            }
            if let Some(v) = a.strip_prefix("--file-prefix=") {
                return Some(v.to_owned());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        Args::parse_from(std::iter::once("sfcd").chain(v.iter().copied()))
    }

    #[test]
    fn ports_parse_and_duplicates_are_named() {
        let a = args(&["--port", "p0=net_null0,size=64", "--port", "p1=net_null1"]);
        assert_eq!(
            a.port_list(),
            Ok(vec![
                ("p0".into(), "net_null0,size=64".into()),
                ("p1".into(), "net_null1".into())
            ])
        );
        let a = args(&["--port", "p0=net_null0", "--port", "p0=net_null1"]);
        assert!(a
            .port_list()
            .is_err_and(|e| e.contains("\"p0\" given twice")));
        let a = args(&["--port", "p0"]);
        assert!(a
            .port_list()
            .is_err_and(|e| e.contains("expected NAME=VALUE")));
    }

    #[test]
    fn eal_gets_a_unique_prefix_and_the_control_core() {
        let a = args(&["--eal", "--no-huge -m 512"]);
        let e = a.eal_args(0);
        assert_eq!(
            Args::file_prefix(&e),
            Some(format!("sfcd-{}", std::process::id()))
        );
        assert!(e.windows(2).any(|w| w[0] == "-l" && w[1] == "0"));
        let a = args(&["--eal", "--file-prefix=x -l 1"]);
        let e = a.eal_args(0);
        assert_eq!(Args::file_prefix(&e), Some("x".into()));
        assert_eq!(e.iter().filter(|x| *x == "-l").count(), 1);
    }

    #[test]
    fn labels_parse() {
        let a = args(&["--node-label", "bfb=dk", "--node-label", "zone=a"]);
        assert_eq!(a.labels().map(|l| l.len()), Ok(2));
        let a = args(&["--node-label", "=x"]);
        assert!(a.labels().is_err());
    }
}
