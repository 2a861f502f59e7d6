//! The MAC table: fixed capacity, open addressing, bounded probing.
//!
//! Keys are (VLAN id, MAC address). A lookup hashes the key (one multiplication) and
//! probes at most [`PROBE_LIMIT`] consecutive buckets, so every operation is O(1) with
//! a constant bound, whatever the peers send. Static entries (a partition's own address)
//! are never replaced; learned entries age out and count against their port's quota
//! while they are live.
//!
//! # Quotas
//!
//! The learned entries a port holds are counted on a list per port, least recently
//! seen first (doubly linked through bucket indices, no heap). A learn that finds the
//! port at its quota first takes the oldest entry off the list if it has aged out: with
//! time that does not go backwards, the count then covers live entries only, so a port
//! whose entries aged out learns again, and a new address costs constant work (one
//! probe sequence and at most one entry taken off a list). An aged-out entry stays in
//! its bucket (a probe sequence must not break) until a new entry reuses it.

/// Buckets probed at most per operation.
pub const PROBE_LIMIT: usize = 8;

/// Ports that can hold learned entries (the switch has at most 64 ports).
const QUOTA_PORTS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// VLAN id in bits 48..60, MAC in bits 0..48; `EMPTY` marks a free bucket.
    key: u64,
    port: u8,
    learned: bool,
    /// On its port's quota list (a learned entry not yet taken off after ageing).
    counted: bool,
    last_seen_ns: u64,
}

const EMPTY: u64 = u64::MAX;

/// "No bucket" in the quota lists.
const NIL: u32 = u32::MAX;

/// A bucket's neighbours on its port's quota list (meaningful while `counted`).
#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
}

/// One port's quota list: oldest entry first.
#[derive(Clone, Copy, Debug)]
struct Quota {
    head: u32,
    tail: u32,
    len: u32,
}

/// The table key of (vid, mac): also `key(vid, 0) | mac` for a 48-bit `mac`.
pub(crate) const fn key(vid: u16, mac: u64) -> u64 {
    ((vid as u64 & 0x0fff) << 48) | (mac & 0xffff_ffff_ffff)
}

/// Largest table: bucket indices fit the quota lists' `u32` links.
pub(crate) const MAX_BUCKETS: usize = 1 << 31;

/// Why an entry could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertError {
    /// All probed buckets hold live entries.
    Full,
    /// The key is a static entry of another port.
    Static,
    /// The port holds as many live learned entries as its quota allows.
    Quota,
}

/// The outcome of a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) port: u8,
    pub(crate) learned: bool,
}

/// A fixed-capacity MAC table of `N` buckets (`N` a power of two, at most
/// [`MAX_BUCKETS`]).
#[derive(Debug)]
pub(crate) struct MacTable<const N: usize> {
    buckets: [Entry; N],
    links: [Link; N],
    quotas: [Quota; QUOTA_PORTS],
    age_ns: u64,
}

impl<const N: usize> MacTable<N> {
    pub(crate) fn new(age_ns: u64) -> Self {
        MacTable {
            buckets: [Entry {
                key: EMPTY,
                port: 0,
                learned: false,
                counted: false,
                last_seen_ns: 0,
            }; N],
            links: [Link {
                prev: NIL,
                next: NIL,
            }; N],
            quotas: [Quota {
                head: NIL,
                tail: NIL,
                len: 0,
            }; QUOTA_PORTS],
            age_ns,
        }
    }

