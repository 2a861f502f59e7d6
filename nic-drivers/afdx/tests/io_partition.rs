//! The I/O partition over queuing-port's shared-memory ports: two end systems back to
//! back over in-memory networks A and B; a queuing port and a sampling port bridged in
//! each direction; a partition cannot bind or send on another partition's VL; network A
//! lost mid-run loses no queuing message.

use afdx::{
    EndSystem, EsConfig, EsConfigError, IoPartition, Network, PartitionId, PortKind, RxDrop,
    RxPortConfig, TxPortConfig, VlConfig,
};
use frame_link::{End, Faults, Odds, PortPair};
use queuing_port::mock::OwnedRegion;
use queuing_port::{
    Geometry, QueuingPortReceiver, QueuingPortSender, SamplingPortDestination, SamplingPortSource,
    Validity,
};

const MSG: usize = 64;
const DEPTH: usize = 16;
const QG: Geometry = Geometry::queuing(MSG as u32, DEPTH as u32, false);
const SG: Geometry = Geometry::sampling(MSG as u32, 20_000_000); // 20 ms refresh (ns)
const QW: usize = QG.total_words();
const SW: usize = SG.total_words();

const VLS: [VlConfig; 2] = [
    VlConfig::new(10, 1, 200).queue(4),
    VlConfig::new(11, 4, 200),
];
const TX: [TxPortConfig; 2] = [
    TxPortConfig {
        partition: PartitionId(1),
        vl: 10,
        src_udp: 100,
        dst_udp: 200,
        kind: PortKind::Queuing,
    },
    TxPortConfig {
        partition: PartitionId(2),
        vl: 11,
        src_udp: 101,
        dst_udp: 201,
        kind: PortKind::Sampling,
    },
];
const RX: [RxPortConfig; 2] = [
    RxPortConfig {
        partition: PartitionId(3),
        vl: 10,
        dst_udp: 200,
        kind: PortKind::Queuing,
    },
    RxPortConfig {
        partition: PartitionId(3),
        vl: 11,
        dst_udp: 201,
        kind: PortKind::Sampling,
    },
];

fn cfg(equipment_id: u8) -> EsConfig<'static> {
    EsConfig {
        network_id: 1,
        equipment_id,
        src_ip: [10, 1, equipment_id, 1],
        link_mbps: 100,
        tech_latency_us: 100,
        tx_vls: &VLS,
        rx_vls: &VLS,
        tx_ports: &TX,
        rx_ports: &RX,
    }
}

type Es = EndSystem<4, 4, 4>;

fn msg(tag: u8, i: u32) -> [u8; 24] {
    let mut m = [tag; 24];
    m[..4].copy_from_slice(&i.to_le_bytes());
    m
}

