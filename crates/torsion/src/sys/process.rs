//! Child processes at the system level: pipes, pseudo-terminals, fork and exec with the
//! exec error sent back through a close-on-exec pipe, pidfds, `waitpid` on one pid,
//! `kill`, and writes to a pipe that never raise SIGPIPE.
//!
//! The child side of [`fork_exec`] runs between `fork` and `exec` in a copy of a possibly
//! multithreaded process, so it only makes async-signal-safe system calls on data built
//! before the fork: no allocation, no locks, no Rust I/O.

#![allow(unsafe_code)]

use std::{
    ffi::{CStr, CString},
    fs::File,
    io,
    os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd},
    ptr,
};

/// What the child does between `fork` and `exec`, all prepared by the parent.
#[derive(Debug)]
pub(crate) struct ChildSetup {
    /// The program's path, already looked up in `PATH`, or a bare name when `search`.
    pub(crate) path: CString,
    /// Look `path` up in this process's `PATH` (`posix_spawnp`); only with nothing else
    /// to set up (no ids, directory or terminal).
    pub(crate) search: bool,
    /// `argv`, the program name first.
    pub(crate) args: Vec<CString>,
    /// The whole environment, as `NAME=value`.
    pub(crate) env: Vec<CString>,
    /// The working directory, if not the parent's.
    pub(crate) cwd: Option<CString>,
    /// Descriptors to install: `(parent's descriptor, number in the child)`.
    pub(crate) fds: Vec<(SharedFd, RawFd)>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    /// Start a new session with descriptor 0 as its controlling terminal (a pty).
    pub(crate) controlling_tty: bool,
}

/// A descriptor for the child: a pipe end, or one the user shares with the child. It is
/// duplicated above every target number before the fork.
pub(crate) type SharedFd = std::rc::Rc<OwnedFd>;

/// Where the child failed before `exec` succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChildStage {
    Descriptors,
    Chdir,
    Setgid,
    Setuid,
    Session,
    Exec,
}

/// A failed `fork_exec`: where, and what the system said.
#[derive(Debug)]
pub(crate) struct ForkExecError {
    pub(crate) stage: Option<ChildStage>,
    pub(crate) source: io::Error,
}

/// Starts `setup`; returns the child's pid once `exec` succeeded. Without ids, directory
/// or terminal to set, through `posix_spawn`, which returns exec's error itself. Else
/// through fork and exec: a child that fails before or in `exec` exits with 127 and
/// reports the stage and errno through a close-on-exec pipe; it is reaped here and the
/// error returned.
pub(crate) fn fork_exec(setup: &ChildSetup) -> Result<i32, ForkExecError> {
    let parent = |source| ForkExecError {
        stage: None,
        source,
    };
    let top = setup
        .fds
        .iter()
        .map(|&(_, to)| to)
        .max()
        .unwrap_or(2)
        .max(2);
    let argv = null_terminated(&setup.args);
    let envp = null_terminated(&setup.env);
    let simple =
        setup.uid.is_none() && setup.gid.is_none() && setup.cwd.is_none() && !setup.controlling_tty;
    if simple && setup.fds.iter().all(|(from, _)| from.as_raw_fd() > top) {
        // What posix_spawn can do alone: the C library's vfork-style spawn is several
        // times cheaper than a fork that copies the parent's page tables. Every source
        // is above every target already (fresh pipes), so no dup2 overwrites another's.
        let fds: Vec<(RawFd, RawFd)> = setup
            .fds
            .iter()
            .map(|(f, to)| (f.as_raw_fd(), *to))
            .collect();
        return spawn(&setup.path, setup.search, &argv, &envp, &fds, top);
    }
    // Every source above every target, so installing one never overwrites another.
    let high: Vec<(OwnedFd, RawFd)> = setup
        .fds
        .iter()
        .map(|(from, to)| dup_above(from.as_raw_fd(), top + 1).map(|fd| (fd, *to)))
        .collect::<io::Result<_>>()
        .map_err(parent)?;
    if simple {
        let fds: Vec<(RawFd, RawFd)> = high.iter().map(|(f, to)| (f.as_raw_fd(), *to)).collect();
        return spawn(&setup.path, setup.search, &argv, &envp, &fds, top);
    }
    let (err_read, err_low) = pipe().map_err(parent)?;
    let err_write = dup_above(err_low.as_raw_fd(), top + 1).map_err(parent)?;
    // The report's read end sees end of file only once every write end is closed.
    drop(err_low);
    let plan = Plan {
        path: &setup.path,
        argv: &argv,
        envp: &envp,
        cwd: setup.cwd.as_deref(),
        fds: &high,
        top,
        uid: setup.uid,
        gid: setup.gid,
        controlling_tty: setup.controlling_tty,
        report: err_write.as_raw_fd(),
    };
    // SAFETY: fork has no memory preconditions; the child branch below only runs `child`,
    // which makes async-signal-safe calls on `plan` (built above) and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(parent(io::Error::last_os_error()));
    }
    if pid == 0 {
        child(&plan);
    }
    drop(err_write);
    drop(high);
    let mut report = [0u8; 5];
    let got = read_full(err_read, &mut report);
    match got {
        Ok(0) => Ok(pid),
        Ok(n) => {
            let _ = wait_blocking(pid);
            let stage = match report[0] {
                1 => ChildStage::Descriptors,
                2 => ChildStage::Chdir,
                3 => ChildStage::Setgid,
                4 => ChildStage::Setuid,
                5 => ChildStage::Session,
                _ => ChildStage::Exec,
            };
            let errno = if n == 5 {
                i32::from_ne_bytes([report[1], report[2], report[3], report[4]])
            } else {
                libc::EIO
            };
            Err(ForkExecError {
                stage: Some(stage),
                source: io::Error::from_raw_os_error(errno),
            })
        }
        Err(e) => {
            let _ = wait_blocking(pid);
            Err(parent(e))
        }
    }
}

