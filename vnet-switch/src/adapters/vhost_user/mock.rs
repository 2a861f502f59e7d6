//! Test doubles for hostile-frontend tests (feature `test-utils`): raw vhost-user
//! messages, and the one request any frontend can check a backend's liveness with.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A raw vhost-user header: request code, flags (version 1), and the body size it
/// announces (which may lie: the hostile case).
pub fn header(request: u32, size: u32) -> Vec<u8> {
    let mut h = request.to_le_bytes().to_vec();
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&size.to_le_bytes());
    h
}

/// Send `GET_FEATURES` and read its reply within `within`: the features offered, or
/// `None` when no well-formed reply came (timeout, closed socket, another reply).
pub fn get_features(s: &mut UnixStream, within: Duration) -> Option<u64> {
    s.set_read_timeout(Some(within)).ok()?;
    s.write_all(&header(1, 0)).ok()?;
    let mut reply = [0u8; 20];
    s.read_exact(&mut reply).ok()?;
    let word = |i: usize| u32::from_le_bytes([reply[i], reply[i + 1], reply[i + 2], reply[i + 3]]);
    // Request 1, the reply flag (0x4), an 8-byte body.
    if (word(0), word(4) & 0x4, word(8)) != (1, 0x4, 8) {
        return None;
    }
    let mut body = [0u8; 8];
    body.copy_from_slice(&reply[12..]);
    Some(u64::from_le_bytes(body))
}
