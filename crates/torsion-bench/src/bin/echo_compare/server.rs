//! A server process under test: started from a command line, its address read from the
//! example contract's first line, its memory and CPU read from /proc, stopped by SIGTERM.

use std::{
    ffi::OsString,
    io::{BufRead, BufReader, Write},
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use torsion_bench::send_signal;

/// Linux's `USER_HZ`, the unit of /proc/PID/stat's times: 100 on every architecture
/// Linux runs this on.
const TICKS_PER_SECOND: u64 = 100;

/// A running server this program started; killed if dropped without `stop`.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// Its process id (taskset and valgrind exec in place, so it is the server's own).
    pub pid: u32,
    /// Where it listens, from its `listening on ADDR` line (loopback if it said any).
    pub addr: SocketAddr,
}

impl Server {
    /// Runs `argv` (which ends with the server's own options) with `--listen
    /// tcp:0:interface=127.0.0.1`, waits for its `listening on ADDR` line, and forwards
    /// whatever else it prints to stderr under `name`.
    pub fn start(name: &str, argv: &[OsString]) -> Result<Server, String> {
        let (program, rest) = argv.split_first().ok_or("empty command line")?;
        let mut child = Command::new(program)
            .args(rest)
            .args(["--listen", "tcp:0:interface=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start {name} ({}): {e}", program.to_string_lossy()))?;
        let pid = child.id();
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout pipe")?);
        let mut first = String::new();
        let read = stdout.read_line(&mut first);
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .and_then(parse_address);
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{name}: expected `listening on ADDR` as its first line, got {first:?} ({read:?})"
            ));
        };
        // Drain the rest, so a chatty server never blocks on a full pipe.
        let label = name.to_owned();
        thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = writeln!(std::io::stderr(), "[{label}] {line}");
            }
        });
        Ok(Server {
            child: Some(child),
            pid,
            addr,
        })
    }

    /// Resident memory in KB (`VmRSS` in /proc/PID/status).
    pub fn rss_kb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Open file descriptors (entries of /proc/PID/fd).
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid)).map_or(0, |dir| dir.count())
    }

    /// User and system CPU time so far, all threads (/proc/PID/stat, 10 ms resolution).
    pub fn cpu(&self) -> Option<(Duration, Duration)> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // The command name is in parentheses and may hold spaces: count from after it.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
        let (user, system) = (ticks(11)?, ticks(12)?);
        let time = |ticks: u64| Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND);
        Some((time(user), time(system)))
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit (then kills it); says how it
    /// ended. The example contract asks for exit status 0.
    pub fn stop(mut self, timeout: Duration) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = send_signal(self.pid, libc::SIGTERM);
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return exit_ok(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "did not exit within {timeout:?} of SIGTERM: killed"
                    ));
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn exit_ok(status: ExitStatus) -> Result<(), String> {
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "exited with {status} after SIGTERM (the contract asks for 0)"
        ))
    }
}

/// `127.0.0.1:PORT`, `[::1]:PORT`, or anything ending in `:PORT`; an unspecified address
/// (`0.0.0.0`) means loopback.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    let addr = text.parse::<SocketAddr>().ok().or_else(|| {
        let port = text.rsplit(':').next()?.parse().ok()?;
        Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
    })?;
    Some(if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    })
}
