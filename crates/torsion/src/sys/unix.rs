//! Unix constants and calls, chosen per system here so that portable code has no `cfg`.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

use socket2::Socket;

/// Flags for `send` on a stream socket: never raise SIGPIPE on a closed peer (the error
/// comes back as `EPIPE` instead). Rust programs ignore SIGPIPE anyway; a library must
/// not rely on its host program for that.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) const SEND_FLAGS: i32 = libc::MSG_NOSIGNAL;

/// Systems without `MSG_NOSIGNAL` rely on SIGPIPE being ignored (as Rust programs do).
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) const SEND_FLAGS: i32 = 0;

/// A descriptor of our own for the inherited descriptor `fd` (socket activation): a
/// duplicate, so that the inherited one stays open and adopting it twice (two
/// endpoints, or a port stopped and listened again) never closes a descriptor twice.
/// Fails with `EBADF` when `fd` is not open.
pub(crate) fn dup_inherited(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_GETFD only reads the descriptor's flags; any integer is a valid argument.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was open just above and this process never closes inherited
    // descriptors (we only ever close our duplicates), so it stays open while borrowed.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    borrowed.try_clone_to_owned()
}

/// Whether `listen(2)` was called on `socket` (`SO_ACCEPTCONN`).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) fn is_listening(socket: &Socket) -> io::Result<bool> {
    socket.is_listener()
}

/// Systems without `SO_ACCEPTCONN` in socket2: assume it listens; a socket that does not
/// fails at the first `accept`, which the port logs.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) fn is_listening(_socket: &Socket) -> io::Result<bool> {
    Ok(true)
}

/// Nanoseconds on the system's monotonic clock (`CLOCK_MONOTONIC`), from an arbitrary
/// start: the reactor's clock. `Instant::now()` reads the same clock on Linux and adds
/// some 60 instructions of checked arithmetic that the reactor, which reads it after
/// every callback, does not need.
pub(crate) fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec, and CLOCK_MONOTONIC exists on every
    // Unix; the call cannot fail with these arguments (EFAULT, EINVAL).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // The monotonic clock counts from boot (or another fixed point): never negative,
    // and u64 nanoseconds last 584 years.
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Whether process `pid` exists (`kill(pid, 0)`; `EPERM` means it exists but is not
/// ours): how a Unix socket's lock file is found stale, as Twisted's `FilesystemLock`.
pub(crate) fn process_exists(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; kill only checks that the process exists.
    let status = unsafe { libc::kill(pid, 0) };
    status == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// `fork(2)`: `Some(child)` in the parent, `None` in the child. Call it only while the
/// process has one thread (before a reactor or a thread pool exists): the child gets a
/// copy of this thread alone.
pub(crate) fn fork() -> io::Result<Option<u32>> {
    // SAFETY: fork has no memory-safety preconditions of its own; the caller keeps the
    // process single-threaded, so no lock is held by a thread the child lacks.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some(pid.unsigned_abs())),
    }
}

/// `setsid(2)`: a new session without a controlling terminal.
pub(crate) fn setsid() -> io::Result<()> {
    // SAFETY: setsid takes no arguments and only changes this process's session.
    match unsafe { libc::setsid() } {
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// Points descriptor `target` (0, 1 or 2) at `file`'s open file (`dup2(2)`).
pub(crate) fn redirect(file: &std::fs::File, target: RawFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `file` is open for the call; dup2 closes `target` atomically and makes it a
    // copy, so no descriptor this process owns through a Rust object is closed under it.
    match unsafe { libc::dup2(file.as_raw_fd(), target) } {
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// `setgid(2)` then `setgroups` to that group alone, then `setuid(2)`, for what is given.
pub(crate) fn switch_ids(uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    if let Some(gid) = gid {
        let groups = [gid as libc::gid_t];
        // SAFETY: `groups` is a live array of one gid, and its length is passed with it.
        if unsafe { libc::setgroups(1, groups.as_ptr()) } == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: setgid takes a plain integer and only changes this process's ids.
        if unsafe { libc::setgid(gid as libc::gid_t) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    if let Some(uid) = uid {
        // SAFETY: setuid takes a plain integer and only changes this process's ids.
        if unsafe { libc::setuid(uid as libc::uid_t) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
