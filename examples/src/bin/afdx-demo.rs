//! The AFDX demo: `cargo run --release -p partnet-examples --bin afdx-demo [-- OPTIONS]`.
//! Two end systems back to back over networks A and B, three partitions' ports bridged,
//! network A failing mid-run. See `partnet_examples::afdx_demo`.
use std::process::ExitCode;

use partnet_examples::afdx_demo::{render, run, Options};
use partnet_examples::cli;

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

fn main() -> ExitCode {
    let parsed = cli::parse(
        "afdx-demo",
        USAGE,
        Options::default(),
        |o, flag, p| {
            match flag {
                "pcap" => o.pcap = Some(cli::path(p)?),
                "duration-ms" => o.duration_ms = cli::parsed(p, "--duration-ms")?,
                "fail-a-at-ms" => o.fail_a_at_ms = Some(cli::parsed(p, "--fail-a-at-ms")?),
                "no-failure" => o.fail_a_at_ms = None,
                "commands" => o.commands = cli::parsed(p, "--commands")?,
                "statuses" => o.statuses = cli::parsed(p, "--statuses")?,
                f => return Err(cli::unknown(f)),
            }
            Ok(())
        },
        |o| {
            if o.duration_ms > 3_600_000 {
                Err("--duration-ms: at most one hour of simulated time".into())
            } else {
                Ok(())
            }
        },
    );
    let opts = match parsed {
        Ok(o) => o,
        Err(code) => return code,
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
