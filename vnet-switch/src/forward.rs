//! Classification: from a frame's private header copy to a verdict and a destination set.
//!
//! Checks run in this order, the first failure decides the [`DropReason`]:
//! size ([`Oversized`](DropReason::Oversized)), header
//! ([`Malformed`](DropReason::Malformed), or [`Vlan`](DropReason::Vlan) for double
//! and service tags), VLAN membership ([`Vlan`](DropReason::Vlan)), source address
//! ([`Spoofed`](DropReason::Spoofed)), EtherType allow-list
//! ([`EtherType`](DropReason::EtherType)), link control from a partition
//! ([`LinkControl`](DropReason::LinkControl): MAC control or slow protocols to any
//! address, or a reserved group address the port's policy does not allow), routing
//! ([`NoRoute`](DropReason::NoRoute), or [`Oversized`](DropReason::Oversized) if the
//! frame would not fit any destination once tagged). The rate budget and the copy
//! follow in the switch.
//!
//! Forwarding rules, by destination address, within the frame's VLAN, never back to the
//! source, never to the monitor port, and between partitions only if neither is
//! `isolated`:
//! * broadcast: every such port;
//! * multicast: ports that joined the group, or take all multicast;
//! * known unicast: the port bound to (or learned for) the address;
//! * unknown unicast: from a partition to the uplink; from the uplink to promiscuous
//!   ports only.

use crate::mac_table::MacTable;
use crate::policy::{Hot, Role, VlanMode};
use crate::stats::DropReason;
use crate::switch::Port;
use crate::wire::{
    is_fast_ethertype, MacAddress, ParseError, RawHeader, VlanTag, HEADER_LEN, TAG_LEN,
};
use frame_link::FrameLink;

/// The forwarding decision for one frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    /// The validated header (private copy).
    pub(crate) header: RawHeader,
    /// The frame's VLAN.
    pub(crate) vid: u16,
    /// The frame's priority.
    pub(crate) pcp: u8,
    /// Destination ports, one bit each.
    pub(crate) destinations: u64,
    /// Learn the source address on the ingress port.
    pub(crate) learn: bool,
}

/// The VLAN and priority of a frame arriving on a port: a tag's PCP as the port's
/// `max_pcp` policy allows (capped, or ignored for `default_pcp`).
#[inline]
fn ingress_vlan(hot: &Hot, mode: &VlanMode, tag: Option<VlanTag>) -> Result<(u16, u8), DropReason> {
    match tag {
        None if hot.access != 0 => Ok((hot.access, hot.default_pcp)),
        Some(t) if hot.access != 0 && (t.vid == 0 || t.vid == hot.access) => {
            Ok((hot.access, hot.tagged_pcp(t.pcp)))
        }
        _ if hot.access != 0 => Err(DropReason::Vlan),
        None if hot.native != 0 => Ok((hot.native, hot.default_pcp)),
        Some(t) if t.vid == 0 && hot.native != 0 => Ok((hot.native, hot.tagged_pcp(t.pcp))),
        Some(t)
            if t.vid != 0
                && matches!(mode, VlanMode::Trunk { allowed, .. } if allowed.contains(t.vid)) =>
        {
            Ok((t.vid, hot.tagged_pcp(t.pcp)))
        }
        _ => Err(DropReason::Vlan),
    }
}

/// `true` if port `dst` belongs to `vid`.
#[inline]
fn is_member<E, const Q: usize>(dst: &Port<E, Q>, vid: u16) -> bool {
    if dst.hot.access != 0 {
        dst.hot.access == vid
    } else {
        dst.hot.native == vid || dst.cfg.vlan.is_member(vid)
    }
}

/// `true` if a frame of VLAN `vid` from port `s` may be delivered to port `d`.
#[inline]
fn may_reach<E, const Q: usize>(
    s: usize,
    src: &Port<E, Q>,
    d: usize,
    dst: &Port<E, Q>,
    vid: u16,
) -> bool {
    d != s
        && dst.hot.role != Role::Monitor
        && is_member(dst, vid)
        && !(src.hot.role == Role::Partition
            && dst.hot.role == Role::Partition
            && (src.hot.isolated || dst.hot.isolated))
}

