//! The multi-process variant: `cargo run --release -p partnet-examples --bin multi-process`.
//! Without arguments it is the service partition and spawns A and B from itself
//! (`--role a|b --shm PREFIX`). See the crate README.
use std::process::ExitCode;

use partnet_examples::cli;
use partnet_examples::multi::{current_exe, default_prefix, run_a, run_b, run_service};

const USAGE: &str = "\
usage: multi-process [--role a|b --shm PREFIX]
  without arguments: the service partition, which starts A and B itself as child
  processes of this program and checks them
  --role a|b      run as partition A or B (what the service partition starts)
  --shm PREFIX    the /dev/shm name prefix of the channels (default: one per process id)
  -h, --help      this text";

/// Which partition a child process is.
#[derive(Clone, Copy)]
enum Role {
    A,
    B,
}

fn main() -> ExitCode {
    let parsed = cli::parse(
        "multi-process",
        USAGE,
        (None, None),
        |(role, shm): &mut (Option<Role>, Option<String>), flag, p| {
            match flag {
                "role" => {
                    *role = Some(cli::value(p, "--role", |s| match s {
                        "a" => Ok(Role::A),
                        "b" => Ok(Role::B),
                        _ => Err("a role is `a` or `b`"),
                    })?)
                }
                "shm" => *shm = Some(cli::parsed(p, "--shm")?),
                f => return Err(cli::unknown(f)),
            }
            Ok(())
        },
        |_| Ok(()),
    );
    let (role, shm) = match parsed {
        Ok(x) => x,
        Err(code) => return code,
    };
    let prefix = shm.unwrap_or_else(default_prefix);
    let r = match role {
        Some(Role::A) => run_a(&prefix),
        Some(Role::B) => run_b(&prefix),
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
