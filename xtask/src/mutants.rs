//! `cargo xtask mutants`: mutation testing of the modules that validate what a peer
//! wrote (cargo-mutants), on demand, not in the default test command.
//!
//! Each crate's listed modules are mutated (operators swapped, return values replaced,
//! bodies emptied) and the crate's own tests run against every mutant; a mutant the
//! tests do not notice is *missed*. Mutants that are equivalent to the original (no test
//! can tell them apart) are excluded in `.cargo/mutants.toml`, each with its reason.
//! Results go to `target/mutants/<crate>/mutants.out/` (`missed.txt`, `caught.txt`,
//! `outcomes.json`); the command prints a table of caught / missed / timeouts /
//! unviable per crate and fails when any mutant is missed.

use std::fs;
use std::path::Path;

use crate::{cargo, ensure_cargo_tool, Run};

/// The cargo-mutants release the command installs when it is missing.
const CARGO_MUTANTS: (&str, &str) = ("cargo-mutants", "27.1.0");

/// Seconds a mutant's tests may run before it counts as a timeout (an endless loop
/// the mutation made: detected, as a hang is a failure).
const DEFAULT_TIMEOUT: u32 = 120;

/// The validation modules, per crate.
pub(crate) const MODULES: &[(&str, &[&str])] = &[
    (
        "virtqueue",
        &[
            "virtqueue/src/device.rs",
            "virtqueue/src/driver.rs",
            "virtqueue/src/chain.rs",
            "virtqueue/src/packed.rs",
        ],
    ),
    (
        "queuing-port",
        &[
            "queuing-port/src/region.rs",
            "queuing-port/src/queuing.rs",
            "queuing-port/src/sampling.rs",
        ],
    ),
    (
        "vnet-switch",
        &[
            "vnet-switch/src/wire.rs",
            "vnet-switch/src/policy.rs",
            "vnet-switch/src/forward.rs",
            "vnet-switch/src/adapters/virtio_net/*.rs",
            "vnet-switch/src/adapters/vhost_user/control.rs",
        ],
    ),
];

/// What the command was asked for.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Request {
    /// Per-mutant test time-out in seconds.
    pub timeout: u32,
    /// Crates or files to restrict to (all of [`MODULES`] when empty).
    pub only: Vec<String>,
}

impl Request {
    /// `[--timeout S] [CRATE | FILE ...]`.
    pub(crate) fn parse(args: &[String]) -> Result<Request, String> {
        let mut r = Request {
            timeout: DEFAULT_TIMEOUT,
            only: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--timeout" => {
                    let v = it.next().ok_or("--timeout needs seconds")?;
                    r.timeout = v
                        .parse()
                        .map_err(|_| format!("--timeout: `{v}` is not a number of seconds"))?;
                }
                s if s.starts_with('-') => return Err(format!("unknown option `{s}`")),
                s => {
                    let known = MODULES
                        .iter()
                        .any(|(k, files)| *k == s || files.contains(&s));
                    if !known {
                        return Err(format!(
                            "`{s}` is neither a crate nor a module of the list (see xtask/src/mutants.rs)"
                        ));
                    }
                    r.only.push(s.to_string());
                }
            }
        }
        Ok(r)
    }

    /// The files of crate `krate` this request covers.
    fn files(&self, krate: &str, files: &[&'static str]) -> Vec<&'static str> {
        if self.only.is_empty() || self.only.iter().any(|o| o == krate) {
            return files.to_vec();
        }
        files
            .iter()
            .copied()
            .filter(|f| self.only.iter().any(|o| o == f))
            .collect()
    }
}

/// The counts of one crate's run (from `outcomes.json`).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Counts {
    pub caught: u64,
    pub missed: u64,
    pub timeout: u64,
    pub unviable: u64,
}

impl Counts {
    /// Reads the top-level counters of cargo-mutants' `outcomes.json`.
    pub(crate) fn from_outcomes(json: &str) -> Option<Counts> {
        // The counters are top-level keys after the `outcomes` array; the last match of
        // each key is the top-level one.
        let field = |key: &str| -> Option<u64> {
            let pat = format!("\"{key}\":");
            let at = json.rfind(&pat)? + pat.len();
            let digits: String = json[at..]
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        };
        Some(Counts {
            caught: field("caught")?,
            missed: field("missed")?,
            timeout: field("timeout")?,
            unviable: field("unviable")?,
        })
    }