/// The ports a frame from `src` (port `s`) in its home VLAN may reach on the fast path:
/// [`may_reach`] and a fast egress. Derived once when the switch is built.
pub(crate) fn fast_reach<E, const Q: usize>(s: usize, ports: &[Port<E, Q>]) -> u64 {
    let Some(src) = ports.get(s) else { return 0 };
    let vid = src.hot.home_vid;
    let mut mask = 0;
    for (d, dst) in ports.iter().enumerate().take(64) {
        if vid != 0 && dst.hot.fast_out && may_reach(s, src, d, dst, vid) {
            mask |= 1 << d;
        }
    }
    mask
}

/// What the fast path reads besides the source port: the MAC table, the uplink and the
/// smallest `max_frame` of all ports.
pub(crate) struct FastCtx<'a, const M: usize> {
    pub(crate) table: &'a MacTable<M>,
    pub(crate) uplink: Option<u8>,
    pub(crate) fits_everywhere: usize,
}

impl<const M: usize> FastCtx<'_, M> {
    /// The fast path's classification: the one destination port of an untagged unicast frame
    /// from port `s` (`src`, with [`fast_in`](Hot::fast_in) set), in the port's home
    /// VLAN, that passes every check of [`classify`](crate::Switch::classify) and goes
    /// to a port with [`fast_out`](Hot::fast_out) set. `None` for anything else: the
    /// caller then runs the full path, which decides and counts as always. Changes
    /// nothing.
    ///
    /// The checks are those of `classify` for this case, in a cheaper form: the size
    /// check is `len + TAG_LEN <= fits_everywhere` (which implies `len <= max_frame`
    /// and that the frame fits every destination, tagged or not); the header is parsed
    /// the same way (untagged frames only, and only EtherTypes below `0x8100` or IPv6:
    /// no tag TPID, no MAC control, see [`is_fast_ethertype`]); the VLAN is the
    /// home VLAN; the spoofing check is the same; no EtherType list exists on a
    /// `fast_in` port; the route is
    /// the unicast route, and isolation and VLAN membership are the precomputed
    /// `reach` mask (which never contains `s`).
    #[inline(always)]
    pub(crate) fn route<E, const Q: usize>(
        &self,
        s: usize,
        src: &Port<E, Q>,
        frame: &[u8],
        now_ns: u64,
    ) -> Option<usize> {
        let hot = &src.hot;
        if frame.len() + TAG_LEN > self.fits_everywhere {
            return None;
        }
        let h = frame.first_chunk::<HEADER_LEN>()?;
        // A group destination: the I/G bit of the first octet (`dst_is_multicast`).
        if h[0] & 1 != 0 {
            return None;
        }
        if !is_fast_ethertype([h[12], h[13]]) {
            return None;
        }
        let header = RawHeader::untagged(h);
        // The addresses are 48-bit values: the keys of the home VLAN are `vid_key | mac`.
        let vid_key = hot.home_key;
        match hot.role {
            Role::Partition if hot.mac != header.src => return None,
            // A partition's own address is unicast and non-zero (checked when the switch
            // is built): a source equal to it is a valid source (`RawHeader::src_is_ok`).
            Role::Partition => {}
            _ if !header.src_is_ok() => return None,
            Role::Uplink => {
                if let Some(hit) = self.table.lookup_key(vid_key | header.src, now_ns) {
                    if !hit.learned && usize::from(hit.port) != s {
                        return None;
                    }
                }
            }
            _ => {}
        }
        let d = match self.table.lookup_key(vid_key | header.dst, now_ns) {
            Some(hit) => usize::from(hit.port),
            None if hot.role == Role::Partition => usize::from(self.uplink?),
            None => return None,
        };
        let bit = 1u64.checked_shl(d as u32)?;
        (src.reach & bit != 0).then_some(d)
    }
}

