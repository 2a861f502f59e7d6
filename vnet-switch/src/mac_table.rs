//! The MAC table: fixed capacity, open addressing, bounded probing.
//!
//! Keys are (VLAN id, MAC address). A lookup hashes the key (one multiplication) and
//! probes at most [`PROBE_LIMIT`] consecutive buckets, so every operation is O(1) with
//! a constant bound, whatever the peers send. Static entries (a partition's own address)
//! are never replaced; learned entries age out and count against their port's quota.

/// Buckets probed at most per operation.
pub const PROBE_LIMIT: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// VLAN id in bits 48..60, MAC in bits 0..48; `EMPTY` marks a free bucket.
    key: u64,
    port: u8,
    learned: bool,
    last_seen_ns: u64,
}

const EMPTY: u64 = u64::MAX;

/// The table key of (vid, mac): also `key(vid, 0) | mac` for a 48-bit `mac`.
pub(crate) const fn key(vid: u16, mac: u64) -> u64 {
    ((vid as u64 & 0x0fff) << 48) | (mac & 0xffff_ffff_ffff)
}

/// Why an entry could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertError {
    /// All probed buckets hold live entries.
    Full,
    /// The key is a static entry of another port.
    Static,
}

/// The outcome of a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) port: u8,
    pub(crate) learned: bool,
}

/// A fixed-capacity MAC table of `N` buckets (`N` a power of two).
#[derive(Debug)]
pub(crate) struct MacTable<const N: usize> {
    buckets: [Entry; N],
    age_ns: u64,
}

impl<const N: usize> MacTable<N> {
    pub(crate) fn new(age_ns: u64) -> Self {
        MacTable {
            buckets: [Entry {
                key: EMPTY,
                port: 0,
                learned: false,
                last_seen_ns: 0,
            }; N],
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

    /// Stores a static binding; replaces nothing but a stale learned entry.
    pub(crate) fn insert_static(
        &mut self,
        vid: u16,
        mac: u64,
        port: u8,
    ) -> Result<(), InsertError> {
        self.insert(vid, mac, port, false, 0).map(|_| ())
    }

    /// Learns (vid, mac) on `port` at `now_ns`.
    ///
    /// Returns the port whose learned entry was replaced (to fix its quota count), or
    /// `Ok(None)`. Refreshing an entry of the same port returns `Ok(None)` too.
    pub(crate) fn learn(
        &mut self,
        vid: u16,
        mac: u64,
        port: u8,
        now_ns: u64,
    ) -> Result<Option<u8>, InsertError> {
        self.insert(vid, mac, port, true, now_ns)
    }

    /// `true` if (vid, mac) is currently learned on `port` (a refresh, not a new entry).
    pub(crate) fn is_learned_on(&self, vid: u16, mac: u64, port: u8, now_ns: u64) -> bool {
        matches!(self.lookup(vid, mac, now_ns), Some(Hit { port: p, learned: true }) if p == port)
    }

    fn insert(
        &mut self,
        vid: u16,
        mac: u64,
        port: u8,
        learned: bool,
        now_ns: u64,
    ) -> Result<Option<u8>, InsertError> {
        let k = key(vid, mac);
        let home = Self::home(k);
        let mut free: Option<usize> = None;
        for i in 0..PROBE_LIMIT.min(N) {
            let at = (home + i) & (N - 1);
            let e = self.buckets[at];
            if e.key == k {
                if !e.learned {
                    return if learned || e.port != port {
                        Err(InsertError::Static)
                    } else {
                        Ok(None)
                    };
                }
                // A learned entry: refresh, move (station moved) or pin as static.
                let replaced = (self.live(&e, now_ns) && e.port != port).then_some(e.port);
                let stale_other = (!self.live(&e, now_ns)).then_some(e.port);
                self.buckets[at] = Entry {
                    key: k,
                    port,
                    learned,
                    last_seen_ns: now_ns,
                };
                return Ok(replaced.or(stale_other));
            }
            if free.is_none() && (e.key == EMPTY || !self.live(&e, now_ns)) {
                free = Some(at);
            }
            if e.key == EMPTY {
                break;
            }
        }
        let at = free.ok_or(InsertError::Full)?;
        let old = self.buckets[at];
        self.buckets[at] = Entry {
            key: k,
            port,
            learned,
            last_seen_ns: now_ns,
        };
        // A stale learned entry of some port was evicted: its quota slot is free again.
        Ok((old.key != EMPTY && old.learned).then_some(old.port))
    }
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
        assert_eq!(t.learn(1, 0x0200_0000_0001, 0, 5), Err(InsertError::Static));
        assert_eq!(
            t.insert_static(1, 0x0200_0000_0001, 4),
            Err(InsertError::Static)
        );
    }

    #[test]
    fn learned_entries_age_and_free_their_bucket() {
        let mut t = MacTable::<8>::new(100);
        assert_eq!(t.learn(1, 7, 0, 10), Ok(None));
        assert!(t.is_learned_on(1, 7, 0, 110));
        assert_eq!(t.lookup(1, 7, 111), None, "aged out");
        // Fill every bucket with live entries: the next insert is refused, bounded.
        let mut t = MacTable::<8>::new(1_000_000);
        let mut stored = 0;
        for mac in 0..64u64 {
            if t.learn(1, mac, 0, 0).is_ok() {
                stored += 1;
            }
        }
        assert_eq!(stored, 8);
        assert_eq!(t.learn(1, 1000, 0, 0), Err(InsertError::Full));
        // Once they are stale, a new entry evicts one and reports its port.
        assert_eq!(t.learn(1, 1000, 1, 2_000_000), Ok(Some(0)));
    }
}
