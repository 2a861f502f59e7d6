//! A frame reflector written once for any [`FrameLink`]: it answers every frame with
//! the addresses swapped. Here it runs on one end of a [`PortPair`]; a client on the
//! other end sends numbered frames and checks the replies, first over a clean pair,
//! then over one that loses every tenth frame towards the reflector.
//!
//! Run: `cargo run -p frame-link --example reflector`.

use std::process::ExitCode;

use frame_link::{
    End, FaultCounts, Faults, FrameLink, FrameLinkExt, FrameMeta, MacAddress, Odds, PortPair,
    HEADER_LEN, MAX_FRAME,
};

const CLIENT: MacAddress = MacAddress::new([0x02, 0, 0, 0, 0, 0x0a]);
const REFLECTOR: MacAddress = MacAddress::new([0x02, 0, 0, 0, 0, 0x0b]);
/// A local experimental EtherType.
const ETHERTYPE: [u8; 2] = [0x88, 0xb5];
const FRAMES: u32 = 200;

/// Answers at most `budget` waiting frames, each with destination and source swapped,
/// through the slot API: take, copy out, release, reserve, write, commit. Frames too
/// short for an Ethernet header are dropped. Returns the frames answered.
fn reflect<L: FrameLink>(link: &mut L, budget: usize) -> Result<usize, L::Error> {
    let mut frame = [0u8; MAX_FRAME];
    let mut answered = 0;
    for _ in 0..budget {
        let Some(rx) = link.rx_take()? else { break };
        let got = link.rx_frame(&rx);
        let len = got.len().min(frame.len());
        frame[..len].copy_from_slice(&got[..len]);
        link.rx_release(rx);
        if len < HEADER_LEN {
            continue;
        }
        let mut header = [0u8; HEADER_LEN];
        header[..6].copy_from_slice(&frame[6..12]);
        header[6..12].copy_from_slice(&frame[..6]);
        header[12..].copy_from_slice(&frame[12..HEADER_LEN]);
        // No room: the reply is lost, as on a wire.
        let Some(tx) = link.tx_reserve(len)? else {
            break;
        };
        link.tx_write_frame(&tx, &header, &frame[HEADER_LEN..len])?;
        link.tx_commit(tx, FrameMeta::NONE)?;
        answered += 1;
    }
    Ok(answered)
}

/// The client's frame number `n`.
fn request(n: u32) -> [u8; 64] {
    let mut f = [0u8; 64];
    f[..6].copy_from_slice(&REFLECTOR.octets());
    f[6..12].copy_from_slice(&CLIENT.octets());
    f[12..14].copy_from_slice(&ETHERTYPE);
    f[14..18].copy_from_slice(&n.to_be_bytes());
    f
}

/// Sends `FRAMES` requests in bursts of 8, lets the reflector answer, checks every
/// reply. Returns the replies received.
fn run(pair: &PortPair<16>) -> Result<u32, String> {
    let (mut client, mut reflector) = pair.split();
    let mut replies = 0;
    let mut buf = [0u8; MAX_FRAME];
    let mut n = 0;
    while n < FRAMES {
        for _ in 0..8 {
            if n < FRAMES && client.send_frame(&request(n)).map_err(|e| e.to_string())? {
                n += 1;
            }
        }
        reflect(&mut reflector, 8).map_err(|e| format!("reflector: {e}"))?;
        while let Some((len, _)) = client.recv_frame(&mut buf).map_err(|e| e.to_string())? {
            let reply = &buf[..len];
            let to = MacAddress::from_slice(&reply[..6]);
            let from = MacAddress::from_slice(&reply[6..12]);
            if len != 64 || to != Some(CLIENT) || from != Some(REFLECTOR) {
                return Err(format!("malformed reply of {len} bytes from {from:?}"));
            }
            replies += 1;
        }
    }
    Ok(replies)
}

fn main() -> ExitCode {
    let clean = PortPair::<16>::new();
    let lossy = PortPair::<16>::new();
    lossy.set_faults(
        End::B,
        Faults {
            drop: Odds::Every(10),
            ..Faults::default()
        },
    );
    let result = run(&clean).and_then(|clean_replies| {
        let lossy_replies = run(&lossy)?;
        let FaultCounts { dropped, .. } = lossy.fault_counts(End::B);
        println!("reflector: clean pair: {clean_replies} of {FRAMES} frames answered");
        println!(
            "reflector: lossy pair: {lossy_replies} of {FRAMES} answered, {dropped} lost on the way"
        );
        if clean_replies != FRAMES || u64::from(lossy_replies) + dropped != u64::from(FRAMES) {
            return Err("replies and losses do not add up".to_string());
        }
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reflector: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
