//! Per-port policy: role, VLAN membership, frame limits, rate budget, traffic classes.

use crate::wire::MacAddress;

/// Multicast groups a port can join (per-port filter).
pub const MAX_GROUPS: usize = 8;
/// EtherTypes an allow-list can hold.
pub const MAX_ETHERTYPES: usize = 8;
/// Egress queues (traffic classes) a port can have.
pub const MAX_CLASSES: u8 = 8;
/// Largest configurable frame (a jumbo frame with one tag).
pub const MAX_FRAME_LIMIT: u16 = 9216;
/// Smallest configurable frame limit (a minimum untagged frame without FCS).
pub const MIN_FRAME_LIMIT: u16 = 60;

/// What a port is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The physical NIC side: a VLAN trunk, may learn addresses.
    Uplink,
    /// A partition: one MAC, one VLAN (access port).
    Partition,
    /// The development-tools port: receives mirrored traffic, never forwards.
    Monitor,
}

/// A set of VLAN ids (1..=4094), one bit each.
#[derive(Clone, PartialEq, Eq)]
pub struct VlanSet([u64; 64]);

impl core::fmt::Debug for VlanSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set()
            .entries((0..4096u16).filter(|v| self.contains(*v)))
            .finish()
    }
}

impl Default for VlanSet {
    fn default() -> Self {
        Self::new()
    }
}

impl VlanSet {
    /// The empty set.
    pub const fn new() -> Self {
        VlanSet([0; 64])
    }
    /// Adds `vid` (ignored outside 0..4096; validated when the switch is built).
    pub fn insert(&mut self, vid: u16) -> &mut Self {
        if let Some(w) = self.0.get_mut(usize::from(vid) / 64) {
            *w |= 1 << (vid % 64);
        }
        self
    }
    /// `true` if `vid` is in the set.
    #[inline]
    pub fn contains(&self, vid: u16) -> bool {
        self.0
            .get(usize::from(vid) / 64)
            .is_some_and(|w| w & (1 << (vid % 64)) != 0)
    }
    /// `true` if the set contains 0 or 4095 (reserved ids).
    pub(crate) fn has_reserved(&self) -> bool {
        self.contains(0) || self.contains(4095)
    }
}

/// VLAN handling of a port.
// The trunk's VLAN bit set is 512 bytes; configuration lives once per port, no heap.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VlanMode {
    /// Access port (partitions): frames arrive and leave untagged and belong to `vid`.
    /// A single tag with `vid` or 0 (priority tag) is accepted on ingress.
    Access {
        /// The port's VLAN (1..=4094).
        vid: u16,
    },
    /// Trunk (uplink): tagged frames of the allowed VLANs; untagged frames belong to
    /// `native` if set, else are dropped. Egress in `native` leaves untagged.
    Trunk {
        /// The VLAN of untagged frames.
        native: Option<u16>,
        /// The VLANs carried tagged.
        allowed: VlanSet,
    },
}

impl VlanMode {
    /// `true` if the port belongs to `vid`.
    #[inline]
    pub fn is_member(&self, vid: u16) -> bool {
        match self {
            VlanMode::Access { vid: v } => *v == vid,
            VlanMode::Trunk { native, allowed } => *native == Some(vid) || allowed.contains(vid),
        }
    }
}

/// A token-bucket rate budget (per second, with a burst).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Bytes per second.
    pub bytes_per_sec: u64,
    /// Byte burst (bucket size); at least the largest frame.
    pub byte_burst: u64,
    /// Frames per second.
    pub frames_per_sec: u64,
    /// Frame burst (bucket size); at least 1.
    pub frame_burst: u64,
    /// Frames that may wait in the port's ingress ring while over budget; beyond it the
    /// oldest waiting frame is dropped and counted as [`DropReason::Rate`](crate::DropReason::Rate).
    pub queue: u16,
}

/// Mirroring selection for the monitor port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mirror {
    /// Mirror frames this port receives (before any policy check).
    pub ingress: bool,
    /// Mirror frames the switch sends to this port.
    pub egress: bool,
}

