//! Two partitions, each with its own smoltcp stack, MAC and IP, joined by an in-memory
//! frame link: a client sends three datagrams to an echo server, prints each answer and
//! both interfaces' counters.
//!
//! `cargo run -p netstack-glue --example udp_echo`
//!
//! Between real partitions only the link changes: a queuing-port channel pair
//! (`QueuingLink`), a vnet-switch port or a `nic-drivers` NIC driver instead of the
//! `PortPair` end.

use netstack_glue::frame_link::{End, PortPair};
use netstack_glue::smoltcp::time::Instant;
use netstack_glue::smoltcp::wire::{IpEndpoint, Ipv4Address, Ipv4Cidr};
use netstack_glue::{AdapterStats, Stack};

const ECHO_PORT: u16 = 7;
const MESSAGES: [&str; 3] = ["hello", "from", "partition A"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The wire between the two partitions: 16 frame slots each way.
    let wire = PortPair::<16>::new();
    let client_ip = Ipv4Address::new(10, 0, 0, 1);
    let server_ip = Ipv4Address::new(10, 0, 0, 2);
    let mut client = Stack::new(
        wire.end(End::A),
        [2, 0, 0, 0, 0, 1],
        Ipv4Cidr::new(client_ip, 24),
    )?;
    let mut server = Stack::new(
        wire.end(End::B),
        [2, 0, 0, 0, 0, 2],
        Ipv4Cidr::new(server_ip, 24),
    )?;
    let socket = client.udp(40_000)?;
    let echo = server.udp(ECHO_PORT)?;
    let to_server = IpEndpoint::new(server_ip.into(), ECHO_PORT);
    for msg in MESSAGES {
        client
            .udp_socket(socket)
            .send_slice(msg.as_bytes(), to_server)?;
    }

    // The partitions' schedule: each polls in turn, 1 ms of simulated time per round.
    let mut answers = 0;
    for ms in 0..100 {
        let now = Instant::from_millis(ms);
        client.poll(now)?;
        server.poll(now)?;
        while let Ok((data, meta)) = server.udp_socket(echo).recv() {
            let (reply, from) = (data.to_ascii_uppercase(), meta.endpoint);
            server.udp_socket(echo).send_slice(&reply, from)?;
        }
        while let Ok((data, meta)) = client.udp_socket(socket).recv() {
            println!(
                "{ms:3} ms: {:?} from {}",
                String::from_utf8_lossy(data),
                meta.endpoint
            );
            answers += 1;
        }
        if answers == MESSAGES.len() {
            break;
        }
    }
    if answers != MESSAGES.len() {
        return Err(format!("{answers} of {} answers arrived", MESSAGES.len()).into());
    }
    report("client", client.stats());
    report("server", server.stats());
    Ok(())
}

fn report(who: &str, s: AdapterStats) {
    println!(
        "{who}: rx {} frames / {} bytes, tx {} frames / {} bytes, dropped {}",
        s.rx_frames,
        s.rx_bytes,
        s.tx_frames,
        s.tx_bytes,
        s.drops.rx_total()
    );
}