    #[inline]
    fn home(k: u64) -> usize {
        // Fibonacci hashing; N is a power of two (checked when the switch is built).
        let h = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> 32) as usize & (N - 1)
    }

    #[inline]
    fn live(&self, e: &Entry, now_ns: u64) -> bool {
        e.key != EMPTY && (!e.learned || now_ns.saturating_sub(e.last_seen_ns) <= self.age_ns)
    }

    /// Looks up (vid, mac); learned entries older than the age limit are absent.
    #[inline(always)]
    pub(crate) fn lookup(&self, vid: u16, mac: u64, now_ns: u64) -> Option<Hit> {
        self.lookup_key(key(vid, mac), now_ns)
    }

    /// [`lookup`](Self::lookup) by a key made with [`key`].
    #[inline(always)]
    pub(crate) fn lookup_key(&self, k: u64, now_ns: u64) -> Option<Hit> {
        let home = Self::home(k);
        for i in 0..PROBE_LIMIT.min(N) {
            let e = &self.buckets[(home + i) & (N - 1)];
            if e.key == k {
                return self.live(e, now_ns).then_some(Hit {
                    port: e.port,
                    learned: e.learned,
                });
            }
            if e.key == EMPTY {
                return None;
            }
        }
        None
    }

    /// Learned entries counted against `port`'s quota (live ones, and aged-out ones not
    /// yet taken off its list).
    #[cfg(test)]
    pub(crate) fn counted(&self, port: u8) -> u32 {
        self.quotas.get(usize::from(port)).map_or(0, |q| q.len)
    }

    /// `true` if (vid, mac) is currently learned on `port`.
    #[cfg(test)]
    pub(crate) fn is_learned_on(&self, vid: u16, mac: u64, port: u8, now_ns: u64) -> bool {
        matches!(self.lookup(vid, mac, now_ns), Some(Hit { port: p, learned: true }) if p == port)
    }

    /// Takes bucket `at` off its port's quota list, if it is on it.
    fn uncount(&mut self, at: usize) {
        let Some(e) = self.buckets.get_mut(at) else {
            return;
        };
        if !e.counted {
            return;
        }
        e.counted = false;
        let port = usize::from(e.port);
        let Link { prev, next } = self.links.get(at).copied().unwrap_or(Link {
            prev: NIL,
            next: NIL,
        });
        let Some(q) = self.quotas.get_mut(port) else {
            return;
        };
        if prev == NIL {
            q.head = next;
        }
        if next == NIL {
            q.tail = prev;
        }
        q.len = q.len.saturating_sub(1);
        if let Some(l) = self.links.get_mut(prev as usize) {
            l.next = next;
        }
        if let Some(l) = self.links.get_mut(next as usize) {
            l.prev = prev;
        }
    }

    /// Puts bucket `at` (a learned entry, not counted) last on its port's quota list.
    fn count(&mut self, at: usize) {
        let Some(e) = self.buckets.get_mut(at) else {
            return;
        };
        let Some(q) = self.quotas.get_mut(usize::from(e.port)) else {
            return;
        };
        e.counted = true;
        let tail = q.tail;
        // `at < N <= MAX_BUCKETS`: the index fits.
        let me = at as u32;
        if tail == NIL {
            q.head = me;
        }
        q.tail = me;
        q.len += 1;
        if let Some(l) = self.links.get_mut(tail as usize) {
            l.next = me;
        }
        if let Some(l) = self.links.get_mut(at) {
            *l = Link {
                prev: tail,
                next: NIL,
            };
        }
    }

    /// `true` if `port` may count one more entry under `quota`; takes its oldest entry
    /// off its list first if that one has aged out (at most one: a learn needs one).
    fn has_room(&mut self, port: u8, quota: u16, now_ns: u64) -> bool {
        let Some(q) = self.quotas.get(usize::from(port)).copied() else {
            return false;
        };
        if q.len < u32::from(quota) {
            return true;
        }
        let oldest = q.head as usize;
        match self.buckets.get(oldest) {
            Some(e) if q.head != NIL && !self.live(e, now_ns) => {
                self.uncount(oldest);
                self.quotas
                    .get(usize::from(port))
                    .is_some_and(|q| q.len < u32::from(quota))
            }
            _ => false,
        }
    }

    /// Stores a static binding; replaces nothing but a learned entry.
    pub(crate) fn insert_static(
        &mut self,
        vid: u16,
        mac: u64,
        port: u8,
    ) -> Result<(), InsertError> {
        let k = key(vid, mac);
        let at = match self.probe(k, 0) {
            Probe::Found(at) => {
                let e = self.buckets[at];
                if !e.learned {
                    return if e.port == port {
                        Ok(())
                    } else {
                        Err(InsertError::Static)
                    };
                }
                at
            }
            Probe::Free(at) => at,
            Probe::Full => return Err(InsertError::Full),
        };
        self.uncount(at);
        self.buckets[at] = Entry {
            key: k,
            port,
            learned: false,
            counted: false,
            last_seen_ns: 0,
        };
        Ok(())
    }

    /// Learns (vid, mac) on `port` at `now_ns`, within `quota` live learned entries of
    /// the port. Refreshing an entry the port holds needs no room; a new address, or one
    /// learned on another port (a station that moved), does.
    pub(crate) fn learn(
        &mut self,
        vid: u16,
        mac: u64,
        port: u8,
        now_ns: u64,
        quota: u16,
    ) -> Result<(), InsertError> {
        let k = key(vid, mac);
        let at = match self.probe(k, now_ns) {
            Probe::Found(at) => {
                let e = self.buckets[at];
                if !e.learned {
                    return Err(InsertError::Static);
                }
                let refresh = e.counted && e.port == port;
                if refresh && self.quotas.get(usize::from(port)).map(|q| q.tail) == Some(at as u32)
                {
                    // Already the port's most recent entry: its place on the list stays.
                    self.buckets[at].last_seen_ns = now_ns;
                    return Ok(());
                }
                if !refresh && !self.has_room(port, quota, now_ns) {
                    return Err(InsertError::Quota);
                }
                at
            }
            Probe::Free(at) => {
                if !self.has_room(port, quota, now_ns) {
                    return Err(InsertError::Quota);
                }
                at
            }
            Probe::Full => return Err(InsertError::Full),
        };
        // Off whichever list holds the bucket (a refresh, a station that moved, or an
        // aged-out entry reused), then last on `port`'s list.
        self.uncount(at);
        self.buckets[at] = Entry {
            key: k,
            port,
            learned: true,
            counted: false,
            last_seen_ns: now_ns,
        };
        self.count(at);
        Ok(())
    }

    /// The bucket holding `k`, else the first free one of its probe sequence (empty or
    /// an aged-out learned entry), else `Full`.
    fn probe(&self, k: u64, now_ns: u64) -> Probe {
        let home = Self::home(k);
        let mut free: Option<usize> = None;
        for i in 0..PROBE_LIMIT.min(N) {
            let at = (home + i) & (N - 1);
            let e = &self.buckets[at];
            if e.key == k {
                return Probe::Found(at);
            }
            if free.is_none() && (e.key == EMPTY || !self.live(e, now_ns)) {
                free = Some(at);
            }
            if e.key == EMPTY {
                break;
            }
        }
        free.map_or(Probe::Full, Probe::Free)
    }
}

