//! Unix constants and calls, chosen per system here so that portable code has no `cfg`.

/// Flags for `send` on a stream socket: never raise SIGPIPE on a closed peer (the error
/// comes back as `EPIPE` instead). Rust programs ignore SIGPIPE anyway; a library must
/// not rely on its host program for that.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) const SEND_FLAGS: i32 = libc::MSG_NOSIGNAL;

/// Systems without `MSG_NOSIGNAL` rely on SIGPIPE being ignored (as Rust programs do).
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) const SEND_FLAGS: i32 = 0;

/// Takes an exclusive `flock(2)` on `file` without waiting: `Ok(true)` when taken,
/// `Ok(false)` when another open file holds it (this process's or another's). The kernel
/// lets go when the file is closed or its process dies, so a crashed holder never
/// leaves a lock behind (a pid in a file can be reused; a flock cannot outlive its
/// holder).
#[allow(unsafe_code)]
pub(crate) fn try_lock_exclusive(file: &std::fs::File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: `flock` only takes the descriptor number; `file` keeps it open for
        // the whole call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::WouldBlock => return Ok(false),
            std::io::ErrorKind::Interrupted => {}
            _ => return Err(e),
        }
    }
}
