//! Shared by the virtqueue device-side fuzz targets: the invariants every popped chain
//! keeps (included with `#[path]`).

use virtqueue::DescriptorChain;

/// A popped chain is consistent: head below `size`, at least one segment, readable
/// segments before writable ones, totals matching the segments, below 4 GiB.
pub fn check_chain(chain: &DescriptorChain<8>, size: u16) {
    assert!(chain.head() < size);
    let segs = chain.segments();
    assert!(!segs.is_empty());
    let first_w = segs
        .iter()
        .position(|s| s.is_writable())
        .unwrap_or(segs.len());
    assert!(
        segs[first_w..].iter().all(|s| s.is_writable()),
        "readable after writable"
    );
    let r: u64 = chain.readable().iter().map(|s| u64::from(s.len())).sum();
    let w: u64 = chain.writable().iter().map(|s| u64::from(s.len())).sum();
    assert_eq!(r, u64::from(chain.readable_len()));
    assert_eq!(w, u64::from(chain.writable_len()));
    assert!(r + w <= u64::from(u32::MAX));
}