    /// Share of viable mutants the tests detected (a time-out is detected: the mutant
    /// made the tests hang).
    pub(crate) fn score(&self) -> f64 {
        let viable = self.caught + self.missed + self.timeout;
        if viable == 0 {
            return 1.0;
        }
        (self.caught + self.timeout) as f64 / viable as f64
    }
}

pub(crate) fn mutants(run: &mut Run, req: &Request) {
    if !ensure_cargo_tool(run, "mutants", CARGO_MUTANTS.0, CARGO_MUTANTS.1) {
        return;
    }
    let mut rows = Vec::new();
    for &(krate, files) in MODULES {
        let files = req.files(krate, files);
        if files.is_empty() {
            continue;
        }
        let out = format!("target/mutants/{krate}");
        let _ = fs::remove_dir_all(&out);
        if let Err(e) = fs::create_dir_all(&out) {
            run.fail(&format!("mutants {krate}"), &format!("creating {out}: {e}"));
            continue;
        }
        let timeout = req.timeout.to_string();
        let mut args = vec![
            "mutants",
            "--package",
            krate,
            "--all-features",
            "--no-shuffle",
            "--timeout",
            &timeout,
            "--output",
            &out,
        ];
        for f in &files {
            args.extend(["--file", f]);
        }
        // cargo-mutants exits non-zero when a mutant is missed; the table below says
        // which, so the step is judged by its results file.
        let _ = run.step(&format!("mutants {krate}"), cargo(&args));
        let outcomes = Path::new(&out).join("mutants.out/outcomes.json");
        match fs::read_to_string(&outcomes)
            .ok()
            .and_then(|j| Counts::from_outcomes(&j))
        {
            Some(c) => rows.push((krate, c)),
            None => run.fail(
                &format!("mutants {krate}"),
                &format!("no results in {}", outcomes.display()),
            ),
        }
    }
    println!("\n| crate | caught | missed | timeouts | unviable | detected |");
    println!("|---|---|---|---|---|---|");
    for (krate, c) in &rows {
        println!(
            "| {krate} | {} | {} | {} | {} | {:.1}% |",
            c.caught,
            c.missed,
            c.timeout,
            c.unviable,
            100.0 * c.score()
        );
    }
    for (krate, c) in &rows {
        if c.missed > 0 {
            let list = fs::read_to_string(format!("target/mutants/{krate}/mutants.out/missed.txt"))
                .unwrap_or_default();
            println!("\nmissed in {krate}:\n{list}");
            run.fail(
                &format!("mutants {krate}"),
                &format!("{} mutants missed", c.missed),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_pick_crates_and_files() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let r = Request::parse(&s(&["--timeout", "30", "virtqueue/src/chain.rs"])).unwrap();
        assert_eq!(r.timeout, 30);
        assert_eq!(
            r.files("virtqueue", MODULES[0].1),
            ["virtqueue/src/chain.rs"]
        );
        assert!(r.files("queuing-port", MODULES[1].1).is_empty());
        let r = Request::parse(&s(&["queuing-port"])).unwrap();
        assert_eq!(r.files("queuing-port", MODULES[1].1).len(), 3);
        assert!(Request::parse(&s(&["nowhere.rs"])).is_err());
        assert!(Request::parse(&s(&["--timeout", "x"])).is_err());
        assert!(Request::parse(&s(&["--bogus"])).is_err());
    }

    #[test]
    fn outcome_counts_are_the_top_level_ones() {
        let json = r#"{"outcomes":[{"summary":"CaughtMutant","missed": 9}],
            "total_mutants": 100, "missed": 7, "caught": 81, "timeout": 2,
            "unviable": 10, "success": 0}"#;
        let c = Counts::from_outcomes(json).unwrap();
        assert_eq!(
            c,
            Counts {
                caught: 81,
                missed: 7,
                timeout: 2,
                unviable: 10
            }
        );
        assert!((c.score() - 83.0 / 90.0).abs() < 1e-9);
        assert_eq!(Counts::from_outcomes("{}"), None);
    }
}