#[test]
fn bridges_queuing_and_sampling_ports_through_a_network_failure() {
    let mut left = Box::new(Es::new(&cfg(1)).unwrap());
    let mut right = Box::new(Es::new(&cfg(2)).unwrap());
    let net_a: Box<PortPair<16, 1536>> = Box::default();
    let net_b: Box<PortPair<16, 1536>> = Box::default();
    let (mut la, mut ra) = net_a.split();
    let (mut lb, mut rb) = net_b.split();

    // Partition 1's queuing port to the I/O partition, partition 2's sampling port.
    let q_out = OwnedRegion::<QW>::formatted(&QG);
    let s_out = OwnedRegion::<SW>::formatted(&SG);
    // The receiving I/O partition's ports to partition 3.
    let q_in = OwnedRegion::<QW>::formatted(&QG);
    let s_in = OwnedRegion::<SW>::formatted(&SG);

    let mut p1: QueuingPortSender<MSG, DEPTH> =
        QueuingPortSender::attach(q_out.region(), &QG).unwrap();
    let mut p2: SamplingPortSource<MSG> = SamplingPortSource::attach(s_out.region(), &SG).unwrap();
    let mut io_q_src: QueuingPortReceiver<MSG, DEPTH> =
        QueuingPortReceiver::attach(q_out.region(), &QG).unwrap();
    let mut io_s_src: SamplingPortDestination<MSG> =
        SamplingPortDestination::attach(s_out.region(), &SG).unwrap();
    let mut io_q_dst: QueuingPortSender<MSG, DEPTH> =
        QueuingPortSender::attach(q_in.region(), &QG).unwrap();
    let mut io_s_dst: SamplingPortSource<MSG> =
        SamplingPortSource::attach(s_in.region(), &SG).unwrap();
    let mut p3_q: QueuingPortReceiver<MSG, DEPTH> =
        QueuingPortReceiver::attach(q_in.region(), &QG).unwrap();
    let mut p3_s: SamplingPortDestination<MSG> =
        SamplingPortDestination::attach(s_in.region(), &SG).unwrap();

    let dummy_region = OwnedRegion::<QW>::formatted(&QG);
    let mut dummy: QueuingPortReceiver<MSG, DEPTH> =
        QueuingPortReceiver::attach(dummy_region.region(), &QG).unwrap();
    let dummy_sink_region = OwnedRegion::<QW>::formatted(&QG);
    let mut dummy_sink: QueuingPortSender<MSG, DEPTH> =
        QueuingPortSender::attach(dummy_sink_region.region(), &QG).unwrap();
    let mut io_left: IoPartition<'_, 4, 4> = IoPartition::new();
    // Partition 2 may not take partition 1's VL.
    assert_eq!(
        io_left
            .bind_source(&left, PartitionId(2), 0, &mut dummy)
            .unwrap_err(),
        EsConfigError::NotOwner {
            partition: 2,
            port: 0
        }
    );
    io_left
        .bind_source(&left, PartitionId(1), 0, &mut io_q_src)
        .unwrap();
    io_left
        .bind_source(&left, PartitionId(2), 1, &mut io_s_src)
        .unwrap();
    let mut io_right: IoPartition<'_, 4, 4> = IoPartition::new();
    // Partition 1 may not take partition 3's messages.
    assert_eq!(
        io_right
            .bind_sink(&right, PartitionId(1), 0, &mut dummy_sink)
            .unwrap_err(),
        EsConfigError::NotOwner {
            partition: 1,
            port: 0
        }
    );
    io_right
        .bind_sink(&right, PartitionId(3), 0, &mut io_q_dst)
        .unwrap();
    io_right
        .bind_sink(&right, PartitionId(3), 1, &mut io_s_dst)
        .unwrap();

    let mut now = 0u64;
    let mut sent_q = 0u32;
    let mut got_q = Vec::new();
    let mut last_sample = 0u32;
    let mut buf = [0u8; MSG];
    for step in 0..4000u32 {
        // Partition 1 queues as fast as its port takes; partition 2 samples every 100 µs.
        while sent_q < 300 && p1.try_send(&msg(1, sent_q)).is_ok() {
            sent_q += 1;
        }
        p2.write(&msg(2, step), now * 1000).unwrap();
        if step == 1500 {
            // Network A fails: every frame towards either end is lost.
            let all = Faults {
                drop: Odds::Every(1),
                ..Faults::default()
            };
            net_a.set_faults(End::A, all);
            net_a.set_faults(End::B, all);
        }
        io_left.poll(&mut left, now, &mut la, &mut lb, 16);
        io_right.poll(&mut right, now, &mut ra, &mut rb, 16);
        while let Ok(r) = p3_q.try_receive(&mut buf) {
            assert!(!r.overflowed);
            got_q.push(u32::from_le_bytes(buf[..4].try_into().unwrap()));
        }
        if let Ok(m) = p3_s.read(&mut buf, now * 1000) {
            let v = u32::from_le_bytes(buf[..4].try_into().unwrap());
            assert!(
                v >= last_sample,
                "sampling value went back: {v} after {last_sample}"
            );
            last_sample = v;
            // Sent every 4 ms (BAG), received at most a few polls later: fresh.
            assert_eq!(m.validity, Validity::Valid);
        }
        now += 100;
    }
    assert_eq!(sent_q, 300);
    assert_eq!(
        got_q,
        (0..300).collect::<Vec<_>>(),
        "every queuing message, in order, once"
    );
    assert!(
        last_sample > 3900 - 80,
        "the freshest sample arrived: {last_sample}"
    );
    let st = right.rx_stats(10).unwrap();
    assert_eq!(st.delivered, 300);
    // Before the failure A's copies won (A is polled first), after it B's.
    assert!(st.net[Network::A.index()].rx_delivered > 0);
    assert!(st.net[Network::B.index()].rx_delivered > 0);
    assert_eq!(
        st.net[Network::A.index()].rx_delivered + st.net[Network::B.index()].rx_delivered,
        300
    );
    assert!(st.net[Network::B.index()].rx_dropped(RxDrop::Redundant) > 0);
    assert_eq!(io_right.stats().overflows, 0);
    assert_eq!(io_left.stats().refused, 0);
}
