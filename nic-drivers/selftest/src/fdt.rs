//! Just enough of a flattened device tree reader to find `/chosen/bootargs`.
//!
//! Bounds-checked on every field: a malformed blob gives `None`, never a fault.

/// Size of the blob is taken from its header but capped here.
const MAX_FDT: usize = 1 << 20;

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn cstr(b: &[u8], off: usize) -> Option<&[u8]> {
    let rest = b.get(off..)?;
    let end = rest.iter().position(|&c| c == 0)?;
    rest.get(..end)
}

/// The `/chosen/bootargs` string of the device tree at `blob`.
///
/// # Safety
/// `blob` must point at a readable device tree (OpenSBI passes it in `a1`).
#[allow(unsafe_code)]
pub unsafe fn bootargs(blob: usize) -> Option<&'static str> {
    // SAFETY: the caller says a header (40 bytes) is readable at `blob`.
    let header = unsafe { core::slice::from_raw_parts(blob as *const u8, 40) };
    if be32(header, 0)? != 0xd00d_feed {
        return None;
    }
    let total = usize::try_from(be32(header, 4)?).ok()?.min(MAX_FDT);
    // SAFETY: the header says the blob is `total` bytes long (capped).
    let b = unsafe { core::slice::from_raw_parts(blob as *const u8, total) };
    find_bootargs(b)
}

fn find_bootargs(b: &'static [u8]) -> Option<&'static str> {
    let off_struct = usize::try_from(be32(b, 8)?).ok()?;
    let off_strings = usize::try_from(be32(b, 12)?).ok()?;
    let mut p = off_struct;
    let mut depth = 0usize;
    let mut in_chosen = false;
    // Each step consumes at least 4 bytes, so this is bounded by the blob size.
    while p < b.len() {
        let tok = be32(b, p)?;
        p += 4;
        match tok {
            1 => {
                let name = cstr(b, p)?;
                p = (p + name.len() + 1 + 3) & !3;
                depth += 1;
                in_chosen = depth == 2 && name == b"chosen";
            }
            2 => {
                depth = depth.checked_sub(1)?;
                in_chosen = false;
            }
            3 => {
                let len = usize::try_from(be32(b, p)?).ok()?;
                let name_off = usize::try_from(be32(b, p + 4)?).ok()?;
                let value = b.get(p + 8..(p + 8).checked_add(len)?)?;
                p = (p + 8 + len + 3) & !3;
                if in_chosen && cstr(b, off_strings.checked_add(name_off)?)? == b"bootargs" {
                    let s = value.split(|&c| c == 0).next()?;
                    return core::str::from_utf8(s).ok();
                }
            }
            4 => {}
            _ => return None,
        }
    }
    None
}
