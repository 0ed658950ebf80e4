//! sfcd's command line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;

/// sfcd: the DPF service-chain dataplane of one node.
#[derive(Debug, Clone, Parser)]
#[command(name = "sfcd", version, about)]
pub struct Args {
    /// A YAML config file (see docs/running.md); flags given on the command
    /// line win over its values. Unknown keys are rejected.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Mode of the control socket, octal (0600: root only; 0660 with
    /// --socket-group for a group).
    #[arg(long, default_value = "0600", value_parser = parse_mode)]
    pub socket_mode: u32,

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

    /// Group that owns the socket (with --socket-mode 0660, its members
    /// may connect).
    #[arg(long, value_name = "GROUP")]
    pub socket_group: Option<String>,

    /// A uid allowed on the socket besides root and sfcd's own (repeatable).
    /// Peers are checked with SO_PEERCRED.
    #[arg(long = "allow-uid", value_name = "UID")]
    pub allow_uids: Vec<u32>,

    /// A gid whose members (primary group of the peer) are allowed on the
    /// socket (repeatable); --socket-group is allowed too.
    #[arg(long = "allow-gid", value_name = "GID")]
    pub allow_gids: Vec<u32>,

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

    /// Never program the embedded switch (rte_flow): everything forwards in
    /// software.
    #[arg(long)]
    pub no_offload: bool,

    /// Serve Prometheus metrics on this TCP address (e.g. 127.0.0.1:9590);
    /// off when not given.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "sfc_dataplane=debug".
    #[arg(long, default_value = "info")]
    pub log: String,
}

fn parse_mode(s: &str) -> Result<u32, String> {
    let m = u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .map_err(|_| format!("{s:?} is not an octal mode like 0600"))?;
    if m > 0o777 {
        return Err(format!("{s:?}: mode beyond 0777"));
    }
    Ok(m)
}

/// The config file: the same settings as the flags, in YAML.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileConfig {
    #[serde(default)]
    pub node: Option<FileNode>,
    /// name -> devargs
    #[serde(default)]
    pub ports: BTreeMap<String, String>,
    #[serde(default)]
    pub worker_cores: Option<Vec<usize>>,
    /// Extra EAL arguments.
    #[serde(default)]
    pub eal: Option<Vec<String>>,
    #[serde(default)]
    pub socket: Option<PathBuf>,
    /// Octal, as a string ("0600").
    #[serde(default)]
    pub socket_mode: Option<String>,
    #[serde(default)]
    pub socket_group: Option<String>,
    #[serde(default)]
    pub allow_uids: Option<Vec<u32>>,
    #[serde(default)]
    pub allow_gids: Option<Vec<u32>>,
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    #[serde(default)]
    pub apply: Option<Vec<PathBuf>>,
    #[serde(default)]
    pub mac_idle_ms: Option<u32>,
    #[serde(default)]
    pub mac_capacity: Option<usize>,
    #[serde(default)]
    pub mbufs: Option<u32>,
    #[serde(default)]
    pub queue_size: Option<u16>,
    #[serde(default)]
    pub log: Option<String>,
    #[serde(default)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileNode {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl FileConfig {
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("config {}: {e}", path.display()))?;
        serde_yaml::from_str(&text).map_err(|e| format!("config {}: {e}", path.display()))
    }
}

