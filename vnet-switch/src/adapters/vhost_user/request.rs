//! What a frontend's socket holds, looked at without taking it (`MSG_PEEK`): the port
//! hands a request to `vhost`'s dispatcher only when it is there whole, because the
//! dispatcher reads with blocking calls (and retries a socket that would block without
//! end). Nothing waiting, a closed or failed socket and an oversized header are decided
//! here, never by a read that could wait.

use std::io::ErrorKind;
use std::os::fd::BorrowedFd;

use vhost::vhost_user::message::MAX_MSG_SIZE;

use super::sys;

/// Header: request (4), flags (4), size (4), in the host's byte order as the dispatcher
/// reads it (vhost-user runs on little-endian hosts).
pub(crate) const HEADER: usize = 12;

/// What a frontend's socket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// No byte (a wake-up for another reason, or for another fd).
    Nothing,
    /// A whole request, and room in the socket for its reply.
    Whole,
    /// Part of a request (bytes), or a whole one whose reply would not fit.
    Partial(u32),
    /// A header announcing a body above [`MAX_MSG_SIZE`] (the body size).
    Oversized(u32),
    /// The frontend closed the socket.
    Closed,
    /// The socket failed (errno).
    Failed(i32),
}

/// The length of the request a header announces (header included), or `None` when its
/// body is above [`MAX_MSG_SIZE`]. No overflow on any target: the size field is a `u32`
/// the frontend chose.
pub(crate) fn request_len(header: &[u8; HEADER]) -> Option<usize> {
    let size = u32::from_ne_bytes([header[8], header[9], header[10], header[11]]);
    let size = usize::try_from(size).ok().filter(|&s| s <= MAX_MSG_SIZE)?;
    size.checked_add(HEADER)
}

fn peek(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Waiting> {
    match sys::peek(fd, buf) {
        Ok(0) => Err(Waiting::Closed),
        Ok(n) => Ok(n),
        // EAGAIN / EWOULDBLOCK: nothing there; EINTR: look again at the next wake-up.
        Err(e) => match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::Interrupted => Err(Waiting::Nothing),
            _ => Err(Waiting::Failed(e.raw_os_error().unwrap_or(0))),
        },
    }
}

/// What the socket `fd` holds now (never blocks).
pub(crate) fn request_waiting(fd: BorrowedFd<'_>) -> Waiting {
    let mut buf = [0u8; HEADER + MAX_MSG_SIZE];
    let n = match peek(fd, &mut buf[..HEADER]) {
        Ok(n) => n,
        Err(w) => return w,
    };
    if n < HEADER {
        return Waiting::Partial(n as u32);
    }
    let mut header = [0u8; HEADER];
    header.copy_from_slice(&buf[..HEADER]);
    let Some(want) = request_len(&header) else {
        let size = u32::from_ne_bytes([header[8], header[9], header[10], header[11]]);
        return Waiting::Oversized(size);
    };
    let got = match peek(fd, &mut buf[..want]) {
        Ok(n) => n,
        // The header was there a moment ago: only a failure can take it away.
        Err(Waiting::Nothing) => n,
        Err(w) => return w,
    };
    if got < want || !sys::writable(fd) {
        return Waiting::Partial(got as u32);
    }
    Waiting::Whole
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(size: u32) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[..4].copy_from_slice(&1u32.to_ne_bytes());
        h[4..8].copy_from_slice(&1u32.to_ne_bytes());
        h[8..].copy_from_slice(&size.to_ne_bytes());
        h
    }

    #[test]
    fn request_lengths_never_overflow() {
        assert_eq!(request_len(&header(0)), Some(HEADER));
        assert_eq!(
            request_len(&header(MAX_MSG_SIZE as u32)),
            Some(HEADER + MAX_MSG_SIZE)
        );
        for size in [
            MAX_MSG_SIZE as u32 + 1,
            u32::MAX - 11,
            u32::MAX - 12,
            u32::MAX,
        ] {
            assert_eq!(request_len(&header(size)), None, "size {size:#x}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "sockets")]
    fn an_empty_or_closed_socket_is_told_apart_from_a_request() {
        use std::io::Write;
        use std::os::fd::AsFd;
        use std::os::unix::net::UnixStream;

        let (mut front, back) = UnixStream::pair().unwrap();
        let fd = back.as_fd();
        assert_eq!(request_waiting(fd), Waiting::Nothing);
        front.write_all(&header(8)[..5]).unwrap();
        assert_eq!(request_waiting(fd), Waiting::Partial(5));
        front.write_all(&header(8)[5..]).unwrap();
        assert_eq!(request_waiting(fd), Waiting::Partial(HEADER as u32));
        front.write_all(&[0; 8]).unwrap();
        assert_eq!(request_waiting(fd), Waiting::Whole);

        let (mut front, back) = UnixStream::pair().unwrap();
        front.write_all(&header(u32::MAX)).unwrap();
        assert_eq!(request_waiting(back.as_fd()), Waiting::Oversized(u32::MAX));
        drop(front);
        assert_eq!(
            request_waiting(back.as_fd()),
            Waiting::Oversized(u32::MAX),
            "bytes still queued"
        );
        let (front, back) = UnixStream::pair().unwrap();
        drop(front);
        assert_eq!(request_waiting(back.as_fd()), Waiting::Closed);
    }
}
