//! Unix constants and calls, chosen per system here so that portable code has no `cfg`.

/// Flags for `send` on a stream socket: never raise SIGPIPE on a closed peer (the error
/// comes back as `EPIPE` instead). Rust programs ignore SIGPIPE anyway; a library must
/// not rely on its host program for that.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) const SEND_FLAGS: i32 = libc::MSG_NOSIGNAL;

/// Systems without `MSG_NOSIGNAL` rely on SIGPIPE being ignored (as Rust programs do).
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) const SEND_FLAGS: i32 = 0;
