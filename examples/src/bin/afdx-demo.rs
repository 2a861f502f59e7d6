//! The AFDX demo: `cargo run --release -p partnet-examples --bin afdx-demo [-- OPTIONS]`.
//! Two end systems back to back over networks A and B, three partitions' ports bridged,
//! network A failing mid-run. See `partnet_examples::afdx_demo`.
use std::path::PathBuf;
use std::process::ExitCode;

use partnet_examples::afdx_demo::{render, run, Options};

const USAGE: &str = "\
usage: afdx-demo [--pcap PATH] [--duration-ms MS] [--fail-a-at-ms MS | --no-failure]
                 [--commands N] [--statuses N]
  --pcap PATH         write every frame of networks A and B to PATH (classic pcap)
  --duration-ms MS    simulated run time (default 2000)
  --fail-a-at-ms MS   network A loses every frame from MS on (default 1000)
  --no-failure        network A never fails
  --commands N        queuing messages P1 sends to P3 (default 800, one per 2 ms BAG)
  --statuses N        queuing messages P3 sends to P1 (default 200, one per 8 ms BAG)
  -h, --help          this text";

fn number(flag: &str, v: Option<String>) -> Result<u64, String> {
    let v = v.ok_or(format!("{flag} needs a number\n{USAGE}"))?;
    v.parse()
        .map_err(|_| format!("{flag}: `{v}` is not a number\n{USAGE}"))
}

fn parse() -> Result<Option<Options>, String> {
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pcap" => {
                opts.pcap = Some(PathBuf::from(
                    args.next().ok_or(format!("--pcap needs a path\n{USAGE}"))?,
                ));
            }
            "--duration-ms" => opts.duration_ms = number(&a, args.next())?,
            "--fail-a-at-ms" => opts.fail_a_at_ms = Some(number(&a, args.next())?),
            "--no-failure" => opts.fail_a_at_ms = None,
            "--commands" => {
                opts.commands = u32::try_from(number(&a, args.next())?)
                    .map_err(|_| format!("--commands: too large\n{USAGE}"))?
            }
            "--statuses" => {
                opts.statuses = u32::try_from(number(&a, args.next())?)
                    .map_err(|_| format!("--statuses: too large\n{USAGE}"))?
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if opts.duration_ms > 3_600_000 {
        return Err(format!(
            "--duration-ms: at most one hour of simulated time\n{USAGE}"
        ));
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
        "partnet AFDX demo: two end systems over networks A and B, {} ms simulated, {}",
        opts.duration_ms,
        match opts.fail_a_at_ms {
            Some(t) => format!("network A fails at {t} ms"),
            None => "no failure".to_string(),
        }
    );
    match run(&opts) {
        Ok(report) => {
            print!("{}", render(&report));
            let lost = (report.commands.sent - report.commands.delivered)
                + (report.status.sent - report.status.delivered);
            if lost > 0 {
                eprintln!("FAILED: {lost} queuing messages were not delivered");
                return ExitCode::FAILURE;
            }
            println!("no queuing message lost");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
