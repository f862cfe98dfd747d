//! Side-by-side benchmarks of torsion against its peers: each binary runs torsion and the
//! peer in the same command, interleaved, and prints both figures and their ratio
//! (see `shared/BENCHMARKING.md` and `BENCHMARKS.md` at the repository root).
//!
//! ```text
//! cargo run --release -p torsion-bench --bin timers
//! cargo run --release -p torsion-bench --bin call_from_thread
//! cargo build --release -p torsion --examples   # torsion's echo_server, for echo_compare
//! cargo build --release -p torsion-bench && target/release/echo_compare
//! ```
//!
//! This crate holds the peers (tokio) so they never enter torsion's dependency tree;
//! it is never published. The helpers here are what the binaries share: a tiny argument
//! reader, CPU time, medians and the report lines.

#![allow(unsafe_code)] // `clock_gettime`, `kill` and `setrlimit` calls, explained at their sites.

use std::time::Duration;

/// Options every benchmark binary takes: `--runs N` (interleaved rounds, default 3) and
/// `--only NAME` (run one contestant, e.g. under callgrind), plus its own numbers.
#[derive(Debug, Clone)]
pub struct Args {
    /// Interleaved rounds; the report is the median of each contestant over them.
    pub runs: usize,
    /// Run only the contestant of this name.
    pub only: Option<String>,
    rest: Vec<(String, String)>,
}

impl Args {
    /// Reads `--key value` pairs from the command line.
    ///
    /// # Panics
    /// On a malformed command line: these are benchmark binaries, the message says why.
    pub fn parse() -> Args {
        let mut argv = std::env::args().skip(1);
        let mut args = Args {
            runs: 3,
            only: None,
            rest: Vec::new(),
        };
        while let Some(key) = argv.next() {
            let Some(key) = key.strip_prefix("--") else {
                panic!("unexpected argument {key:?}: options are --key value");
            };
            let value = argv
                .next()
                .unwrap_or_else(|| panic!("--{key} needs a value"));
            match key {
                "runs" => args.runs = value.parse().expect("--runs takes a number"),
                "only" => args.only = Some(value),
                _ => args.rest.push((key.to_owned(), value)),
            }
        }
        args
    }

    /// The number given as `--key`, or `default`.
    ///
    /// # Panics
    /// When the value is not a number.
    pub fn number(&self, key: &str, default: usize) -> usize {
        self.rest
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map_or(default, |(_, v)| {
                v.replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("--{key} takes a number, not {v:?}"))
            })
    }

    /// The text given as `--key`, if any.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.rest
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the contestant `name` runs (every one does unless `--only` names another).
    pub fn wants(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == name)
    }
}

/// Wall and CPU time of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Elapsed real time.
    pub wall: Duration,
    /// CPU time of the whole process (all threads, user + system).
    pub cpu: Duration,
}

/// Measures `f`'s wall and process CPU time.
pub fn measure(f: impl FnOnce()) -> Sample {
    let (wall, cpu) = (std::time::Instant::now(), process_cpu_time());
    f();
    Sample {
        wall: wall.elapsed(),
        cpu: process_cpu_time().saturating_sub(cpu),
    }
}

/// CPU time the whole process has used (all threads, user + system).
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the
    // kernel knows; clock_gettime writes nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// The median wall time and, taken on its own, the median CPU time of `samples` (the
/// middle one; the upper middle for an even count). A run that was preempted has a long
/// wall time but not a long CPU time, so each is ranked by itself.
///
/// # Panics
/// When `samples` is empty.
pub fn median(samples: &[Sample]) -> Sample {
    let mut wall: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    let mut cpu: Vec<Duration> = samples.iter().map(|s| s.cpu).collect();
    wall.sort();
    cpu.sort();
    Sample {
        wall: wall[wall.len() / 2],
        cpu: cpu[cpu.len() / 2],
    }
}

/// One contestant's result line: name, median wall and CPU time, `ops` per second of
/// wall time and CPU nanoseconds per op.
pub fn report(name: &str, samples: &[Sample], ops: u64) {
    let m = median(samples);
    let runs: Vec<String> = samples
        .iter()
        .map(|s| format!("{:.0}/{:.0}", ms(s.wall), ms(s.cpu)))
        .collect();
    println!(
        "{name:<42} median {:>7.1} ms wall {:>7.1} ms cpu {:>9.0} op/s {:>6.0} ns cpu/op \
         (runs, wall/cpu ms: {})",
        ms(m.wall),
        ms(m.cpu),
        ops as f64 / m.wall.as_secs_f64(),
        m.cpu.as_secs_f64() * 1e9 / ops as f64,
        runs.join(", "),
    );
}

/// The ratio line: how many times `b`'s median wall time `a`'s is (above 1: `a` slower).
pub fn ratio(a_name: &str, a: &[Sample], b_name: &str, b: &[Sample]) {
    if a.is_empty() || b.is_empty() {
        return;
    }
    let (a, b) = (median(a), median(b));
    println!(
        "ratio {a_name} / {b_name}: wall {:.2}, cpu {:.2}  (below 1: {a_name} faster)",
        a.wall.as_secs_f64() / b.wall.as_secs_f64(),
        a.cpu.as_secs_f64() / b.cpu.as_secs_f64().max(1e-9),
    );
}

/// Sends `signal` (`libc::SIGTERM`, ...) to the process `pid`, one this program started.
///
/// # Errors
/// What `kill(2)` reports (the process is gone: `ESRCH`).
pub fn send_signal(pid: u32, signal: i32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Raises this process's soft limit on open files to its hard limit, so that it (and the
/// servers it starts, which inherit it) can hold 10,000 connections; returns the new
/// (soft, hard) limits. Raising the hard limit needs root: `ulimit -Hn` in the shell.
///
/// # Errors
/// What `getrlimit(2)` or `setrlimit(2)` reports.
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit; getrlimit writes nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: `limit` is a valid rlimit that setrlimit only reads.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// The load average, printed with the results so a loaded machine shows.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Milliseconds, as a float for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A small deterministic generator (xorshift64*) so every contestant gets the same
/// spread of delays, in the same scheduling order.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a nonzero seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// The next number below `bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }
}