impl Args {
    /// Flags from the command line, completed by the config file where a
    /// flag was not given; also what a SIGHUP needs to redo the merge.
    pub fn from_command_line() -> Result<(Args, Reload), String> {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Args::command().get_matches();
        let cli = Args::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        let given: Vec<String> = matches
            .ids()
            .filter(|id| {
                matches.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|id| id.as_str().to_owned())
            .collect();
        let reload = Reload { cli, given };
        let args = reload.load()?;
        Ok((args, reload))
    }

    /// Takes each setting from `file` unless `given(flag id)`.
    pub fn merge(&mut self, file: FileConfig, given: &dyn Fn(&str) -> bool) -> Result<(), String> {
        // Ports and labels add up; a flag wins for the same name.
        let flag_ports: Vec<String> = self
            .ports
            .iter()
            .filter_map(|p| p.split_once('=').map(|(n, _)| n.to_owned()))
            .collect();
        let mut ports: Vec<String> = file
            .ports
            .iter()
            .filter(|(n, _)| !flag_ports.contains(n))
            .map(|(n, d)| format!("{n}={d}"))
            .collect();
        ports.append(&mut self.ports);
        self.ports = ports;
        if let Some(node) = file.node {
            if !given("node_name") && node.name.is_some() {
                self.node_name = node.name;
            }
            let flag_labels: Vec<String> = self
                .node_labels
                .iter()
                .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_owned()))
                .collect();
            let mut labels: Vec<String> = node
                .labels
                .iter()
                .filter(|(k, _)| !flag_labels.contains(k))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            labels.append(&mut self.node_labels);
            self.node_labels = labels;
        }
        macro_rules! take {
            ($field:ident, $id:literal) => {
                if let Some(v) = file.$field {
                    if !given($id) {
                        self.$field = v;
                    }
                }
            };
        }
        take!(worker_cores, "worker_cores");
        take!(socket, "socket");
        take!(state_dir, "state_dir");
        take!(apply, "apply");
        take!(mac_idle_ms, "mac_idle_ms");
        take!(mac_capacity, "mac_capacity");
        take!(mbufs, "mbufs");
        take!(queue_size, "queue_size");
        take!(log, "log");
        take!(allow_uids, "allow_uids");
        take!(allow_gids, "allow_gids");
        if let Some(g) = file.socket_group {
            if !given("socket_group") {
                self.socket_group = Some(g);
            }
        }
        if let Some(m) = file.metrics_addr {
            if !given("metrics_addr") {
                self.metrics_addr = Some(m);
            }
        }
        if let Some(e) = file.eal {
            if !given("eal") {
                self.eal = e.join(" ");
            }
        }
        if let Some(m) = file.socket_mode {
            if !given("socket_mode") {
                self.socket_mode = parse_mode(&m).map_err(|e| format!("config socketMode: {e}"))?;
            }
        }
        Ok(())
    }
}

/// The command line as given, to merge with the config file again on
/// SIGHUP.
#[derive(Debug, Clone)]
pub struct Reload {
    pub cli: Args,
    pub given: Vec<String>,
}

impl Reload {
    /// The command line merged with the config file as it is now.
    pub fn load(&self) -> Result<Args, String> {
        let mut args = self.cli.clone();
        if let Some(path) = args.config.clone() {
            let file = FileConfig::load(&path)?;
            let given = |id: &str| self.given.iter().any(|g| g == id);
            args.merge(file, &given)?;
        }
        Ok(args)
    }
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
    fn the_config_file_fills_what_flags_do_not_give() {
        let file: FileConfig = serde_yaml::from_str(
            "node: {name: dpu1, labels: {bfb: dk, zone: a}}\nports: {p0: net_null0, p1: net_null1}\nsocket: /tmp/x.sock\nsocketMode: \"0660\"\nmacIdleMs: 5000\neal: [--no-huge, -m, '512']\n",
        )
        .unwrap_or_default();
        let mut a = args(&[
            "--port",
            "p1=net_tap0",
            "--node-label",
            "zone=b",
            "--mac-idle-ms",
            "7000",
        ]);
        let given = |id: &str| ["ports", "node_labels", "mac_idle_ms"].contains(&id);
        assert_eq!(a.merge(file, &given), Ok(()));
        assert_eq!(a.port_list().map(|p| p.len()), Ok(2));
        assert!(a.ports.contains(&"p1=net_tap0".to_owned()));
        assert_eq!(
            a.labels().ok().and_then(|l| l.get("zone").cloned()),
            Some("b".into())
        );
        assert_eq!(a.node_name.as_deref(), Some("dpu1"));
        assert_eq!(a.mac_idle_ms, 7000);
        assert_eq!(a.socket, PathBuf::from("/tmp/x.sock"));
        assert_eq!(a.socket_mode, 0o660);
        assert_eq!(a.eal, "--no-huge -m 512");
    }

    #[test]
    fn unknown_config_keys_are_rejected_by_name() {
        let e = serde_yaml::from_str::<FileConfig>("sockett: /x\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("sockett"), "{e}");
        assert!(parse_mode("0999").is_err());
        assert_eq!(parse_mode("0640"), Ok(0o640));
    }

    #[test]
    fn labels_parse() {
        let a = args(&["--node-label", "bfb=dk", "--node-label", "zone=a"]);
        assert_eq!(a.labels().map(|l| l.len()), Ok(2));
        let a = args(&["--node-label", "=x"]);
        assert!(a.labels().is_err());
    }
}
