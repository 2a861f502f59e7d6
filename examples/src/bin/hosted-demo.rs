//! The hosted four-partition demo: `cargo run --release -p partnet-examples --bin hosted-demo
//! [-- --pcap PATH]`. See the crate README.
use std::path::PathBuf;
use std::process::ExitCode;

use partnet_examples::hosted::{render, run, Options};

const USAGE: &str = "usage: hosted-demo [--pcap PATH]";

fn parse() -> Result<Options, String> {
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pcap" => {
                opts.pcap = PathBuf::from(args.next().ok_or("--pcap needs a path")?);
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let opts = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!("partnet hosted demo: service partition (vnet-switch), A (virtio-net over shared memory), B (queuing-port pair), host on the uplink");
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