impl<E: FrameLink, const P: usize, const M: usize, const Q: usize> crate::Switch<E, P, M, Q> {
    /// Classifies `frame`, received on port `s`, without changing anything.
    #[inline]
    pub(crate) fn classify(
        &self,
        s: usize,
        frame: &[u8],
        now_ns: u64,
    ) -> Result<Route, DropReason> {
        let src = &self.ports[s];
        let hot = &src.hot;
        if frame.len() > usize::from(hot.max_frame) {
            return Err(DropReason::Oversized);
        }
        let header = RawHeader::parse(frame).map_err(|e| match e {
            ParseError::DoubleTagged(_) | ParseError::ServiceTag(_) => DropReason::Vlan,
            _ => DropReason::Malformed,
        })?;
        let (vid, pcp) = ingress_vlan(hot, &src.cfg.vlan, header.tag())?;
        match hot.role {
            Role::Partition if hot.mac != header.src => return Err(DropReason::Spoofed),
            Role::Uplink => {
                // A partition's own address arriving from outside is a spoof.
                if let Some(hit) = self.table.lookup(vid, header.src, now_ns) {
                    if !hit.learned && usize::from(hit.port) != s {
                        return Err(DropReason::Spoofed);
                    }
                }
            }
            _ => {}
        }
        if let Some(allowed) = &src.cfg.allowed_ethertypes {
            if !allowed.contains(&header.ethertype) {
                return Err(DropReason::EtherType);
            }
        }
        // MAC control acts on the physical link: never from a partition, to any address.
        if hot.role == Role::Partition && header.is_mac_control() {
            return Err(DropReason::LinkControl);
        }
        let destinations = self.destinations(s, &header, vid, now_ns)?;
        if destinations == 0 {
            return Err(DropReason::NoRoute);
        }
        let fitting = self.fitting(
            destinations,
            frame.len() - usize::from(header.payload_offset),
            vid,
        );
        if fitting == 0 {
            return Err(DropReason::Oversized);
        }
        Ok(Route {
            header,
            vid,
            pcp,
            destinations: fitting,
            learn: hot.learning,
        })
    }

    /// The ports a frame may be delivered to, one bit each; a reserved group address
    /// the source port may not send to is [`LinkControl`](DropReason::LinkControl).
    #[inline]
    fn destinations(
        &self,
        s: usize,
        header: &RawHeader,
        vid: u16,
        now_ns: u64,
    ) -> Result<u64, DropReason> {
        let src = &self.ports[s];
        if header.dst_is_multicast() {
            // Only group destinations pay for the reserved-range check.
            if header.dst_is_link_local() && src.hot.link_local & (1 << (header.dst & 0xf)) == 0 {
                return Err(DropReason::LinkControl);
            }
            return Ok(self.flood(s, header, vid));
        }
        let single = |d: usize| match self.ports.get(d) {
            Some(p) if may_reach(s, src, d, p, vid) => 1u64 << d,
            _ => 0,
        };
        Ok(match self.table.lookup(vid, header.dst, now_ns) {
            Some(hit) => single(usize::from(hit.port)),
            None if src.hot.role == Role::Partition => {
                self.uplink.map_or(0, |u| single(usize::from(u)))
            }
            None => {
                let mut mask = 0;
                for (d, p) in self.ports.iter().enumerate() {
                    if p.hot.promiscuous && may_reach(s, src, d, p, vid) {
                        mask |= 1 << d;
                    }
                }
                mask
            }
        })
    }

    /// Broadcast and multicast destinations: one pass over the ports.
    #[inline(never)]
    fn flood(&self, s: usize, header: &RawHeader, vid: u16) -> u64 {
        let src = &self.ports[s];
        let broadcast = header.dst_is_broadcast();
        let dst = MacAddress::from_u64(header.dst);
        let mut mask = 0;
        for (d, p) in self.ports.iter().enumerate() {
            if may_reach(s, src, d, p, vid)
                && (broadcast || p.hot.all_multicast || p.cfg.groups.contains(&dst))
            {
                mask |= 1 << d;
            }
        }
        mask
    }

    /// The destinations whose `max_frame` fits the frame as it would leave them.
    #[inline]
    fn fitting(&self, mut mask: u64, payload: usize, vid: u16) -> u64 {
        if HEADER_LEN + TAG_LEN + payload <= self.fits_everywhere {
            return mask;
        }
        let mut fits = 0;
        while mask != 0 {
            let d = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if let Some(p) = self.ports.get(d) {
                let tagged = p.hot.tags(vid);
                let len = HEADER_LEN + payload + if tagged { TAG_LEN } else { 0 };
                if len <= usize::from(p.hot.max_frame) {
                    fits |= 1 << d;
                }
            }
        }
        fits
    }
}