/// Where a key is, or may go.
enum Probe {
    Found(usize),
    Free(usize),
    Full,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_entries_are_found_and_never_replaced() {
        let mut t = MacTable::<16>::new(1000);
        t.insert_static(1, 0x0200_0000_0001, 3).unwrap();
        assert_eq!(
            t.lookup(1, 0x0200_0000_0001, 0),
            Some(Hit {
                port: 3,
                learned: false
            })
        );
        assert_eq!(t.lookup(2, 0x0200_0000_0001, 0), None, "keyed by VLAN too");
        assert_eq!(
            t.learn(1, 0x0200_0000_0001, 0, 5, 8),
            Err(InsertError::Static)
        );
        assert_eq!(
            t.insert_static(1, 0x0200_0000_0001, 4),
            Err(InsertError::Static)
        );
    }

    #[test]
    fn learned_entries_age_and_free_their_bucket() {
        let mut t = MacTable::<8>::new(100);
        assert_eq!(t.learn(1, 7, 0, 10, 8), Ok(()));
        assert!(t.is_learned_on(1, 7, 0, 110));
        assert_eq!(t.lookup(1, 7, 111), None, "aged out");
        // Fill every bucket with live entries: the next insert is refused, bounded.
        let mut t = MacTable::<8>::new(1_000_000);
        let mut stored = 0;
        for mac in 0..64u64 {
            if t.learn(1, mac, 0, 0, 64).is_ok() {
                stored += 1;
            }
        }
        assert_eq!(stored, 8);
        assert_eq!(t.learn(1, 1000, 0, 0, 64), Err(InsertError::Full));
        // Once they are stale, a new entry of another port reuses a bucket; the stale
        // entry it replaced no longer counts for port 0.
        assert_eq!(t.counted(0), 8);
        assert_eq!(t.learn(1, 1000, 1, 2_000_000, 1), Ok(()));
        assert_eq!((t.counted(0), t.counted(1)), (7, 1));
    }

