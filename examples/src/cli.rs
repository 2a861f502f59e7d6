//! The command line of every binary here, on `lexopt`: `-h`/`--help` prints the usage on
//! stdout and exits 0; an unknown argument, a missing value or a value that does not
//! parse is named on stderr with the usage, exit 2. Nothing a user types makes a binary
//! panic.

use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

pub use lexopt::{Arg, Error, Parser};

/// Parse the process's arguments into `opts` with `each`, which handles one long flag
/// (its name without `--`; calling [`value`], [`parsed`] or [`path`] for its value) and
/// returns [`unknown`] for any it does not know. `-h`/`--help` are handled here; any
/// other short flag and any bare argument are unknown.
///
/// `Err(code)`: the program is done (help printed, exit 0; or a usage error told,
/// exit 2). `check` runs after the last argument (e.g. to refuse a combination).
pub fn parse<T>(
    name: &str,
    usage: &str,
    mut opts: T,
    mut each: impl FnMut(&mut T, &str, &mut Parser) -> Result<(), Error>,
    check: impl FnOnce(&T) -> Result<(), String>,
) -> Result<T, ExitCode> {
    parse_from(name, usage, Parser::from_env(), &mut opts, &mut each, check)?;
    Ok(opts)
}

fn parse_from<T>(
    name: &str,
    usage: &str,
    mut parser: Parser,
    opts: &mut T,
    each: &mut impl FnMut(&mut T, &str, &mut Parser) -> Result<(), Error>,
    check: impl FnOnce(&T) -> Result<(), String>,
) -> Result<(), ExitCode> {
    let fail = |e: String| {
        // A closed stderr is not worth a panic either.
        let _ = writeln!(std::io::stderr(), "{name}: {e}\n{usage}");
        ExitCode::from(2)
    };
    loop {
        let arg = match parser.next() {
            Ok(Some(a)) => a,
            Ok(None) => break,
            Err(e) => return Err(fail(message(e))),
        };
        let flag = match arg {
            Arg::Short('h') | Arg::Long("help") => {
                // A closed stdout (`| head`) is not worth a panic.
                let _ = writeln!(std::io::stdout(), "{usage}");
                return Err(ExitCode::SUCCESS);
            }
            Arg::Long(name) => name.to_string(),
            other => return Err(fail(message(other.unexpected()))),
        };
        if let Err(e) = each(opts, &flag, &mut parser) {
            return Err(fail(message(e)));
        }
    }
    check(opts).map_err(fail)
}

/// The user's words for a parse error.
fn message(e: Error) -> String {
    match e {
        Error::UnexpectedOption(o) => format!("unknown argument `{o}`"),
        Error::UnexpectedArgument(v) => format!("unknown argument `{}`", v.to_string_lossy()),
        e => e.to_string(),
    }
}

/// The error for a long flag `each` does not know (`name` without `--`).
pub fn unknown(name: &str) -> Error {
    Error::UnexpectedOption(format!("--{name}"))
}

/// The value of `flag`, converted by `convert`; an error names the flag and the value.
pub fn value<T, E: Display>(
    parser: &mut Parser,
    flag: &str,
    convert: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, Error> {
    let v = parser.value()?;
    let s = v
        .to_str()
        .ok_or_else(|| format!("{flag}: `{}` is not UTF-8", v.to_string_lossy()))?;
    convert(s).map_err(|e| format!("{flag}: `{s}`: {e}").into())
}

/// The value of `flag` as a number, an address, a name (anything [`FromStr`]).
pub fn parsed<T: FromStr>(parser: &mut Parser, flag: &str) -> Result<T, Error>
where
    T::Err: Display,
{
    value(parser, flag, str::parse)
}

/// The value of the flag just read, as a path (any bytes).
pub fn path(parser: &mut Parser) -> Result<PathBuf, Error> {
    Ok(parser.value()?.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (Result<(), ExitCode>, u64, Option<PathBuf>) {
        let mut opts = (0u64, None);
        let r = parse_from(
            "t",
            "usage: t",
            Parser::from_args(args),
            &mut opts,
            &mut |o: &mut (u64, Option<PathBuf>), flag: &str, p: &mut Parser| {
                match flag {
                    "n" => o.0 = parsed(p, "--n")?,
                    "pcap" => o.1 = Some(path(p)?),
                    f => return Err(unknown(f)),
                }
                Ok(())
            },
            |o| (o.0 < 100).then_some(()).ok_or("--n: at most 99".into()),
        );
        (r, opts.0, opts.1)
    }

    #[test]
    fn flags_values_help_and_errors() {
        assert_eq!(
            run(&["--n", "7", "--pcap=x"]),
            (Ok(()), 7, Some("x".into()))
        );
        assert_eq!(run(&["--n=8"]).1, 8);
        assert_eq!(run(&["--help"]).0, Err(ExitCode::SUCCESS));
        assert_eq!(run(&["-h"]).0, Err(ExitCode::SUCCESS));
        for bad in [
            &["--x"][..],
            &["--n"],
            &["--n", "x"],
            &["--n", "100"],
            &["v"],
            &["-q"],
        ] {
            assert_eq!(run(bad).0, Err(ExitCode::from(2)), "{bad:?}");
        }
    }

    #[test]
    fn messages_name_what_was_wrong() {
        let e = |args: &[&str]| {
            let mut p = Parser::from_args(args);
            let flag = match p.next().unwrap().unwrap() {
                Arg::Long(f) => f.to_string(),
                _ => unreachable!(),
            };
            let r: Result<u8, _> = match flag.as_str() {
                "n" => parsed(&mut p, "--n"),
                f => Err(unknown(f)),
            };
            message(r.unwrap_err())
        };
        assert_eq!(e(&["--bogus"]), "unknown argument `--bogus`");
        assert!(e(&["--n", "300"]).starts_with("--n: `300`: "));
        assert!(e(&["--n"]).contains("--n"));
    }
}
