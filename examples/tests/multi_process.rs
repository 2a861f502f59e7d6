//! The multi-process variant's fault test: the service partition, A and B as separate
//! processes over shared memory. Killing B, then B writing garbage into its region,
//! leaves A's traffic running, and the service reports each with a typed reason. No
//! child process and no shared-memory file survives the run.

use std::path::Path;

use partnet_examples::multi::{run_service, PartitionFault, A_ECHOES};
use queuing_port::{Error as QpError, RegionError};
use vnet_switch::adapters::queuing::QueuingEndpointError;

#[test]
#[cfg_attr(miri, ignore = "spawns processes and maps /dev/shm")]
fn b_killed_or_corrupt_leaves_a_running_and_is_reported() {
    let exe = Path::new(env!("CARGO_BIN_EXE_multi-process"));
    let prefix = format!("partnet-test-{}", std::process::id());
    let report = run_service(exe, &prefix).unwrap_or_else(|f| panic!("{f}"));

    assert_eq!(report.checks.len(), 3, "{:?}", report.checks);
    assert_eq!(report.a_during_faults, (A_ECHOES, A_ECHOES));
    assert_eq!(report.faults.len(), 2, "{:?}", report.faults);
    match &report.faults[0] {
        PartitionFault::Exited { partition, status } => {
            assert_eq!(*partition, "B");
            assert!(status.contains("signal: 9"), "{status}");
        }
        other => panic!("first fault: {other}"),
    }
    match &report.faults[1] {
        PartitionFault::Channel {
            partition,
            error:
                QueuingEndpointError::Receive(QpError::Corrupt(RegionError::IndexOutOfRange {
                    field: "tail",
                    ..
                })),
        } => assert_eq!(*partition, "B"),
        other => panic!("second fault: {other}"),
    }
    assert!(report.faults[1]
        .to_string()
        .starts_with("partition B: receiving a frame: corrupt shared region: peer index `tail`"));

    // Every child was killed by PID and reaped; every file removed.
    assert_eq!(report.pids.len(), 3);
    for pid in &report.pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} still exists"
        );
    }
    for f in &report.files {
        assert!(!f.exists(), "{} left behind", f.display());
    }
}
