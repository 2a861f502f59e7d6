//! The monitor port and the pcap writer: mirrored frames (spoofed ones included) with
//! their verdict, and a pcap file read back field by field.
mod common;
use common::*;
use vnet_switch::pcap::{FileSink, PcapWriter, SliceSink, LINKTYPE_ETHERNET, MAGIC_NS};
use vnet_switch::{
    Direction, DropReason, MacAddress, Mirror, PortConfig, Tap, TapEvent, Verdict, VlanSet,
};

const IPV4: u16 = 0x0800;

/// Uplink 0, partitions 1 and 2 (port 1 mirrored both ways), monitor 3.
fn net() -> Sw {
    let mut cfgs = [
        PortConfig::uplink(Some(1), VlanSet::new()),
        PortConfig::partition(mac(1), 1),
        PortConfig::partition(mac(2), 1),
        PortConfig::monitor(),
    ];
    cfgs[1].mirror = Mirror {
        ingress: true,
        egress: true,
    };
    build(&cfgs)
}

#[derive(Default)]
struct Events(Vec<(TapEvent, Vec<u8>)>);

impl Tap for Events {
    fn frame(&mut self, event: &TapEvent, header: &[u8], payload: &[u8]) {
        self.0.push((*event, [header, payload].concat()));
    }
}

#[test]
fn monitor_sees_link_control_frames_annotated_with_their_drop_reason() {
    let mut sw = net();
    let pause = frame(
        MacAddress([0x01, 0x80, 0xc2, 0, 0, 1]),
        mac(1),
        0x8808,
        &[0x00, 0x01, 0xff, 0xff],
    );
    inject(&mut sw, 1, &pause);
    let mut tap = Events::default();
    assert_eq!(sw.poll_tap(7, 4, &mut tap), 1);
    let seen: Vec<_> = tap.0.iter().map(|(e, f)| (e.verdict, f.clone())).collect();
    assert_eq!(
        seen,
        vec![(Verdict::Dropped(DropReason::LinkControl), pause.clone())]
    );
    assert_eq!(drain(&mut sw, 3), vec![pause], "the monitor sees it raw");
    assert_eq!(drain(&mut sw, 0), Vec::<Vec<u8>>::new());
    assert_eq!(sw.stats(p(1)).unwrap().drops(DropReason::LinkControl), 1);
}

#[test]
fn monitor_sees_spoofed_frames_annotated_with_their_drop_reason() {
    let mut sw = net();
    let spoof = frame(mac(2), mac(7), IPV4, b"spoofed");
    let good = frame(mac(2), mac(1), IPV4, b"good");
    let back = frame(mac(1), mac(2), IPV4, b"back");
    inject(&mut sw, 1, &spoof);
    inject(&mut sw, 1, &good);
    inject(&mut sw, 2, &back);
    let mut tap = Events::default();
    // Budget 4 over 4 ports: turns of one frame each, so ports 1 and 2 interleave.
    assert_eq!(sw.poll_tap(42, 4, &mut tap), 3);
    let seen: Vec<_> = tap
        .0
        .iter()
        .map(|(e, f)| (e.port.index(), e.direction, e.verdict, f.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                1,
                Direction::Ingress,
                Verdict::Dropped(DropReason::Spoofed),
                spoof.clone()
            ),
            (
                1,
                Direction::Egress,
                Verdict::Forwarded { copies: 1 },
                back.clone()
            ),
            (
                1,
                Direction::Ingress,
                Verdict::Forwarded { copies: 1 },
                good.clone()
            ),
        ]
    );
    assert!(tap.0.iter().all(|(e, _)| e.time_ns == 42));
    // The monitor port got the same frames, raw.
    assert_eq!(drain(&mut sw, 3), vec![spoof, back.clone(), good.clone()]);
    // And the spoofed frame went nowhere else.
    assert_eq!(drain(&mut sw, 2), vec![good]);
    assert_eq!(drain(&mut sw, 1), vec![back]);
    assert_eq!(drain(&mut sw, 0), Vec::<Vec<u8>>::new());
}

/// Parses a pcap file: the global header fields, then (ts_ns, incl, orig, bytes) records.
/// One pcap record: timestamp (ns), included length, original length, bytes.
type Record = (u64, u32, u32, Vec<u8>);

fn parse_pcap(bytes: &[u8]) -> (u32, u16, u16, u32, u32, Vec<Record>) {
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap());
    let (magic, major, minor, snaplen, linktype) =
        (u32_at(0), u16_at(4), u16_at(6), u32_at(16), u32_at(20));
    assert_eq!((u32_at(8), u32_at(12)), (0, 0), "thiszone and sigfigs");
    let mut records = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let ts = u64::from(u32_at(at)) * 1_000_000_000 + u64::from(u32_at(at + 4));
        let (incl, orig) = (u32_at(at + 8), u32_at(at + 12));
        let data = bytes[at + 16..at + 16 + incl as usize].to_vec();
        records.push((ts, incl, orig, data));
        at += 16 + incl as usize;
    }
    assert_eq!(at, bytes.len(), "no trailing bytes");
    (magic, major, minor, snaplen, linktype, records)
}

#[test]
fn pcap_file_reads_back_header_lengths_and_bytes() {
    let path = std::env::temp_dir().join(format!("vnet-switch-test-{}.pcap", std::process::id()));
    let mut sw = net();
    let spoof = frame(mac(2), mac(7), IPV4, b"spoofed");
    let big = frame(mac(2), mac(1), IPV4, &[0x5a; 200]);
    inject(&mut sw, 1, &spoof);
    inject(&mut sw, 1, &big);
    let mut pcap = PcapWriter::new(FileSink::create(&path).unwrap(), 128).unwrap();
    sw.poll_tap(3_000_000_123, 8, &mut pcap);
    assert_eq!((pcap.records, pcap.errors), (2, 0));
    pcap.sink_mut().flush().unwrap();
    drop(pcap);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let (magic, major, minor, snaplen, linktype, records) = parse_pcap(&bytes);
    assert_eq!(
        (magic, major, minor, snaplen, linktype),
        (MAGIC_NS, 2, 4, 128, LINKTYPE_ETHERNET)
    );
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0],
        (3_000_000_123, spoof.len() as u32, spoof.len() as u32, spoof)
    );
    // Cut to the snap length, the original length kept.
    assert_eq!(records[1].1, 128);
    assert_eq!(records[1].2, big.len() as u32);
    assert_eq!(records[1].3, big[..128].to_vec());
}

#[test]
fn pcap_slice_sink_reports_a_full_buffer() {
    let mut buf = [0u8; 50];
    let mut w = PcapWriter::new(SliceSink::new(&mut buf), 65535).unwrap();
    assert!(w.write_frame(0, &[&[1u8; 8]]).is_ok());
    let err = w.write_frame(0, &[&[1u8; 8]]).unwrap_err();
    assert!(err.to_string().contains("16 bytes needed, 2 left"), "{err}");
    assert_eq!(w.sink().written().len(), 48);
}