/// The configuration of one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// What the port is for.
    pub role: Role,
    /// The partition's own address (required for partitions, ignored otherwise).
    pub mac: Option<MacAddress>,
    /// VLAN handling.
    pub vlan: VlanMode,
    /// Largest frame accepted or sent, in bytes without FCS, tags included.
    pub max_frame: u16,
    /// If set, only these EtherTypes are accepted from the port.
    pub allowed_ethertypes: Option<heapless::Vec<u16, MAX_ETHERTYPES>>,
    /// A partition that may talk only to the uplink (and hear only the uplink).
    pub isolated: bool,
    /// Receives unicast from the uplink whose destination is unknown.
    pub promiscuous: bool,
    /// Receives every multicast of its VLANs, joined or not.
    pub all_multicast: bool,
    /// Multicast groups joined.
    pub groups: heapless::Vec<MacAddress, MAX_GROUPS>,
    /// Learns source addresses of arriving frames (uplink only).
    pub learning: bool,
    /// Learned addresses this port may hold in the MAC table.
    pub mac_quota: u16,
    /// The ingress rate budget, if any.
    pub rate: Option<RateLimit>,
    /// Egress traffic classes (1..=8); PCP `p` goes to class `p * classes / 8`.
    pub classes: u8,
    /// PCP of untagged ingress frames, and of tagged ones unless `max_pcp` lets the
    /// tag's claim count.
    pub default_pcp: u8,
    /// Mirroring of this port's traffic to the monitor port and the tap.
    pub mirror: Mirror,
    /// IEEE 802.1D reserved group addresses (`01:80:c2:00:00:00`–`0f`) a partition may
    /// send to, one bit per address: bit `n` allows `01:80:c2:00:00:0n` (e.g.
    /// `1 << 0xe` for LLDP). 0 (the default) allows none: such frames are dropped as
    /// [`LinkControl`](crate::DropReason::LinkControl). MAC control (`0x8808`) and slow
    /// protocol (`0x8809`) frames from a partition are dropped whatever this says.
    /// Ignored for the uplink and the monitor.
    pub link_local: u16,
    /// The highest priority (PCP) the port's peer may claim with an 802.1Q tag: `None`
    /// (the default for partitions) ignores the tag's PCP, every frame gets
    /// `default_pcp`; `Some(max)` takes the tag's PCP capped at `max` (untagged frames
    /// still get `default_pcp`). The uplink defaults to `Some(7)`.
    pub max_pcp: Option<u8>,
}

impl PortConfig {
    /// A partition access port with its own MAC in VLAN `vid`.
    pub fn partition(mac: MacAddress, vid: u16) -> Self {
        PortConfig {
            role: Role::Partition,
            mac: Some(mac),
            vlan: VlanMode::Access { vid },
            max_frame: 1518,
            allowed_ethertypes: None,
            isolated: false,
            promiscuous: false,
            all_multicast: false,
            groups: heapless::Vec::new(),
            learning: false,
            mac_quota: 0,
            rate: None,
            classes: 1,
            default_pcp: 0,
            mirror: Mirror::default(),
            link_local: 0,
            max_pcp: None,
        }
    }

    /// The uplink trunk: untagged frames in `native`, tagged frames of `allowed`.
    pub fn uplink(native: Option<u16>, allowed: VlanSet) -> Self {
        PortConfig {
            role: Role::Uplink,
            mac: None,
            vlan: VlanMode::Trunk { native, allowed },
            all_multicast: true,
            max_pcp: Some(7),
            ..Self::partition(MacAddress::ZERO, 1)
        }
    }

    /// The monitor port.
    pub fn monitor() -> Self {
        PortConfig {
            role: Role::Monitor,
            mac: None,
            max_frame: MAX_FRAME_LIMIT,
            ..Self::partition(MacAddress::ZERO, 1)
        }
    }
}

/// The fields of a [`PortConfig`] the forwarding path reads for every frame, packed in
/// one small copy next to the port (derived once when the switch is built).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hot {
    pub(crate) role: Role,
    pub(crate) isolated: bool,
    pub(crate) promiscuous: bool,
    pub(crate) all_multicast: bool,
    pub(crate) learning: bool,
    pub(crate) mirror_in: bool,
    pub(crate) mirror_out: bool,
    pub(crate) classes: u8,
    pub(crate) default_pcp: u8,
    /// The highest PCP a tag may claim; a tag's PCP is ignored if `trust_pcp` is unset.
    pub(crate) max_pcp: u8,
    pub(crate) trust_pcp: bool,
    /// Reserved group addresses the peer may send to (partitions only; all for other
    /// roles), one bit per last octet.
    pub(crate) link_local: u16,
    pub(crate) max_frame: u16,
    /// The access VLAN; 0 for a trunk.
    pub(crate) access: u16,
    /// The native VLAN of a trunk; 0 if none.
    pub(crate) native: u16,
    /// The partition's own address; 0 for other roles.
    pub(crate) mac: u64,
    /// The VLAN of an untagged ingress frame (the access VLAN, or the native VLAN of a
    /// trunk); 0 if untagged frames are dropped.
    pub(crate) home_vid: u16,
    /// Ingress may take the fast path: not the monitor, no EtherType allow-list, no rate
    /// budget, not mirrored on ingress.
    pub(crate) fast_in: bool,
    /// Egress may take the fast path: one traffic class, not mirrored on egress.
    pub(crate) fast_out: bool,
    /// The MAC table key of the home VLAN with address 0 (`key | mac` is the key of a
    /// 48-bit address in it).
    pub(crate) home_key: u64,
}

