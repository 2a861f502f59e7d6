//! The TAP driver against the Linux kernel, inside a network namespace this test creates
//! (and deletes): the TAP interface exists only there, addresses only there, and the
//! only peer is the kernel's side of that interface. Needs root: ignored in plain
//! `cargo test`, run by `cargo xtask test qemu` with `--ignored`.
#![cfg(all(feature = "std", target_os = "linux"))]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nic_drivers::tap::TapDevice;
use nic_drivers::{FrameLink, LinkState, MacAddress, NicControl};

/// The selftest image's probes (ARP and ICMP echo with `smoltcp::wire`), shared here.
#[path = "../selftest/src/probe.rs"]
mod probe;
use probe::{EchoMismatch, Probe};

const TAP: &str = "ptap0";
const OUR_MAC: MacAddress = MacAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);
const OUR_IP: [u8; 4] = [10, 99, 0, 2];
const KERNEL_IP: [u8; 4] = [10, 99, 0, 1];

/// A network namespace, deleted on drop (also when the test fails).
struct Netns(String);

impl Netns {
    fn create() -> Netns {
        let name = format!("partnet-tap-{}", std::process::id());
        ip(&["netns", "add", &name]);
        Netns(name)
    }

    /// Runs `ip -n <ns> args...`, panicking with its output on failure.
    fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.0.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("the `ip` command (iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn deadline(secs: u64) -> impl FnMut() -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    move || {
        std::thread::sleep(Duration::from_millis(1));
        Instant::now() < end
    }
}

#[test]
#[ignore = "needs root: run by cargo xtask test qemu"]
fn the_kernel_answers_arp_and_ping_over_a_tap_in_a_private_namespace() {
    assert!(
        is_root(),
        "needs root (creates a network namespace and a TAP interface)"
    );
    let ns = Netns::create();
    let path = Path::new("/var/run/netns").join(&ns.0);
    let mut tap: TapDevice =
        TapDevice::open_in_namespace(&path, TAP, OUR_MAC).expect("TAP inside the namespace");
    assert_eq!(tap.name(), TAP);
    assert_eq!(tap.mac_address(), OUR_MAC);
    assert_eq!(tap.link_state(), LinkState::Down, "not up yet");
    // Not visible outside the namespace.
    assert!(Command::new("ip")
        .args(["link", "show", TAP])
        .output()
        .is_ok_and(|o| !o.status.success()));

    let _ = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
        ])
        .status();
    ns.ip(&["link", "set", "lo", "up"]);
    ns.ip(&["addr", "add", "10.99.0.1/24", "dev", TAP]);
    ns.ip(&["link", "set", TAP, "up"]);
    let mut up = deadline(5);
    while tap.link_state() != LinkState::Up {
        assert!(up(), "link stays {:?}", tap.link_state());
    }
    let show = ns.ip(&["-br", "link", "show", TAP]);
    let kernel_mac = show
        .split_whitespace()
        .nth(2)
        .expect("ip -br link prints the MAC")
        .to_string();

    let p = Probe {
        mac: OUR_MAC,
        ip: OUR_IP,
        peer_ip: KERNEL_IP,
    };
    assert!(probe::transmit(&mut tap, &p.arp_request()).unwrap());
    let peer = probe::receive_until(&mut tap, deadline(5), |f| p.parse_arp_reply(f))
        .unwrap()
        .expect("the kernel answers ARP");
    assert_eq!(
        peer.to_string(),
        kernel_mac,
        "the reply carries the interface's MAC"
    );

    for seq in 1..=3u16 {
        assert!(probe::transmit(&mut tap, &p.echo_request(peer, 0x7a9, seq)).unwrap());
        let reply = probe::receive_until(&mut tap, deadline(5), |f| {
            match p.check_echo_reply(f, 0x7a9, seq) {
                Err(EchoMismatch::NotOurs) => None,
                r => Some(r),
            }
        })
        .unwrap();
        assert_eq!(reply, Some(Ok(())), "echo reply {seq}");
    }
    let s = tap.stats();
    assert_eq!(s.tx_frames, 4);
    assert!(s.rx_frames >= 4, "{s:?}");
    assert_eq!(s.device_errors, 0);

    // Frames queue while uncommitted reservations are held; a forged slot is refused.
    let a = tap.tx_reserve(60).unwrap().unwrap();
    let forged = nic_drivers::TxSlot::new(a.index(), 61);
    assert!(tap.tx_write(&forged, 0, &[0; 4]).is_err());
    tap.tx_abort(a);
    drop(tap);
    drop(ns);
}
