//! The hosted four-partition demo: `cargo run --release -p partnet-examples --bin hosted-demo
//! [-- --pcap PATH]`. See the crate README.
use std::process::ExitCode;

use partnet_examples::cli;
use partnet_examples::hosted::{render, run, Options};

const USAGE: &str = "\
usage: hosted-demo [--pcap PATH] [--tap NAME [--peer IPV4] [--serve SECONDS]]
  --pcap PATH        write the monitor port's capture to PATH (pcapng, default
                     monitor.pcapng)
  --tap NAME         the uplink is the Linux TAP device NAME (the kernel is the outside
                     host; needs CAP_NET_ADMIN or a device set up for this user)
  --peer IPV4        the Linux side's address on the TAP device (default 10.0.0.1)
  --serve SECONDS    with --tap: keep serving for SECONDS after the checks (default 30)
  -h, --help         this text";

fn main() -> ExitCode {
    let parsed = cli::parse(
        "hosted-demo",
        USAGE,
        Options::default(),
        |o, flag, p| {
            match flag {
                "pcap" => o.pcap = cli::path(p)?,
                "tap" => o.tap = Some(cli::parsed(p, "--tap")?),
                "peer" => o.peer = cli::parsed(p, "--peer")?,
                "serve" => o.serve_secs = cli::parsed(p, "--serve")?,
                f => return Err(cli::unknown(f)),
            }
            Ok(())
        },
        |_| Ok(()),
    );
    let opts = match parsed {
        Ok(o) => o,
        Err(code) => return code,
    };
    println!(
        "partnet hosted demo: service partition (vnet-switch), A (virtio-net over shared memory), B (queuing-port pair), {}",
        match &opts.tap {
            Some(t) => format!("the Linux kernel on TAP device `{t}`"),
            None => "a host on an in-memory uplink".to_string(),
        }
    );
    let started = std::time::Instant::now();
    match run(&opts) {
        Ok(report) => {
            print!("{}", render(&report));
            println!(
                "all checks passed in {:.2} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("FAILED: {f}");
            ExitCode::FAILURE
        }
    }
}
