//! The lock file of a Unix socket (Twisted's `listenUNIX(..., wantPID=True)`): `PATH.lock`
//! holds the listening process's pid, so a second server refuses to take over a live
//! socket, and a socket left behind by a crashed one is replaced.
//!
//! **Live or stale.** Twisted writes the pid and, on start, asks whether that pid is
//! alive (`kill(pid, 0)`), which a reused pid fools. torsion holds an exclusive
//! `flock(2)` on the lock file for as long as the port listens: the kernel drops it when
//! the process exits or crashes, so "someone holds the lock" is exactly "a live process
//! listens here". The pid written in the file is for people (`cat app.sock.lock`) and
//! for the error ([`ListenError::Locked`]).
//!
//! **The stale socket.** With the lock taken, an existing socket file is removed only
//! when nothing accepts on it (a non-blocking connect is refused): a lock file that was
//! not held means its listener is gone, and a socket file without any lock file may
//! belong to a server that does not use one, so the probe decides in both cases.
//! Anything else at the path (a live socket, a regular file) is left alone, and binding
//! fails with `address in use`.

use std::{
    fs::{File, OpenOptions},
    io::{self, Read, Seek, Write},
    os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use socket2::{Domain, SockAddr, Socket, Type};

use super::{Address, ListenError};
use crate::sys::unix::try_lock_exclusive;

/// A held lock on `PATH.lock`; [`release`](SocketLock::release) removes it.
#[derive(Debug)]
pub(super) struct SocketLock {
    /// Open for as long as the port listens: closing it drops the flock.
    file: File,
    path: PathBuf,
}

/// How many times the lock file may vanish between our open and our lock (a holder
/// releasing it just then) before we give up.
const LOCK_ATTEMPTS: usize = 8;

impl SocketLock {
    /// Takes the lock of the socket at `socket` and writes our pid into it.
    ///
    /// # Errors
    /// [`ListenError::Locked`] naming the holder's pid when a live process holds it;
    /// [`ListenError::Io`] naming the lock file when it cannot be opened or written.
    pub(super) fn acquire(socket: &Path) -> Result<SocketLock, ListenError> {
        let path = lock_path(socket);
        let fail = |source| ListenError::Io {
            address: Address::Unix(Some(path.clone())),
            source,
        };
        for _ in 0..LOCK_ATTEMPTS {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(&path)
                .map_err(fail)?;
            if !try_lock_exclusive(&file).map_err(fail)? {
                return Err(ListenError::Locked {
                    path: socket.to_path_buf(),
                    pid: read_pid(&mut file),
                });
            }
            // The holder before us may have removed the file between our open and our
            // lock: then we hold an unlinked file, and must open the path again.
            if !is_same_file(&file, &path) {
                continue;
            }
            write_pid(&mut file).map_err(fail)?;
            return Ok(SocketLock { file, path });
        }
        Err(ListenError::Locked {
            path: socket.to_path_buf(),
            pid: None,
        })
    }

    /// Removes the lock file, then lets go of the lock.
    pub(super) fn release(self) {
        // Remove before closing: whoever takes the lock next finds the path gone and
        // creates a fresh file (see `acquire`).
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// `PATH.lock`, beside the socket.
fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Removes the socket file at `path` when nothing accepts on it; leaves anything else.
pub(super) fn remove_stale_socket(path: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return; // nothing there
    };
    if meta.file_type().is_socket() && nothing_accepts(path) {
        tracing::info!(path = %path.display(), "listen unix {}: removing a stale socket", path.display());
        let _ = std::fs::remove_file(path);
    }
}

/// Whether a connect to the socket at `path` is refused. Non-blocking, so a live
/// server with a full backlog cannot hold us up (it answers `EAGAIN`: alive).
fn nothing_accepts(path: &Path) -> bool {
    let probe = || -> io::Result<()> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket.connect(&SockAddr::unix(path)?)
    };
    matches!(probe(), Err(e) if e.kind() == io::ErrorKind::ConnectionRefused)
}

fn is_same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn write_pid(file: &mut File) -> io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    file.flush()
}

/// The pid a lock file names; `None` when it holds no number (being written, or not
/// ours).
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_socket(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("torsion-lock-{}-{name}.sock", std::process::id()))
    }

    #[test]
    fn a_held_lock_refuses_a_second_holder_naming_our_pid() {
        let socket = temp_socket("held");
        let lock = SocketLock::acquire(&socket).unwrap();
        let text = std::fs::read_to_string(lock_path(&socket)).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        match SocketLock::acquire(&socket) {
            Err(ListenError::Locked { path, pid }) => {
                assert_eq!(path, socket);
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("not refused: {other:?}"),
        }
        lock.release();
        assert!(!lock_path(&socket).exists());
        SocketLock::acquire(&socket).unwrap().release();
    }

    #[test]
    fn a_lock_file_nobody_holds_is_taken_over() {
        let socket = temp_socket("stale");
        std::fs::write(lock_path(&socket), "999999999\n").unwrap();
        let lock = SocketLock::acquire(&socket).unwrap();
        let text = std::fs::read_to_string(lock_path(&socket)).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        lock.release();
    }

    #[test]
    fn only_a_socket_nothing_accepts_on_is_removed() {
        let dead = temp_socket("dead");
        drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
        remove_stale_socket(&dead);
        assert!(!dead.exists());

        let live = temp_socket("live");
        let listener = std::os::unix::net::UnixListener::bind(&live).unwrap();
        remove_stale_socket(&live);
        assert!(live.exists());
        drop(listener);
        std::fs::remove_file(&live).unwrap();

        let file = temp_socket("file");
        std::fs::write(&file, "not a socket").unwrap();
        remove_stale_socket(&file);
        assert!(file.exists());
        std::fs::remove_file(&file).unwrap();
    }
}