/// `posix_spawn` with the same descriptor plan as the child of `fork_exec`, the signal
/// mask cleared and SIGPIPE back to its default; its error is the exec's.
fn spawn(
    path: &CStr,
    search: bool,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    fds: &[(RawFd, RawFd)],
    top: RawFd,
) -> Result<i32, ForkExecError> {
    let fail = |rc: i32, stage| ForkExecError {
        stage,
        source: io::Error::from_raw_os_error(rc),
    };
    let mut actions = FileActions::new().map_err(|rc| fail(rc, None))?;
    for (from, to) in fds {
        // SAFETY: `actions` was initialised by FileActions::new; the numbers are plain ints.
        let rc = unsafe { libc::posix_spawn_file_actions_adddup2(&mut actions.0, *from, *to) };
        if rc != 0 {
            return Err(fail(rc, None));
        }
    }
    for fd in (0..=top).filter(|fd| !fds.iter().any(|(_, to)| to == fd)) {
        // SAFETY: as above; closing a number that is not open is ignored by the child.
        let rc = unsafe { libc::posix_spawn_file_actions_addclose(&mut actions.0, fd) };
        if rc != 0 {
            return Err(fail(rc, None));
        }
    }
    let attr = SpawnAttr::new().map_err(|rc| fail(rc, None))?;
    let start = if search {
        libc::posix_spawnp
    } else {
        libc::posix_spawn
    };
    let mut pid = 0;
    // SAFETY: `pid` is writable; path (a bare name only for posix_spawnp), argv and envp
    // are NUL-terminated strings in
    // null-terminated arrays; actions and attributes were initialised; all outlive the
    // call. posix_spawn does not write through argv or envp despite their `*mut` type.
    let rc = unsafe {
        start(
            &mut pid,
            path.as_ptr(),
            &actions.0,
            &attr.0,
            argv.as_ptr().cast(),
            envp.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(fail(rc, Some(ChildStage::Exec)));
    }
    Ok(pid)
}

/// `posix_spawn_file_actions_t`, destroyed when dropped.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> Result<FileActions, i32> {
        // SAFETY: an all-zero value is only a placeholder that init overwrites.
        let mut actions = FileActions(unsafe { std::mem::zeroed() });
        // SAFETY: `actions.0` is valid, writable storage for init.
        let rc = unsafe { libc::posix_spawn_file_actions_init(&mut actions.0) };
        if rc != 0 {
            // Not initialised: must not be destroyed.
            std::mem::forget(actions);
            return Err(rc);
        }
        Ok(actions)
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: `self.0` was initialised by init and is destroyed once, here.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// `posix_spawnattr_t` with an empty signal mask and SIGPIPE's default action, destroyed
/// when dropped.
struct SpawnAttr(libc::posix_spawnattr_t);

impl SpawnAttr {
    fn new() -> Result<SpawnAttr, i32> {
        // SAFETY: an all-zero value is only a placeholder that init overwrites.
        let mut attr = SpawnAttr(unsafe { std::mem::zeroed() });
        // SAFETY: `attr.0` is valid, writable storage for init.
        let rc = unsafe { libc::posix_spawnattr_init(&mut attr.0) };
        if rc != 0 {
            // Not initialised: must not be destroyed.
            std::mem::forget(attr);
            return Err(rc);
        }
        // SAFETY: a zeroed sigset_t is storage that sigemptyset initialises.
        let mut empty: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `empty` is valid and writable.
        unsafe { libc::sigemptyset(&mut empty) };
        let mut pipe = empty;
        // SAFETY: `pipe` is an initialised signal set.
        unsafe { libc::sigaddset(&mut pipe, libc::SIGPIPE) };
        let flags = (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short;
        // SAFETY: `attr.0` was initialised; the sets are initialised and outlive the calls.
        let rc = unsafe { libc::posix_spawnattr_setsigmask(&mut attr.0, &empty) };
        // SAFETY: as above.
        let rc = rc | unsafe { libc::posix_spawnattr_setsigdefault(&mut attr.0, &pipe) };
        // SAFETY: as above.
        let rc = rc | unsafe { libc::posix_spawnattr_setflags(&mut attr.0, flags) };
        if rc != 0 {
            return Err(rc);
        }
        Ok(attr)
    }
}

impl Drop for SpawnAttr {
    fn drop(&mut self) {
        // SAFETY: `self.0` was initialised by init and is destroyed once, here.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// Everything the child reads, as raw pointers and numbers made before the fork.
struct Plan<'a> {
    path: &'a CStr,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    cwd: Option<&'a CStr>,
    fds: &'a [(OwnedFd, RawFd)],
    top: RawFd,
    uid: Option<u32>,
    gid: Option<u32>,
    controlling_tty: bool,
    report: RawFd,
}

/// The child between fork and exec: async-signal-safe calls only.
fn child(plan: &Plan<'_>) -> ! {
    let fail = |stage: u8| -> ! {
        let errno = io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        let e = errno.to_ne_bytes();
        let msg = [stage, e[0], e[1], e[2], e[3]];
        // SAFETY: `msg` is a valid 5-byte buffer; `report` is our open pipe end.
        let _ = unsafe { libc::write(plan.report, msg.as_ptr().cast(), msg.len()) };
        // SAFETY: _exit ends the child at once, without running the parent's atexit code.
        unsafe { libc::_exit(127) }
    };
    // The reactor may have blocked signals and Rust ignores SIGPIPE: the program gets
    // the defaults, as a shell would give it.
    // SAFETY: `set` is a local sigset_t that sigemptyset initialises.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid and writable.
    unsafe { libc::sigemptyset(&mut set) };
    // SAFETY: `set` is an initialised signal set; a null old set is allowed.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &set, ptr::null_mut()) };
    // SAFETY: resetting a disposition to the default has no memory preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    if plan.controlling_tty {
        // SAFETY: setsid has no arguments.
        if unsafe { libc::setsid() } < 0 {
            fail(5);
        }
    }
    for (from, to) in plan.fds {
        // SAFETY: `from` is open (owned by the plan) and `to` is a plain number.
        if unsafe { libc::dup2(from.as_raw_fd(), *to) } < 0 {
            fail(1);
        }
    }
    // Close what the map leaves out below the top target; above it, close-on-exec does
    // (Rust and torsion open every descriptor with it).
    for fd in 0..=plan.top {
        if !plan.fds.iter().any(|&(_, to)| to == fd) {
            // SAFETY: closing a number that may not be open only fails with EBADF.
            unsafe { libc::close(fd) };
        }
    }
    if plan.controlling_tty {
        // SAFETY: TIOCSCTTY takes an integer argument; fd 0 is the pty's slave.
        if unsafe { libc::ioctl(0, libc::TIOCSCTTY as _, 0) } < 0 {
            fail(5);
        }
    }
    if let Some(cwd) = plan.cwd {
        // SAFETY: `cwd` is a NUL-terminated string that outlives the call.
        if unsafe { libc::chdir(cwd.as_ptr()) } < 0 {
            fail(2);
        }
    }
    if let Some(gid) = plan.gid {
        // SAFETY: setgroups reads one gid from a valid local array.
        unsafe { libc::setgroups(1, &gid) };
        // SAFETY: setgid takes a number.
        if unsafe { libc::setgid(gid) } < 0 {
            fail(3);
        }
    }
    if let Some(uid) = plan.uid {
        // SAFETY: setuid takes a number.
        if unsafe { libc::setuid(uid) } < 0 {
            fail(4);
        }
    }
    // SAFETY: path, argv and envp are NUL-terminated strings in null-terminated arrays
    // that outlive the call (exec replaces the process or returns).
    unsafe { libc::execve(plan.path.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr()) };
    fail(6)
}

/// A pipe whose two ends are close-on-exec: (read end, write end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both numbers are new descriptors that only we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pseudo-terminal: (master, slave), both close-on-exec.
pub(crate) fn openpty() -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: both out-pointers are valid ints; name, termios and winsize may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            ptr::null_mut(),
            ptr::null(),
            ptr::null(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty succeeded, so both numbers are new descriptors that only we own.
    let fds = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    set_cloexec(fds.0.as_raw_fd())?;
    set_cloexec(fds.1.as_raw_fd())?;
    Ok(fds)
}

/// Makes a descriptor non-blocking.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: F_GETFL only reads the flags of a descriptor the caller borrows.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: F_SETFL only changes the status flags of the same descriptor.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD only changes the descriptor flags of an open descriptor we own.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A close-on-exec duplicate of `fd` numbered `min` or above.
fn dup_above(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only reads `fd` (open: the caller owns or borrows it).
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fcntl returned a new descriptor that only we own.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Writes to a pipe with SIGPIPE blocked on this thread, so that a reader that went away
/// gives `EPIPE`, never the signal's default action (death), whatever the host program
/// set SIGPIPE to.
pub(crate) fn write_no_sigpipe(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    // SAFETY: `block` is a local sigset_t that sigemptyset initialises.
    let mut block: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `old` is a local sigset_t that pthread_sigmask fills.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `block` is valid and writable.
    unsafe { libc::sigemptyset(&mut block) };
    // SAFETY: `block` was initialised just above.
    unsafe { libc::sigaddset(&mut block, libc::SIGPIPE) };
    // SAFETY: both sets are valid; this changes only this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old) };
    // SAFETY: `data` is a valid buffer of `data.len()` bytes; `fd` is borrowed open.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    let result = if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    };
    // SAFETY: `old` was filled by pthread_sigmask above.
    let was_blocked = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1;
    if !was_blocked && matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE)) {
        // Take the SIGPIPE our write raised (thread-directed, and it was not blocked
        // before, so it is ours) before unblocking, or it would be delivered now.
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `block` holds SIGPIPE only; a null info pointer is allowed.
        unsafe { libc::sigtimedwait(&block, ptr::null_mut(), &zero) };
    }
    // SAFETY: `old` is the mask this thread had; restoring it changes only this thread.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
    result
}

/// A pidfd for our child `pid` (Linux 5.3+): readable once the child has exited.
pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall returned a new descriptor that only we own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// How a reaped child ended, as `waitpid` said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitStatus {
    Exited(i32),
    Signaled { signal: i32, core_dumped: bool },
}

