//! The AFDX demo, asserted with numbers: no queuing message lost or duplicated when
//! network A fails mid-run, the sampling port always fresh and valid, and the capture of
//! both networks read back by tshark as Ethernet/IPv4/UDP with the VL in the destination
//! MAC and the sequence number after the UDP payload.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

mod common;
use common::tshark;

use partnet_examples::afdx_demo::{
    run, Options, MSG_LEN, UDP_AIR_DATA, UDP_COMMANDS, UDP_STATUS, VL_AIR_DATA, VL_COMMANDS,
    VL_STATUS,
};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("partnet-afdx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn network_a_fails_and_no_queuing_message_is_lost() {
    let opts = Options::default();
    let r = run(&opts).unwrap_or_else(|e| panic!("{e}"));
    // Queuing ports: every message, once, in order (the run checks the order).
    assert_eq!((r.commands.sent, r.commands.delivered), (800, 800));
    assert_eq!((r.status.sent, r.status.delivered), (200, 200));
    // Before the failure at 1000 ms network A's copies won (one command per 2 ms BAG,
    // one status per 8 ms), after it network B's.
    assert_eq!((r.commands.via_a, r.commands.via_b), (500, 300));
    assert_eq!((r.status.via_a, r.status.via_b), (125, 75));
    assert_eq!(r.commands.redundant_b, 500);
    assert_eq!(r.status.redundant_b, 125);
    assert_eq!(r.a_after_failure, 0);
    assert_eq!(r.integrity_errors, 0);
    // Sampling port: read every 100 µs, always valid, never older than the BAG (4 ms)
    // plus P2's write period (1 ms), and the last value is from the end of the run.
    assert_eq!(r.air_written, 2001);
    assert!(r.air_reads >= 19_990, "{}", r.air_reads);
    assert_eq!(r.air_invalid, 0);
    assert!(r.air_max_age_us <= 5000, "age {} µs", r.air_max_age_us);
    assert!(r.air_last >= 1_995_000, "last {} µs", r.air_last);
    // Every frame went out on both networks, within the jitter bound.
    assert_eq!(r.frames[0], r.frames[1]);
    assert_eq!(r.frames[0], 800 + 200 + 501);
    assert!(r.max_jitter_ns <= 500_000);
}

#[test]
fn without_failure_network_b_copies_are_all_redundant() {
    let r = run(&Options {
        fail_a_at_ms: None,
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.commands.delivered, 800);
    assert_eq!((r.commands.via_a, r.commands.via_b), (800, 0));
    assert_eq!(r.commands.redundant_b, 800);
    assert_eq!((r.status.via_a, r.status.redundant_b), (200, 200));
}

/// The frames' fields as tshark decodes them.
#[derive(Debug)]
struct Row {
    eth_dst: String,
    eth_src: String,
    ip_src: String,
    ip_dst: String,
    udp_dst: u16,
    udp_len: usize,
    payload: Vec<u8>,
    trailer: Vec<u8>,
    ip_checksum_good: bool,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn tshark_decodes_the_capture_of_both_networks() {
    let tshark = tshark();
    let pcap = temp("afdx.pcap");
    let r = run(&Options {
        pcap: Some(pcap.clone()),
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(tshark)
        .args(["-o", "ip.check_checksum:TRUE", "-r"])
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "eth.dst",
            "-e",
            "eth.src",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "udp.dstport",
            "-e",
            "udp.length",
            "-e",
            "udp.payload",
            "-e",
            "eth.trailer",
            "-e",
            "ip.checksum.status",
        ])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Row> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 9, "not Ethernet/IPv4/UDP: {l}");
            Row {
                eth_dst: f[0].into(),
                eth_src: f[1].into(),
                ip_src: f[2].into(),
                ip_dst: f[3].into(),
                udp_dst: f[4].parse().unwrap_or_else(|_| panic!("no UDP port: {l}")),
                udp_len: f[5]
                    .parse()
                    .unwrap_or_else(|_| panic!("no UDP length: {l}")),
                payload: hex(f[6]),
                trailer: hex(f[7]),
                ip_checksum_good: f[8] == "1",
            }
        })
        .collect();
    assert_eq!(rows.len() as u64, r.captured);
    assert_eq!(rows.len() as u64, r.frames[0] + r.frames[1]);

    let vls = [
        (VL_COMMANDS, UDP_COMMANDS, "10.1.1.1"),
        (VL_AIR_DATA, UDP_AIR_DATA, "10.1.1.1"),
        (VL_STATUS, UDP_STATUS, "10.1.2.1"),
    ];
    // Per (VL, network): the sequence numbers in capture order.
    let mut seqs: HashMap<(u16, String), Vec<u8>> = HashMap::new();
    for row in &rows {
        // The VL id in the destination MAC, and the multicast IP naming the same VL.
        let vl = u16::from_str_radix(&row.eth_dst[12..].replace(':', ""), 16).unwrap();
        assert!(row.eth_dst.starts_with("03:00:00:00:"), "{row:?}");
        assert_eq!(row.ip_dst, format!("224.224.{}.{}", vl >> 8, vl & 0xff));
        let &(_, udp, src) = vls
            .iter()
            .find(|v| v.0 == vl)
            .unwrap_or_else(|| panic!("unknown VL in {row:?}"));
        assert_eq!(row.udp_dst, udp);
        assert_eq!(row.ip_src, src);
        assert!(row.ip_checksum_good, "IPv4 header checksum: {row:?}");
        // UDP length: 8 + the 32-byte message; the one byte after it is the sequence number.
        assert_eq!(row.udp_len, 8 + MSG_LEN);
        assert_eq!(row.payload.len(), MSG_LEN);
        assert_eq!(
            row.trailer.len(),
            1,
            "one sequence byte after the UDP payload"
        );
        // The network in the source MAC's interface id: 001 = A, 010 = B.
        let net = match &row.eth_src[15..] {
            "20" => "A",
            "40" => "B",
            other => panic!("interface byte {other} names no network"),
        };
        assert!(row.eth_src.starts_with("02:00:00:01:0"), "{row:?}");
        seqs.entry((vl, net.to_string()))
            .or_default()
            .push(row.trailer[0]);
    }
    assert_eq!(seqs.len(), 6, "three VLs on two networks");
    for ((vl, net), s) in &seqs {
        let mut want = 0u8;
        for (i, &got) in s.iter().enumerate() {
            assert_eq!(got, want, "VL {vl:#06x} network {net}: frame {i}");
            want = if want == 255 { 1 } else { want + 1 };
        }
    }
    assert_eq!(seqs[&(VL_COMMANDS, "A".into())].len(), 800);
    assert_eq!(seqs[&(VL_COMMANDS, "B".into())].len(), 800);
}

#[test]
fn the_binary_takes_its_arguments() {
    let exe = env!("CARGO_BIN_EXE_afdx-demo");
    let out = Command::new(exe).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument `--bogus`"));
    let out = Command::new(exe)
        .args(["--duration-ms", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(exe).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--fail-a-at-ms"));
    let out = Command::new(exe)
        .args([
            "--duration-ms",
            "300",
            "--commands",
            "100",
            "--statuses",
            "20",
            "--fail-a-at-ms",
            "100",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no queuing message lost"));
}
