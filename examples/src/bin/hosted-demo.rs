//! The hosted four-partition demo: `cargo run --release -p partnet-examples --bin hosted-demo
//! [-- --pcap PATH]`. See the crate README.
use std::path::PathBuf;
use std::process::ExitCode;

use partnet_examples::hosted::{render, run, Options};

const USAGE: &str = "usage: hosted-demo [--pcap PATH] [--tap NAME [--peer IPV4] [--serve SECONDS]]";

/// The options; `None` for `--help`.
fn parse() -> Result<Option<Options>, String> {
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pcap" => {
                opts.pcap = PathBuf::from(args.next().ok_or("--pcap needs a path")?);
            }
            "--tap" => opts.tap = Some(args.next().ok_or("--tap needs a device name")?),
            "--peer" => {
                let v = args.next().ok_or("--peer needs an IPv4 address")?;
                opts.peer = v
                    .parse()
                    .map_err(|_| format!("--peer: `{v}` is not an IPv4 address"))?;
            }
            "--serve" => {
                let v = args.next().ok_or("--serve needs seconds")?;
                opts.serve_secs = v
                    .parse()
                    .map_err(|_| format!("--serve: `{v}` is not a number"))?;
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(Some(opts))
}

fn main() -> ExitCode {
    let opts = match parse() {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
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
