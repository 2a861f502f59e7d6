//! The multi-process variant: `cargo run --release -p partnet-examples --bin multi-process`.
//! Without arguments it is the service partition and spawns A and B from itself
//! (`--role a|b --shm PREFIX`). See the crate README.
use std::process::ExitCode;

use partnet_examples::multi::{current_exe, default_prefix, run_a, run_b, run_service};

const USAGE: &str = "usage: multi-process [--role a|b --shm PREFIX]  (without arguments: the service partition, which starts A and B itself)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--role" | "--shm" if it.next().is_some() => {}
            "--role" | "--shm" => {
                eprintln!("{a} needs a value\n{USAGE}");
                return ExitCode::from(2);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let prefix = arg("--shm").unwrap_or_else(default_prefix);
    let r = match arg("--role").as_deref() {
        Some("a") => run_a(&prefix),
        Some("b") => run_b(&prefix),
        Some(other) => Err(format!("unknown role `{other}` (a or b)")),
        None => {
            println!("partnet multi-process demo: service partition (this process), A and B as child processes over /dev/shm");
            match current_exe().and_then(|exe| run_service(&exe, &prefix)) {
                Ok(r) => {
                    for c in &r.checks {
                        println!("  ok  {c}");
                    }
                    for f in &r.faults {
                        println!("  reported: {f}");
                    }
                    println!(
                        "  ok  A's traffic while B was down: {}/{} echoes after the kill, {}/{} after the garbage",
                        r.a_during_faults.0,
                        partnet_examples::multi::A_ECHOES,
                        r.a_during_faults.1,
                        partnet_examples::multi::A_ECHOES
                    );
                    Ok(())
                }
                Err(f) => Err(f.to_string()),
            }
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
