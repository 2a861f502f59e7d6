//! [`MacAddress`]: a 48-bit IEEE MAC address.

use core::fmt;
use core::str::FromStr;

/// A 48-bit IEEE MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddress = MacAddress([0xff; 6]);
    /// The all-zero address (never a valid source).
    pub const ZERO: MacAddress = MacAddress([0; 6]);

    /// An address from its bytes.
    pub const fn new(bytes: [u8; 6]) -> Self {
        MacAddress(bytes)
    }

    /// The address in the first six bytes of `bytes`, if there are six.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.first_chunk::<6>().map(|b| MacAddress(*b))
    }

    /// The bytes of the address.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// `true` for `ff:ff:ff:ff:ff:ff`.
    pub const fn is_broadcast(&self) -> bool {
        self.to_u64() == 0xffff_ffff_ffff
    }

    /// `true` for group addresses (the I/G bit), broadcast included.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    /// `true` for a usable station address: individual (not a group) and not all zero.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast() && self.to_u64() != 0
    }

    /// `true` for a locally administered address (the U/L bit).
    pub const fn is_local(&self) -> bool {
        self.0[0] & 2 != 0
    }

    /// The address from the low 48 bits of a `u64`.
    #[inline]
    pub const fn from_u64(v: u64) -> Self {
        let b = v.to_be_bytes();
        MacAddress([b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// The address as the low 48 bits of a `u64` (for hashing and comparison).
    #[inline]
    pub const fn to_u64(&self) -> u64 {
        let b = self.0;
        u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
    }
}

impl From<[u8; 6]> for MacAddress {
    fn from(b: [u8; 6]) -> Self {
        MacAddress(b)
    }
}

impl From<MacAddress> for [u8; 6] {
    fn from(m: MacAddress) -> Self {
        m.0
    }
}

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// A text that is not a MAC address (`MacAddress::from_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseMacError {
    /// Which of the six octets (0-based) is missing or not two hex digits; 6 for
    /// trailing text.
    pub octet: u8,
}

impl fmt::Display for ParseMacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.octet >= 6 {
            write!(f, "a MAC address has six octets; found more")
        } else {
            write!(
                f,
                "octet {} of the MAC address is not two hex digits (want aa:bb:cc:dd:ee:ff)",
                self.octet + 1
            )
        }
    }
}

impl core::error::Error for ParseMacError {}

impl FromStr for MacAddress {
    type Err = ParseMacError;

    /// Six pairs of hex digits separated by `:` or `-` (`02:00:00:00:00:01`).
    fn from_str(s: &str) -> Result<Self, ParseMacError> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for (i, o) in out.iter_mut().enumerate() {
            let err = ParseMacError { octet: i as u8 };
            let p = parts.next().ok_or(err)?;
            if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err);
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| err)?;
        }
        match parts.next() {
            Some(_) => Err(ParseMacError { octet: 6 }),
            None => Ok(MacAddress(out)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_addresses() {
        assert!(MacAddress::BROADCAST.is_broadcast() && MacAddress::BROADCAST.is_multicast());
        assert!(!MacAddress::ZERO.is_unicast() && !MacAddress::ZERO.is_multicast());
        let m = MacAddress([0x02, 0, 0, 0, 0, 1]);
        assert!(m.is_unicast() && m.is_local() && !m.is_broadcast());
        assert!(MacAddress([0x01, 0x80, 0xc2, 0, 0, 0]).is_multicast());
        assert_eq!(MacAddress::from_u64(m.to_u64()), m);
        assert_eq!(MacAddress::from_slice(&[1, 2, 3, 4, 5]), None);
        assert_eq!(
            MacAddress::from_slice(&[1, 2, 3, 4, 5, 6, 7]),
            Some(MacAddress([1, 2, 3, 4, 5, 6]))
        );
    }

    #[test]
    fn parses_and_prints() {
        let m: MacAddress = "02:50:4E:00:00:0a".parse().unwrap();
        assert_eq!(m, MacAddress([0x02, 0x50, 0x4e, 0, 0, 0x0a]));
        assert_eq!(m.to_string(), "02:50:4e:00:00:0a");
        assert_eq!("02-50-4e-00-00-0a".parse::<MacAddress>(), Ok(m));
        assert_eq!(
            "02:50:4e:00:00".parse::<MacAddress>(),
            Err(ParseMacError { octet: 5 })
        );
        assert_eq!(
            "02:50:4e:00:00:0a:01".parse::<MacAddress>(),
            Err(ParseMacError { octet: 6 })
        );
        assert_eq!(
            "2:50:4e:00:00:0a".parse::<MacAddress>(),
            Err(ParseMacError { octet: 0 })
        );
        assert_eq!(
            "02:5g:4e:00:00:0a".parse::<MacAddress>(),
            Err(ParseMacError { octet: 1 })
        );
        assert!("".parse::<MacAddress>().is_err());
        assert!("+a:00:00:00:00:00".parse::<MacAddress>().is_err());
    }
}
