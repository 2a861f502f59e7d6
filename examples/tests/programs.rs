//! The small programs of `examples/examples/` run as tests (each asserts its outcome).

#[path = "../examples/two_partitions.rs"]
mod two_partitions;

#[path = "../examples/nic_uplink.rs"]
mod nic_uplink;

/// Runs `program` on a thread with a main thread's stack (8 MiB): the switch, the
/// driver and the pairs are on the stack, as in the programs themselves (a test thread
/// has 2 MiB).
fn run(program: fn()) {
    let t = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(program)
        .unwrap();
    t.join().unwrap();
}

#[test]
fn two_partitions_exchange_udp_and_the_spoofed_frame_is_dropped() {
    run(two_partitions::main);
}

#[test]
fn a_nic_driver_is_the_uplink_as_it_is() {
    run(nic_uplink::main);
}