impl Hot {
    pub(crate) fn new(c: &PortConfig) -> Self {
        let (access, native) = match &c.vlan {
            VlanMode::Access { vid } => (*vid, 0),
            VlanMode::Trunk { native, .. } => (0, native.unwrap_or(0)),
        };
        Hot {
            role: c.role,
            isolated: c.isolated,
            promiscuous: c.promiscuous,
            all_multicast: c.all_multicast,
            learning: c.learning,
            mirror_in: c.mirror.ingress,
            mirror_out: c.mirror.egress,
            classes: c.classes,
            default_pcp: c.default_pcp,
            max_pcp: c.max_pcp.unwrap_or(0),
            trust_pcp: c.max_pcp.is_some(),
            link_local: if c.role == Role::Partition {
                c.link_local
            } else {
                u16::MAX
            },
            max_frame: c.max_frame,
            access,
            native,
            mac: c.mac.map_or(0, |m| m.to_u64()),
            home_vid: if access != 0 { access } else { native },
            fast_in: c.role != Role::Monitor
                && c.allowed_ethertypes.is_none()
                && c.rate.is_none()
                && !c.mirror.ingress,
            fast_out: c.classes == 1 && !c.mirror.egress,
            home_key: crate::mac_table::key(if access != 0 { access } else { native }, 0),
        }
    }

    /// The priority of a frame that arrived with a tag claiming `claim`.
    #[inline]
    pub(crate) fn tagged_pcp(&self, claim: u8) -> u8 {
        if self.trust_pcp {
            claim.min(self.max_pcp)
        } else {
            self.default_pcp
        }
    }

    /// The egress class of a frame with priority `pcp`.
    #[inline]
    pub(crate) fn class_of(&self, pcp: u8) -> usize {
        (usize::from(pcp & 7) * usize::from(self.classes)) / 8
    }

    /// `true` if frames of `vid` leave this port tagged.
    #[inline]
    pub(crate) fn tags(&self, vid: u16) -> bool {
        self.access == 0 && self.native != vid
    }
}

/// A token bucket refilled from caller-supplied time; integer arithmetic only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenBucket {
    tokens: u64,
    burst: u64,
    per_sec: u64,
    last_ns: u64,
}

const NS_PER_SEC: u128 = 1_000_000_000;

impl TokenBucket {
    pub(crate) fn new(per_sec: u64, burst: u64) -> Self {
        TokenBucket {
            tokens: burst,
            burst,
            per_sec,
            last_ns: 0,
        }
    }

    /// Adds the tokens earned since the last refill; keeps the remainder time.
    pub(crate) fn refill(&mut self, now_ns: u64) {
        let elapsed = now_ns.saturating_sub(self.last_ns);
        if self.per_sec == 0 || elapsed == 0 {
            if now_ns < self.last_ns {
                // Time went backwards (caller bug): restart the clock, grant nothing.
                self.last_ns = now_ns;
            }
            return;
        }
        let earned = u128::from(elapsed) * u128::from(self.per_sec) / NS_PER_SEC;
        let room = self.burst - self.tokens;
        if earned >= u128::from(room) {
            self.tokens = self.burst;
            self.last_ns = now_ns;
        } else if earned > 0 {
            // `earned < room <= u64::MAX`, and the time it took is at most `elapsed`.
            self.tokens += earned as u64;
            let used = earned * NS_PER_SEC / u128::from(self.per_sec);
            self.last_ns += used as u64;
        }
    }

    #[inline]
    pub(crate) fn has(&self, n: u64) -> bool {
        self.tokens >= n
    }

    #[inline]
    pub(crate) fn take(&mut self, n: u64) {
        self.tokens = self.tokens.saturating_sub(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_refills_at_rate_up_to_burst() {
        let mut b = TokenBucket::new(1000, 100); // 1000 per second
        assert!(b.has(100));
        b.take(100);
        assert!(!b.has(1));
        b.refill(50_000_000); // 50 ms → 50 tokens
        assert!(b.has(50) && !b.has(51));
        b.refill(10_000_000_000);
        assert!(b.has(100) && !b.has(101), "capped at the burst");
        b.refill(5); // time went backwards: no grant, no panic
        assert!(b.has(100));
    }

    #[test]
    fn token_bucket_keeps_fractional_time() {
        let mut b = TokenBucket::new(3, 10);
        b.take(10);
        // 3 per second: one token every 333.3 ms; ten refills of 100 ms give 3 tokens.
        for i in 1..=10u64 {
            b.refill(i * 100_000_000);
        }
        assert!(b.has(3) && !b.has(4));
    }

    #[test]
    fn vlan_sets_and_classes() {
        let mut s = VlanSet::new();
        s.insert(10).insert(4094).insert(5000);
        assert!(s.contains(10) && s.contains(4094) && !s.contains(11) && !s.contains(5000));
        let mut c = PortConfig::partition(MacAddress([2, 0, 0, 0, 0, 1]), 1);
        c.classes = 8;
        let h = Hot::new(&c);
        assert_eq!((h.class_of(0), h.class_of(7)), (0, 7));
        c.classes = 2;
        let h = Hot::new(&c);
        assert_eq!((h.class_of(3), h.class_of(4)), (0, 1));
        assert!(!h.tags(1), "access ports never tag");
        let mut allowed = VlanSet::new();
        allowed.insert(5);
        let up = Hot::new(&PortConfig::uplink(Some(1), allowed));
        assert!(!up.tags(1) && up.tags(5));
    }
}