/// Reaps our child `pid` if it has ended (`waitpid(pid, WNOHANG)`, never `-1`).
pub(crate) fn try_wait(pid: i32) -> io::Result<Option<WaitStatus>> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid int for waitpid to fill.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == 0 {
            return Ok(None);
        }
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(decode(status));
    }
}

/// Reaps `pid`, waiting for it: only for a child that is exiting (it failed to exec, or
/// was just killed).
pub(crate) fn wait_blocking(pid: i32) -> io::Result<Option<WaitStatus>> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid int for waitpid to fill.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc >= 0 {
            return Ok(decode(status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn decode(status: i32) -> Option<WaitStatus> {
    if libc::WIFEXITED(status) {
        Some(WaitStatus::Exited(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(WaitStatus::Signaled {
            signal: libc::WTERMSIG(status),
            core_dumped: libc::WCOREDUMP(status),
        })
    } else {
        None // stopped or continued: not an end
    }
}

/// Sends `signal` to our child `pid`, which has not been reaped (so the pid is still ours).
pub(crate) fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill takes numbers; `pid` is a positive pid of an unreaped child.
    if unsafe { libc::kill(pid, signal) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads until `buf` is full or end of file (blocking): the exec report.
fn read_full(fd: OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let mut file = File::from(fd);
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(ptr::null()))
        .collect()
}
