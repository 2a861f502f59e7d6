//! Register offsets and bits of the Intel 82540EM (8254x family) as QEMU emulates it.
//!
//! Names follow the 8254x Software Developer's Manual (rev. 4.0), chapter 13.

/// Device Control.
pub const CTRL: u32 = 0x0000;
/// Device Status.
pub const STATUS: u32 = 0x0008;
/// EEPROM Read.
pub const EERD: u32 = 0x0014;
/// Interrupt Cause Read (read clears).
pub const ICR: u32 = 0x00c0;
/// Interrupt Mask Set/Read.
pub const IMS: u32 = 0x00d0;
/// Interrupt Mask Clear.
pub const IMC: u32 = 0x00d8;
/// Receive Control.
pub const RCTL: u32 = 0x0100;
/// Transmit Control.
pub const TCTL: u32 = 0x0400;
/// Transmit Inter-Packet Gap.
pub const TIPG: u32 = 0x0410;
/// Receive Descriptor Base Address Low / High, Length, Head, Tail.
pub const RDBAL: u32 = 0x2800;
/// Receive Descriptor Base Address High.
pub const RDBAH: u32 = 0x2804;
/// Receive Descriptor Length (bytes, multiple of 128).
pub const RDLEN: u32 = 0x2808;
/// Receive Descriptor Head.
pub const RDH: u32 = 0x2810;
/// Receive Descriptor Tail.
pub const RDT: u32 = 0x2818;
/// Receive Delay Timer.
pub const RDTR: u32 = 0x2820;
/// Transmit Descriptor Base Address Low.
pub const TDBAL: u32 = 0x3800;
/// Transmit Descriptor Base Address High.
pub const TDBAH: u32 = 0x3804;
/// Transmit Descriptor Length (bytes, multiple of 128).
pub const TDLEN: u32 = 0x3808;
/// Transmit Descriptor Head.
pub const TDH: u32 = 0x3810;
/// Transmit Descriptor Tail.
pub const TDT: u32 = 0x3818;
/// Multicast Table Array (128 dwords).
pub const MTA: u32 = 0x5200;
/// Receive Address Low, entry 0.
pub const RAL0: u32 = 0x5400;
/// Receive Address High, entry 0.
pub const RAH0: u32 = 0x5404;
/// Size of the register window (BAR0).
pub const WINDOW: u32 = 0x2_0000;

/// CTRL: set link up.
pub const CTRL_SLU: u32 = 1 << 6;
/// CTRL: auto-speed detection enable.
pub const CTRL_ASDE: u32 = 1 << 5;
/// CTRL: link reset.
pub const CTRL_LRST: u32 = 1 << 3;
/// CTRL: device reset (self-clearing).
pub const CTRL_RST: u32 = 1 << 26;
/// CTRL: PHY reset.
pub const CTRL_PHY_RST: u32 = 1 << 31;

/// STATUS: full duplex.
pub const STATUS_FD: u32 = 1 << 0;
/// STATUS: link up.
pub const STATUS_LU: u32 = 1 << 1;

/// EERD: start a read.
pub const EERD_START: u32 = 1 << 0;
/// EERD: read done.
pub const EERD_DONE: u32 = 1 << 4;

/// Interrupt causes: TX descriptor written back.
pub const ICR_TXDW: u32 = 1 << 0;
/// Link status change.
pub const ICR_LSC: u32 = 1 << 2;
/// RX descriptor minimum threshold.
pub const ICR_RXDMT0: u32 = 1 << 4;
/// RX overrun.
pub const ICR_RXO: u32 = 1 << 6;
/// RX timer (a frame arrived).
pub const ICR_RXT0: u32 = 1 << 7;

/// RCTL: receiver enable.
pub const RCTL_EN: u32 = 1 << 1;
/// RCTL: unicast promiscuous.
pub const RCTL_UPE: u32 = 1 << 3;
/// RCTL: multicast promiscuous.
pub const RCTL_MPE: u32 = 1 << 4;
/// RCTL: broadcast accept.
pub const RCTL_BAM: u32 = 1 << 15;
/// RCTL: strip the Ethernet CRC.
pub const RCTL_SECRC: u32 = 1 << 26;
/// RCTL: buffer size 2048 (BSIZE = 00, BSEX = 0).
pub const RCTL_BSIZE_2048: u32 = 0;

/// TCTL: transmitter enable.
pub const TCTL_EN: u32 = 1 << 1;
/// TCTL: pad short packets.
pub const TCTL_PSP: u32 = 1 << 3;
/// TCTL: collision threshold (recommended 0x10).
pub const TCTL_CT: u32 = 0x10 << 4;
/// TCTL: collision distance (full duplex: 0x40).
pub const TCTL_COLD: u32 = 0x40 << 12;
/// TIPG recommended for 802.3 copper: IPGT 10, IPGR1 8, IPGR2 6.
pub const TIPG_COPPER: u32 = 10 | (8 << 10) | (6 << 20);

/// RAH: address valid.
pub const RAH_AV: u32 = 1 << 31;

/// RX descriptor status: descriptor done.
pub const RXD_STAT_DD: u8 = 1 << 0;
/// RX descriptor status: end of packet.
pub const RXD_STAT_EOP: u8 = 1 << 1;
/// TX descriptor command: end of packet.
pub const TXD_CMD_EOP: u8 = 1 << 0;
/// TX descriptor command: insert FCS.
pub const TXD_CMD_IFCS: u8 = 1 << 1;
/// TX descriptor command: report status.
pub const TXD_CMD_RS: u8 = 1 << 3;
/// TX descriptor status: descriptor done.
pub const TXD_STAT_DD: u8 = 1 << 0;

/// PCI vendor id of Intel.
pub const PCI_VENDOR_INTEL: u16 = 0x8086;
/// PCI device id of the 82540EM (QEMU `-device e1000`).
pub const PCI_DEVICE_82540EM: u16 = 0x100e;
