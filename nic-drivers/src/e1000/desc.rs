//! Legacy receive and transmit descriptors (16 bytes, little-endian) as plain values.
//!
//! The driver copies a descriptor out of DMA memory exactly once into a `[u8; 16]` and
//! decodes it here; nothing is read from the ring twice.

/// Size of one descriptor in bytes.
pub const DESC_LEN: usize = 16;

/// What the device wrote back into a receive descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxWriteBack {
    /// Buffer address (the driver's value; a device could change it, we never use it).
    pub addr: u64,
    /// Bytes written into the buffer.
    pub length: u16,
    /// Packet checksum (not used).
    pub checksum: u16,
    /// Status bits (`RXD_STAT_*`).
    pub status: u8,
    /// Error bits (CE, SE, SEQ, CXE, RXE).
    pub errors: u8,
    /// VLAN tag (not used).
    pub special: u16,
}

impl RxWriteBack {
    /// Decodes a descriptor copied out of the ring.
    pub fn decode(b: &[u8; DESC_LEN]) -> Self {
        Self {
            addr: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            length: u16::from_le_bytes([b[8], b[9]]),
            checksum: u16::from_le_bytes([b[10], b[11]]),
            status: b[12],
            errors: b[13],
            special: u16::from_le_bytes([b[14], b[15]]),
        }
    }

    /// Encodes (the fake device writes back with this).
    pub fn encode(&self) -> [u8; DESC_LEN] {
        let mut b = [0u8; DESC_LEN];
        b[0..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..10].copy_from_slice(&self.length.to_le_bytes());
        b[10..12].copy_from_slice(&self.checksum.to_le_bytes());
        b[12] = self.status;
        b[13] = self.errors;
        b[14..16].copy_from_slice(&self.special.to_le_bytes());
        b
    }

    /// A fresh descriptor the driver hands to the device: buffer address, status zero.
    pub fn armed(addr: u64) -> [u8; DESC_LEN] {
        let mut b = [0u8; DESC_LEN];
        b[0..8].copy_from_slice(&addr.to_le_bytes());
        b
    }
}

/// A legacy transmit descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxDesc {
    /// Buffer address.
    pub addr: u64,
    /// Bytes to send from the buffer.
    pub length: u16,
    /// Checksum offset (not used: 0).
    pub cso: u8,
    /// Command bits (`TXD_CMD_*`).
    pub cmd: u8,
    /// Status bits (`TXD_STAT_*`), written back by the device.
    pub status: u8,
    /// Checksum start (not used: 0).
    pub css: u8,
    /// VLAN tag (not used: 0).
    pub special: u16,
}

impl TxDesc {
    /// Decodes a descriptor copied out of the ring.
    pub fn decode(b: &[u8; DESC_LEN]) -> Self {
        Self {
            addr: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            length: u16::from_le_bytes([b[8], b[9]]),
            cso: b[10],
            cmd: b[11],
            status: b[12],
            css: b[13],
            special: u16::from_le_bytes([b[14], b[15]]),
        }
    }

    /// Encodes for the ring.
    pub fn encode(&self) -> [u8; DESC_LEN] {
        let mut b = [0u8; DESC_LEN];
        b[0..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..10].copy_from_slice(&self.length.to_le_bytes());
        b[10] = self.cso;
        b[11] = self.cmd;
        b[12] = self.status;
        b[13] = self.css;
        b[14..16].copy_from_slice(&self.special.to_le_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rx_roundtrip_keeps_every_field() {
        let d = RxWriteBack {
            addr: 0x1122_3344_5566_7788,
            length: 0x05ea,
            checksum: 0xbeef,
            status: 3,
            errors: 0x80,
            special: 0x0123,
        };
        let b = d.encode();
        assert_eq!(&b[0..2], &[0x88, 0x77], "address is little-endian");
        assert_eq!(RxWriteBack::decode(&b), d);
    }

    #[test]
    fn tx_roundtrip_keeps_every_field() {
        let d = TxDesc {
            addr: 0x8000_1000,
            length: 60,
            cso: 1,
            cmd: 0x0b,
            status: 1,
            css: 2,
            special: 3,
        };
        let b = d.encode();
        assert_eq!(b[11], 0x0b, "cmd at byte 11");
        assert_eq!(TxDesc::decode(&b), d);
    }
}
