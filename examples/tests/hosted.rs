//! The hosted demo's scenario, asserted: connectivity between every pair, the spoofing
//! attempt dropped and recorded with its verdict, B's flood held to its budget with A
//! unaffected, and the pcapng file read back. Also: the binary exits nonzero with a
//! clear message when an expectation cannot be met.

use std::process::Command;

mod common;

use partnet_examples::hosted::{run, spoofed_frame, Options, A_ECHOES, SPOOFS};
use partnet_examples::service::{Plan, PORT_A, PORT_B};
use vnet_switch::pcapng::Packets;
use vnet_switch::DropReason;

fn temp_pcap(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("partnet-hosted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
#[cfg_attr(
    miri,
    ignore = "three smoltcp stacks for seconds of virtual time: too slow under Miri"
)]
fn the_hosted_scenario_holds_and_the_pcap_shows_it() {
    let pcap = temp_pcap("monitor.pcapng");
    let report = run(&Options {
        pcap: pcap.clone(),
        ..Options::default()
    })
    .unwrap_or_else(|f| panic!("{f}"));
    let plan = Plan::default();

    // Ping, UDP and TCP echo for the six ordered pairs of A, B and the host, and A -> B
    // once more after the forgery.
    assert_eq!(report.checks.len(), 19);
    assert_eq!(report.checks[18].name, "UDP echo A -> B after the forgery");
    for who in [
        "A -> B",
        "B -> A",
        "A -> Host",
        "Host -> A",
        "B -> Host",
        "Host -> B",
    ] {
        for kind in ["ping", "UDP echo", "TCP echo"] {
            assert!(
                report
                    .checks
                    .iter()
                    .any(|c| c.name.starts_with(&format!("{kind} {who}"))),
                "missing {kind} {who}"
            );
        }
    }

    // The spoofing attempt: every forged frame dropped as spoofed, on A's port.
    assert_eq!(report.spoofed, (SPOOFS, SPOOFS));
    let a = &report.stats[PORT_A.index()];
    let b = &report.stats[PORT_B.index()];
    assert_eq!(a.drops(DropReason::Spoofed), SPOOFS);
    assert_eq!(a.total_drops(), SPOOFS, "A lost nothing else");

    // The flood: held to the budget, the rest dropped over budget, A unaffected.
    let f = report
        .flood
        .as_ref()
        .expect("the flood runs with the in-memory uplink");
    assert!(f.offered > f.allowed, "the flood exceeds the budget");
    assert!(f.forwarded <= f.allowed);
    assert_eq!(f.offered, f.forwarded + f.rate_drops);
    assert_eq!(b.drops(DropReason::Rate), f.rate_drops);
    assert_eq!(f.a_ok, (A_ECHOES, A_ECHOES));
    assert_eq!(f.a_drops, 0);

    // The pcapng file, read back on its own.
    let file = std::fs::read(&pcap).unwrap();
    let packets: Vec<_> = Packets::new(&file)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(packets.len() as u64, report.pcap.1);
    let spoof = spoofed_frame(&plan);
    let spoofed: Vec<_> = packets.iter().filter(|p| p.data == spoof).collect();
    assert_eq!(spoofed.len() as u64, SPOOFS);
    for p in spoofed {
        assert_eq!(
            p.comment,
            Some("from port 1 (A (virtio-net)): dropped: spoofed source address")
        );
    }
    let over_budget = packets
        .iter()
        .filter(|p| p.comment == Some("from port 2 (B (queuing-port)): dropped: over rate budget"))
        .count() as u64;
    assert_eq!(over_budget, f.rate_drops);
    for mac in [plan.mac_a, plan.mac_b, partnet_examples::hosted::MAC_HOST] {
        assert!(
            packets
                .iter()
                .any(|p| p.data[6..12] == mac && p.data[12..14] == [0x08, 0x06]),
            "an ARP frame from {mac:02x?}"
        );
    }
    // tshark reads the same file: the drops with their port (interface), direction
    // and reason.
    let out = Command::new(common::tshark())
        .arg("-r")
        .arg(&pcap)
        .args(["-Y", "frame.comment contains \"dropped\""])
        .args([
            "-T",
            "fields",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.p2p_dir",
        ])
        .args(["-e", "frame.comment"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len() as u64, SPOOFS + f.rate_drops);
    let spoofs = rows
        .iter()
        .filter(|r| {
            r[..]
                == [
                    "A (virtio-net)",
                    "1",
                    "from port 1 (A (virtio-net)): dropped: spoofed source address",
                ]
        })
        .count() as u64;
    assert_eq!(spoofs, SPOOFS);
    // Timestamps never go backwards.
    assert!(packets.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
    let _ = std::fs::remove_file(&pcap);
}

#[test]
#[cfg_attr(miri, ignore = "runs a process")]
fn the_binary_fails_with_a_clear_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_hosted-demo"))
        .args(["--pcap", "/nonexistent-dir/monitor.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("FAILED: check `set-up` failed: creating /nonexistent-dir/monitor.pcap:"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hosted-demo"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument `--bogus`"));
}
