//! sfc-pktgen: the traffic generator sfcd is measured with. See
//! docs/performance.md.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cli;
mod engine;
mod frame;
mod pacing;
mod report;
mod rfc2544;
mod stats;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use sfc_dataplane::dpdk::Eal;

use cli::Args;
use engine::{Generator, TrialSpec};
use frame::FlowSpec;
use report::{Report, Rfc2544Report};

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sfc-pktgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_pcap(args: &Args, path: &std::path::Path) -> Result<(), String> {
    let streams = args.streams.max(1);
    let spec = FlowSpec {
        port: args.stream,
        peer: (args.stream.wrapping_add(1)) % streams,
        macs: args.macs,
        flows: args.flows,
    };
    let count = args
        .count
        .unwrap_or_else(|| args.macs.max(args.flows))
        .max(1);
    let sizes = args.size.trials().into_iter().flatten().collect::<Vec<_>>();
    let mut frames = Vec::with_capacity(count as usize);
    for i in 0..count {
        let size = sizes
            .get(i as usize % sizes.len().max(1))
            .copied()
            .unwrap_or(64);
        let mut f = frame::template(&spec, size);
        frame::set_addresses(&mut f, &spec, i % spec.macs, i % spec.flows);
        frame::stamp(&mut f, 0, u64::from(i), 0);
        frames.push(f);
    }
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    frame::write_pcap(std::io::BufWriter::new(file), &frames)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("wrote {count} frames to {}", path.display());
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    if let Some(p) = &args.write_pcap {
        return write_pcap(args, p);
    }
    if !(args.duration > 0.0 && args.duration < 1e6) {
        return Err(format!(
            "--duration {}: expected seconds > 0",
            args.duration
        ));
    }
    if !(0.0..=1.0).contains(&args.loss) {
        return Err(format!("--loss {}: expected a ratio 0..1", args.loss));
    }
    if args.ports.len() > 255 {
        return Err("at most 255 ports".into());
    }
    let replay = match &args.pcap {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Some(Arc::new(
                frame::read_pcap(&bytes).map_err(|e| format!("{}: {e}", p.display()))?,
            ))
        }
        None => None,
    };
    let eal = Eal::init(cli::eal_args(&args.eal, std::process::id())).map_err(|e| e.to_string())?;
    let result = run_trials(args, replay);
    drop(eal);
    let report = result?;
    if args.json {
        let s = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        println!("{s}");
    } else {
        report::print_human(&report);
    }
    Ok(())
}

fn run_trials(args: &Args, replay: Option<Arc<Vec<Vec<u8>>>>) -> Result<Report, String> {
    let mut gen = Generator::new(
        &args.ports,
        &args.cores,
        args.mbufs,
        args.desc,
        args.link_wait,
    )?;
    let mut report = Report {
        tool: "sfc-pktgen",
        version: env!("CARGO_PKG_VERSION"),
        dpdk: Eal::version(),
        ports: args.ports.clone(),
        macs: args.macs,
        flows: args.flows,
        tsc_hz: sfc_dataplane::dpdk::TscClock::new().hz(),
        trials: Vec::new(),
        rfc2544: Vec::new(),
    };
    let speed = gen.speed_mbps();
    let mut trial_no: u8 = 0;
    for sizes in args.size.trials() {
        let mean = frame::mean_size(&sizes);
        let pps = match args.rate.pps(speed, mean) {
            None if !matches!(args.rate, pacing::Rate::Max) => {
                return Err(format!(
                    "--rate {:?}: the port reports no link speed ({speed} Mbit/s); give PPS",
                    args.rate
                ))
            }
            p => p,
        };
        let mut spec = TrialSpec {
            trial: 0,
            sizes: sizes.clone(),
            pps,
            duration: Duration::from_secs_f64(args.duration),
            drain: Duration::from_millis(args.drain_ms),
            macs: args.macs,
            flows: args.flows,
            tx_ports: args.tx_ports.clone(),
            replay: replay.clone(),
            progress: !args.quiet,
        };
        let mut next = |spec: &mut TrialSpec| {
            trial_no = trial_no.wrapping_add(1).max(1);
            spec.trial = trial_no;
        };
        if !args.rfc2544 {
            next(&mut spec);
            report.trials.push(gen.run(&spec)?);
            continue;
        }
        // RFC 2544: the top of the search is the given rate, or what the
        // generator reaches unpaced.
        let top = match pps {
            Some(p) => p,
            None => {
                next(&mut spec);
                let t = gen.run(&spec)?;
                let top = t.tx as f64 / t.seconds.max(1e-9);
                report.trials.push(t);
                top
            }
        };
        let mut trials = Vec::new();
        let search = rfc2544::Search {
            loss: args.loss,
            resolution: args.resolution,
            max_trials: 20,
        };
        let res = rfc2544::search(&search, top, |rate| {
            spec.pps = Some(rate);
            next(&mut spec);
            if !args.quiet {
                eprintln!("rfc2544: trial at {:.3} Mpps", rate / 1e6);
            }
            let t = gen.run(&spec)?;
            let o = t.outcome();
            trials.push(t);
            Ok::<_, String>(o)
        })?;
        let at = res
            .trials
            .iter()
            .zip(&trials)
            .filter(|((o, pass), _)| *pass && o.offered_pps == res.throughput_pps)
            .map(|(_, t)| t.clone())
            .next_back();
        report.rfc2544.push(Rfc2544Report {
            size: frame::SizeSpec::label(&sizes),
            loss_threshold: args.loss,
            throughput_pps: res.throughput_pps,
            throughput_mpps: res.throughput_pps / 1e6,
            at_throughput: at,
            trials,
        });
    }
    let _ = gen.port_count();
    Ok(report)
}