    #[test]
    fn aged_out_entries_do_not_count_against_the_quota() {
        let mut t = MacTable::<64>::new(100);
        assert_eq!(t.learn(1, 1, 0, 0, 2), Ok(()));
        assert_eq!(t.learn(1, 2, 0, 50, 2), Ok(()));
        assert_eq!(t.learn(1, 3, 0, 60, 2), Err(InsertError::Quota));
        // A refresh needs no room and moves the entry to the back of the list.
        assert_eq!(t.learn(1, 1, 0, 90, 2), Ok(()));
        // At 151 entry 2 (seen at 50) aged out, entry 1 (seen at 90) has not.
        assert_eq!(t.learn(1, 3, 0, 151, 2), Ok(()));
        assert!(t.is_learned_on(1, 1, 0, 151) && t.is_learned_on(1, 3, 0, 151));
        assert_eq!(t.learn(1, 4, 0, 151, 2), Err(InsertError::Quota));
        // An hour later, everything aged out: learning resumes up to the quota.
        assert_eq!(t.learn(1, 5, 0, 3_600, 2), Ok(()));
        assert_eq!(t.learn(1, 6, 0, 3_600, 2), Ok(()));
        assert_eq!(t.learn(1, 7, 0, 3_600, 2), Err(InsertError::Quota));
        assert_eq!(t.counted(0), 2);
        // A station moving to another port needs room there, and leaves its old port.
        assert_eq!(t.learn(1, 5, 1, 3_601, 0), Err(InsertError::Quota));
        assert_eq!(t.learn(1, 5, 1, 3_601, 1), Ok(()));
        assert_eq!((t.counted(0), t.counted(1)), (1, 1));
        assert_eq!(t.learn(1, 7, 0, 3_601, 2), Ok(()));
        // Quota 0 learns nothing.
        assert_eq!(t.learn(1, 8, 2, 3_601, 0), Err(InsertError::Quota));
        // Pinning a learned address as static takes it off its port's list.
        t.insert_static(1, 7, 3).unwrap();
        assert_eq!(t.counted(0), 1);
    }

    mod model {
        use super::super::*;
        use proptest::prelude::*;
        use std::collections::HashMap;

        const AGE: u64 = 100;

        #[derive(Debug, Clone)]
        enum Op {
            /// Learn (vid, mac) on a port after `dt` more nanoseconds.
            Learn {
                vid: u16,
                mac: u64,
                port: u8,
                dt: u64,
            },
            /// Look up (vid, mac) after `dt`.
            Lookup { vid: u16, mac: u64, dt: u64 },
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => (1u16..=2, 0u64..4, 0u8..3, 0u64..60)
                    .prop_map(|(vid, mac, port, dt)| Op::Learn { vid, mac, port, dt }),
                1 => (1u16..=2, 0u64..4, 0u64..60)
                    .prop_map(|(vid, mac, dt)| Op::Lookup { vid, mac, dt }),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: if cfg!(miri) { 4 } else { 256 },
                .. ProptestConfig::default()
            })]

            /// Ageing against quotas: a learn is refused for quota exactly when the
            /// port already holds `quota` live entries (a refresh never is), and a
            /// lookup finds exactly the live entries. 8 keys in 256 buckets: the probe
            /// neighbourhood never fills, so `Full` never happens.
            #[test]
            fn quotas_count_live_entries_only(
                quotas in prop::array::uniform3(0u16..4),
                ops in prop::collection::vec(op(), 1..120),
            ) {
                let mut t = MacTable::<256>::new(AGE);
                // (vid, mac) -> (port, last seen)
                let mut model: HashMap<(u16, u64), (u8, u64)> = HashMap::new();
                let live = |seen: u64, now: u64| now - seen <= AGE;
                let mut now = 0u64;
                for op in ops {
                    match op {
                        Op::Learn { vid, mac, port, dt } => {
                            now += dt;
                            let quota = quotas[usize::from(port)];
                            let refresh = matches!(
                                model.get(&(vid, mac)),
                                Some((p, seen)) if *p == port && live(*seen, now)
                            );
                            let held = model
                                .iter()
                                .filter(|(_, (p, seen))| *p == port && live(*seen, now))
                                .count();
                            let want = if refresh || held < usize::from(quota) {
                                model.insert((vid, mac), (port, now));
                                Ok(())
                            } else {
                                Err(InsertError::Quota)
                            };
                            prop_assert_eq!(t.learn(vid, mac, port, now, quota), want);
                            prop_assert!(t.counted(port) <= u32::from(quota));
                        }
                        Op::Lookup { vid, mac, dt } => {
                            now += dt;
                            let want = model
                                .get(&(vid, mac))
                                .filter(|(_, seen)| live(*seen, now))
                                .map(|(p, _)| Hit { port: *p, learned: true });
                            prop_assert_eq!(t.lookup(vid, mac, now), want);
                        }
                    }
                }
            }
        }
    }
}
