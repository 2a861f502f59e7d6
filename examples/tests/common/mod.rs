//! Helpers shared by the example crate's integration tests.

use std::process::Command;

/// The tshark command, after checking it runs; fails naming the Debian package when it
/// is missing (the test command installs it).
pub fn tshark() -> &'static str {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "tshark is not on PATH: install the Debian package `tshark` \
         (apt-get install -y tshark; `cargo xtask test` does it)"
    );
    "tshark"
}
