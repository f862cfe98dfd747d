//! Echo servers side by side: torsion's `echo_server` example against tokio's
//! (`tokio_echo`), driven by the same load generator (`echo_load`) over loopback.
//!
//! ```text
//! cargo build --release -p torsion-bench && cargo build --release -p torsion --examples
//! target/release/echo_compare                      # messages/s and MB/s, 64 B and 16 KiB
//! target/release/echo_compare --idle 10000         # RSS per idle connection
//! target/release/echo_compare --strace 200000      # system calls per message (ptrace)
//! target/release/echo_compare --perf 200000        # the same from kernel tracepoints
//! target/release/echo_compare --callgrind 40000    # user instructions per message
//! # options: --runs 3 --seconds 10 --connections 100 --depth 1 --sizes 64,16384
//! #   --cpu 0 (or none) --only NAME --torsion PATH --tokio PATH --load PATH --out DIR
//! ```
//!
//! Contestants (`--only NAME` keeps one):
//!
//! - `torsion`: the `echo_server` example (`--torsion`, default
//!   `target/release/examples/echo_server` beside this binary); skipped with a note if
//!   it is not built;
//! - `tokio`: `tokio_echo --buffer shared`: tokio current_thread, one task per connection,
//!   one read buffer per thread, written back at once (torsion's design, in tokio);
//! - `tokio-task`: `tokio_echo --buffer task`: the tutorial's echo, a 16 KiB buffer per
//!   task, `read` then `write_all`.
//!
//! Every server is started fresh for each run with `--listen tcp:0:interface=127.0.0.1`,
//! stopped with SIGTERM (an exit status other than 0 is reported), and runs in turn:
//! torsion, tokio, tokio-task, torsion, ... (`--runs` rounds, median of each). Layout, as
//! BENCHMARKING.md asks: the server and `echo_load` both under `taskset -c 0` (`--cpu`).
//!
//! Modes:
//!
//! - default: for each message size, `echo_load` for `--seconds` per run; prints median
//!   messages/s, MB/s (echoed back, 10^6 bytes), the server's user and system CPU per
//!   message (/proc, 10 ms ticks), the server's and the load generator's CPU together
//!   per message (what bounds messages/s on a shared core, and what other tenants of
//!   the machine do not change), and the ratios of medians against `tokio`;
//! - `--idle N`: opens N connections (from this process) that send nothing, waits until
//!   the server holds them all (/proc/PID/fd), and prints the growth of the server's
//!   VmRSS divided by N. It raises its soft RLIMIT_NOFILE to the hard limit first (the
//!   servers inherit it); N = 10,000 needs a hard limit above ~10,100 (`ulimit -Hn`);
//! - `--strace M`: the server under `strace -c -f -p PID` while `echo_load --messages M`
//!   runs; prints each system call per message. strace stops the server at every call,
//!   and the load generator runs meanwhile on the shared core: more connections are
//!   ready per `epoll_wait`, and a server that keeps readiness after a full read finds
//!   the next message already there. The reads and writes per message hold; `epoll_wait`
//!   per message is a lower bound. The 100 connections' setup (accept4, epoll_ctl, ...)
//!   is counted too: a few hundred calls in all;
//! - `--perf M`: the same count from the kernel's tracepoints (`perf stat -e
//!   raw_syscalls:sys_enter,syscalls:sys_enter_NAME,... -p PID`), which do not stop the
//!   server: the figures of an undisturbed run, plus its context switches;
//! - `--callgrind M`: the server under `valgrind --tool=callgrind` for M/4 and then M
//!   messages; prints (Ir(M) - Ir(M/4)) / (3M/4), user-space instructions per message
//!   with start-up and connection setup cancelled out. The output files stay in `--out`
//!   (default /tmp/echo_compare) for `callgrind_annotate`.

mod server;

use std::{
    ffi::OsString,
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use server::Server;
use torsion_bench::{load_average, raise_open_files_limit, send_signal, Args};

fn main() {
    let args = Args::parse();
    let here = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let path = |key: &str, default: PathBuf| args.text(key).map_or(default, PathBuf::from);
    let tokio = path("tokio", here.join("tokio_echo"));
    let candidates = [
        Contestant {
            name: "torsion",
            label: "torsion echo_server",
            argv: vec![path("torsion", here.join("examples/echo_server")).into()],
        },
        Contestant {
            name: "tokio",
            label: "tokio current_thread, shared buffer",
            argv: vec![tokio.clone().into(), "--buffer".into(), "shared".into()],
        },
        Contestant {
            name: "tokio-task",
            label: "tokio current_thread, 16 KiB per task",
            argv: vec![tokio.into(), "--buffer".into(), "task".into()],
        },
    ];
    let mut contestants = Vec::new();
    for contestant in candidates {
        if !args.wants(contestant.name) {
            continue;
        }
        let program = Path::new(&contestant.argv[0]);
        if program.exists() {
            contestants.push(contestant);
        } else {
            println!(
                "skipping {}: {} is not built (cargo build --release -p torsion --examples, \
                 or name it with --{})",
                contestant.name,
                program.display(),
                contestant.name
            );
        }
    }
    let cpu = args.text("cpu").unwrap_or("0");
    let config = Config {
        pin: match cpu {
            "none" => Vec::new(),
            cpu => vec!["taskset".into(), "-c".into(), cpu.into()],
        },
        layout: match cpu {
            "none" => "not pinned".to_owned(),
            cpu => format!("server and load both on cpu {cpu} (taskset -c {cpu})"),
        },
        load: path("load", here.join("echo_load")),
        out: path("out", PathBuf::from("/tmp/echo_compare")),
        runs: args.runs.max(1),
        seconds: args.number("seconds", 10),
        connections: args.number("connections", 100),
        depth: args.number("depth", 1),
        sizes: args
            .text("sizes")
            .unwrap_or("64,16384")
            .split(',')
            .map(|s| s.trim().parse().expect("--sizes takes numbers: 64,16384"))
            .collect(),
    };
    if let Some(n) = args.text("idle").map(|_| args.number("idle", 10_000)) {
        idle(&contestants, &config, n);
    } else if let Some(m) = args.text("strace").map(|_| args.number("strace", 0)) {
        syscalls(&contestants, &config, m.max(1), Counter::Strace);
    } else if let Some(m) = args.text("perf").map(|_| args.number("perf", 0)) {
        syscalls(&contestants, &config, m.max(1), Counter::Perf);
    } else if let Some(m) = args.text("callgrind").map(|_| args.number("callgrind", 0)) {
        instructions(&contestants, &config, m.max(4));
    } else {
        throughput(&contestants, &config);
    }
}

/// A server under test and how to start it (its program, then its own options).
#[derive(Debug)]
struct Contestant {
    name: &'static str,
    label: &'static str,
    argv: Vec<OsString>,
}

/// What every mode shares.
#[derive(Debug)]
struct Config {
    /// The command prefix that pins a process (`taskset -c 0`), or nothing.
    pin: Vec<OsString>,
    layout: String,
    load: PathBuf,
    out: PathBuf,
    runs: usize,
    seconds: usize,
    connections: usize,
    depth: usize,
    sizes: Vec<usize>,
}

impl Config {
    /// How the server is pinned, as a command prefix.
    fn pin_text(&self) -> String {
        if self.pin.is_empty() {
            "not pinned".to_owned()
        } else {
            format!("under {}", self.pin.join(" ".as_ref()).to_string_lossy())
        }
    }

    /// Starts `contestant`'s server pinned, behind the `wrapper` command (valgrind), if any.
    fn start(&self, contestant: &Contestant, wrapper: &[OsString]) -> Result<Server, String> {
        let argv: Vec<OsString> = self
            .pin
            .iter()
            .chain(wrapper)
            .chain(&contestant.argv)
            .cloned()
            .collect();
        Server::start(contestant.name, &argv)
    }

    /// Runs `echo_load` (pinned) against `addr`; `messages` > 0 bounds it by count.
    fn load(&self, addr: SocketAddr, size: usize, messages: usize) -> Result<Load, String> {
        let mut command = Command::new(
            self.pin
                .first()
                .map_or(self.load.as_os_str(), |p| p.as_os_str()),
        );
        if !self.pin.is_empty() {
            command.args(&self.pin[1..]).arg(&self.load);
        }
        command.args(["--connect", &addr.to_string()]);
        for (key, value) in [
            ("--connections", self.connections),
            ("--size", size),
            ("--depth", self.depth),
        ] {
            command.args([key, &value.to_string()]);
        }
        if messages > 0 {
            command.args(["--messages", &messages.to_string()]);
        } else {
            command.args(["--seconds", &self.seconds.to_string()]);
        }
        let output = command
            .output()
            .map_err(|e| format!("run {}: {e}", self.load.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        stdout
            .lines()
            .find_map(|line| line.strip_prefix("result "))
            .and_then(Load::parse)
            .ok_or_else(|| {
                format!(
                    "echo_load printed no result: {} {}",
                    stdout.trim(),
                    String::from_utf8_lossy(&output.stderr).trim()
                )
            })
    }
}

/// One `echo_load` result line.
#[derive(Debug, Clone, Copy)]
struct Load {
    messages: u64,
    /// The load generator's own CPU time, seconds.
    cpu_s: f64,
    msg_per_s: f64,
    mb_per_s: f64,
}

impl Load {
    fn parse(line: &str) -> Option<Load> {
        let field = |key: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        };
        // From the exact counts: the printed rates are rounded.
        let messages: u64 = field("messages")?.parse().ok()?;
        let bytes: u64 = field("bytes")?.parse().ok()?;
        let seconds: f64 = field("seconds")?.parse().ok()?;
        Some(Load {
            messages,
            cpu_s: field("cpu_s")?.parse().ok()?,
            msg_per_s: messages as f64 / seconds,
            mb_per_s: bytes as f64 / seconds / 1e6,
        })
    }
}

/// One timed run: the load's figures and the server's CPU per message (user, system).
#[derive(Debug, Clone, Copy)]
struct Run {
    load: Load,
    user_us: f64,
    system_us: f64,
    /// Server and load generator CPU per message: on a core they share, this is what
    /// bounds messages/s, and other tenants of the core do not change it.
    pair_us: f64,
}

fn throughput(contestants: &[Contestant], config: &Config) {
    for &size in &config.sizes {
        println!(
            "\necho {size} B: {} connections, depth {}, {} s per run, {} interleaved runs; \
             {}; load {}",
            config.connections,
            config.depth,
            config.seconds,
            config.runs,
            config.layout,
            load_average()
        );
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); contestants.len()];
        for _ in 0..config.runs {
            for (contestant, runs) in contestants.iter().zip(&mut runs) {
                match timed_run(contestant, config, size) {
                    Ok(run) => runs.push(run),
                    Err(e) => println!("{}: {e}", contestant.name),
                }
            }
        }
        for (contestant, runs) in contestants.iter().zip(&runs) {
            if runs.is_empty() {
                continue;
            }
            let each: Vec<String> = runs
                .iter()
                .map(|r| format!("{:.0}", r.load.msg_per_s))
                .collect();
            println!(
                "{:<38} median {:>8.0} msg/s {:>7.1} MB/s  server cpu/msg {:>5.2} us user \
                 {:>5.2} us sys; server+load {:>5.2} us = {:>6.0} msg per cpu-second \
                 (runs, msg/s: {})",
                contestant.label,
                median(runs.iter().map(|r| r.load.msg_per_s)),
                median(runs.iter().map(|r| r.load.mb_per_s)),
                median(runs.iter().map(|r| r.user_us)),
                median(runs.iter().map(|r| r.system_us)),
                median(runs.iter().map(|r| r.pair_us)),
                1e6 / median(runs.iter().map(|r| r.pair_us)).max(1e-9),
                each.join(", ")
            );
        }
        let figure = |name: &str, get: fn(&Run) -> f64| {
            let i = contestants.iter().position(|c| c.name == name)?;
            let runs = runs.get(i).filter(|r| !r.is_empty())?;
            Some(median(runs.iter().map(get)))
        };
        for other in ["torsion", "tokio-task"] {
            if let (Some(a), Some(b), Some(ma), Some(mb), Some(ca), Some(cb)) = (
                figure(other, |r| r.load.msg_per_s),
                figure("tokio", |r| r.load.msg_per_s),
                figure(other, |r| r.load.mb_per_s),
                figure("tokio", |r| r.load.mb_per_s),
                figure(other, |r| r.user_us + r.system_us),
                figure("tokio", |r| r.user_us + r.system_us),
            ) {
                println!(
                    "ratio {other} / tokio: msg/s {:.3}, MB/s {:.3} (above 1: {other} \
                     faster); server cpu/msg {:.3} (below 1: {other} cheaper)",
                    a / b,
                    ma / mb,
                    ca / cb
                );
            }
        }
    }
}

fn timed_run(contestant: &Contestant, config: &Config, size: usize) -> Result<Run, String> {
    let server = config.start(contestant, &[])?;
    let before = server.cpu();
    let load = config.load(server.addr, size, 0);
    let after = server.cpu();
    if let Err(e) = server.stop(Duration::from_secs(10)) {
        println!("{}: {e}", contestant.name);
    }
    let load = load?;
    let per_message = |a: Duration, b: Duration| {
        b.saturating_sub(a).as_secs_f64() * 1e6 / load.messages.max(1) as f64
    };
    let ((u0, s0), (u1, s1)) = before.zip(after).unwrap_or_default();
    let (user_us, system_us) = (per_message(u0, u1), per_message(s0, s1));
    Ok(Run {
        load,
        user_us,
        system_us,
        pair_us: user_us + system_us + load.cpu_s * 1e6 / load.messages.max(1) as f64,
    })
}

fn idle(contestants: &[Contestant], config: &Config, n: usize) {
    match raise_open_files_limit() {
        Ok((soft, _)) if soft < n as u64 + 100 => println!(
            "open files limit {soft}: too low for {n} connections; raise the hard limit \
             (ulimit -Hn {}) and run again",
            n + 1000
        ),
        Ok(_) => {}
        Err(e) => println!("raise RLIMIT_NOFILE: {e}"),
    }
    println!(
        "\nidle: {n} connections that send nothing (opened from this process), {} \
         interleaved runs; server {}; load {}",
        config.runs,
        config.pin_text(),
        load_average()
    );
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); contestants.len()];
    for _ in 0..config.runs {
        for (contestant, results) in contestants.iter().zip(&mut results) {
            match idle_run(contestant, config, n) {
                Ok((before, after)) => {
                    let per = (after as f64 - before as f64) / n as f64;
                    println!(
                        "{:<38} VmRSS {before} KB -> {after} KB: {per:.2} KB per connection",
                        contestant.label
                    );
                    results.push(per);
                }
                Err(e) => println!("{}: {e}", contestant.name),
            }
        }
    }
    for (contestant, results) in contestants.iter().zip(&results) {
        if !results.is_empty() {
            println!(
                "{:<38} median {:.2} KB per idle connection",
                contestant.label,
                median(results.iter().copied())
            );
        }
    }
}

/// Opens `n` connections to a fresh server; its VmRSS before and after, in KB.
fn idle_run(contestant: &Contestant, config: &Config, n: usize) -> Result<(u64, u64), String> {
    let server = config.start(contestant, &[])?;
    thread::sleep(Duration::from_millis(300));
    let before = server.rss_kb().ok_or("no VmRSS")?;
    let base = server.open_files();
    let mut conns = Vec::with_capacity(n);
    // In batches, waiting for the server to accept each, so the listen queue never
    // overflows (a dropped SYN would cost a one-second retry).
    for i in 0..n {
        conns.push(TcpStream::connect(server.addr).map_err(|e| format!("connect #{i}: {e}"))?);
        if (i + 1) % 500 == 0 || i + 1 == n {
            let deadline = Instant::now() + Duration::from_secs(10);
            while server.open_files() < base + i + 1 {
                if Instant::now() > deadline {
                    return Err(format!(
                        "the server holds {} of {} connections after 10 s",
                        server.open_files() - base,
                        i + 1
                    ));
                }
                thread::sleep(Duration::from_millis(5));
            }
        }
    }
    thread::sleep(Duration::from_millis(500));
    let after = server.rss_kb().ok_or("no VmRSS")?;
    drop(conns);
    server.stop(Duration::from_secs(10))?;
    Ok((before, after))
}

/// What counts the system calls.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Counter {
    /// `strace -c -f -p PID`: ptrace, stops the server at every call.
    Strace,
    /// `perf stat -e` tracepoints: counted in the kernel, the server runs undisturbed.
    Perf,
}

/// The system calls `--perf` counts one by one (the total is `raw_syscalls:sys_enter`).
const PERF_SYSCALLS: [&str; 13] = [
    "recvfrom",
    "sendto",
    "read",
    "write",
    "readv",
    "writev",
    "recvmsg",
    "sendmsg",
    "epoll_wait",
    "epoll_pwait",
    "epoll_ctl",
    "accept4",
    "futex",
];

fn syscalls(contestants: &[Contestant], config: &Config, messages: usize, counter: Counter) {
    let _ = std::fs::create_dir_all(&config.out);
    for &size in &config.sizes {
        println!(
            "\nsystem calls per message, echo {size} B: {} connections, depth {}, {messages} \
             messages, counted by {}; {}; load {}",
            config.connections,
            config.depth,
            match counter {
                Counter::Strace => "strace -c -f",
                Counter::Perf => "perf stat tracepoints",
            },
            config.layout,
            load_average()
        );
        let mut totals = Vec::new();
        for contestant in contestants {
            let counted = match counter {
                Counter::Strace => strace_run(contestant, config, size, messages),
                Counter::Perf => perf_run(contestant, config, size, messages),
            };
            match counted {
                Ok(calls) => {
                    // perf's total is its own line; strace's is the sum.
                    let total: u64 = match calls.iter().find(|c| c.0 == "total") {
                        Some(total) => total.1,
                        None => calls.iter().map(|c| c.1).sum(),
                    };
                    let per = |n: u64| n as f64 / messages as f64;
                    let each: Vec<String> = calls
                        .iter()
                        .filter(|c| per(c.1) >= 0.001 && c.0 != "total")
                        .map(|(name, n, errors)| match errors {
                            0 => format!("{name} {:.3}", per(*n)),
                            e => format!("{name} {:.3} ({:.3} failed)", per(*n), per(*e)),
                        })
                        .collect();
                    println!(
                        "{:<38} {:.3} per message: {}",
                        contestant.label,
                        per(total),
                        each.join(", ")
                    );
                    totals.push((contestant.name, per(total)));
                }
                Err(e) => println!("{}: {e}", contestant.name),
            }
        }
        ratios(&totals, "system calls per message");
    }
}

/// Runs `messages` through a server traced by `strace -c -f`; each system call's count
/// and failures, most frequent first.
fn strace_run(
    contestant: &Contestant,
    config: &Config,
    size: usize,
    messages: usize,
) -> Result<Vec<(String, u64, u64)>, String> {
    let server = config.start(contestant, &[])?;
    let file = config
        .out
        .join(format!("strace.{}.{size}.txt", contestant.name));
    let mut strace = Command::new("strace")
        .args(["-c", "-f", "-U", "calls,errors,name", "-o"])
        .arg(&file)
        .args(["-p", &server.pid.to_string()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("start strace (apt-get install strace): {e}"))?;
    // strace stops the process to attach; give it time before the load starts.
    thread::sleep(Duration::from_millis(500));
    let load = config.load(server.addr, size, messages);
    let _ = send_signal(strace.id(), libc::SIGINT);
    let _ = strace.wait();
    let stopped = server.stop(Duration::from_secs(10));
    load?;
    stopped?;
    let text =
        std::fs::read_to_string(&file).map_err(|e| format!("read {}: {e}", file.display()))?;
    let mut calls: Vec<(String, u64, u64)> = text
        .lines()
        .filter_map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            let (name, errors) = match t.as_slice() {
                [_, name] => (*name, 0),
                [_, errors, name] => (*name, errors.parse().ok()?),
                _ => return None,
            };
            (name != "total").then_some((name.to_owned(), t[0].parse().ok()?, errors))
        })
        .collect();
    calls.sort_by_key(|c| std::cmp::Reverse(c.1));
    Ok(calls)
}

/// Runs `messages` through a server whose system calls `perf stat` counts from the
/// kernel's tracepoints; each call's count (errors are not counted: 0), the context
/// switches, and `total`, most frequent first.
fn perf_run(
    contestant: &Contestant,
    config: &Config,
    size: usize,
    messages: usize,
) -> Result<Vec<(String, u64, u64)>, String> {
    let server = config.start(contestant, &[])?;
    let file = config
        .out
        .join(format!("perf.{}.{size}.csv", contestant.name));
    let mut events = vec![
        "raw_syscalls:sys_enter".to_owned(),
        "context-switches".to_owned(),
    ];
    events.extend(
        PERF_SYSCALLS
            .iter()
            .map(|n| format!("syscalls:sys_enter_{n}")),
    );
    let mut perf = Command::new("perf")
        .args(["stat", "-x", ",", "-e", &events.join(","), "-o"])
        .arg(&file)
        .args(["-p", &server.pid.to_string()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("start perf (apt-get install linux-perf): {e}"))?;
    thread::sleep(Duration::from_millis(500));
    let load = config.load(server.addr, size, messages);
    let _ = send_signal(perf.id(), libc::SIGINT);
    let _ = perf.wait();
    let stopped = server.stop(Duration::from_secs(10));
    load?;
    stopped?;
    let text =
        std::fs::read_to_string(&file).map_err(|e| format!("read {}: {e}", file.display()))?;
    // CSV lines: count,unit,event,...; "<not supported>" counts are skipped.
    let mut calls: Vec<(String, u64, u64)> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(',');
            let count = fields.next()?.parse().ok()?;
            let event = fields.nth(1)?;
            let name = match event {
                "raw_syscalls:sys_enter" => "total",
                "context-switches" => "(context switches)",
                other => other.strip_prefix("syscalls:sys_enter_")?,
            };
            Some((name.to_owned(), count, 0))
        })
        .collect();
    if !calls.iter().any(|c| c.0 == "total") {
        return Err(format!("no raw_syscalls count in {}", file.display()));
    }
    calls.sort_by_key(|c| std::cmp::Reverse(c.1));
    Ok(calls)
}

fn instructions(contestants: &[Contestant], config: &Config, messages: usize) {
    let _ = std::fs::create_dir_all(&config.out);
    let small = messages / 4;
    for &size in &config.sizes {
        println!(
            "\nuser instructions per message, echo {size} B: {} connections, depth {}, \
             callgrind, (Ir({messages}) - Ir({small})) / {}; {}; load {}",
            config.connections,
            config.depth,
            messages - small,
            config.layout,
            load_average()
        );
        let mut results = Vec::new();
        for contestant in contestants {
            let count = |m: usize| callgrind_run(contestant, config, size, m);
            match count(small).and_then(|a| Ok((a, count(messages)?))) {
                Ok((a, b)) => {
                    let per = (b as f64 - a as f64) / (messages - small) as f64;
                    println!(
                        "{:<38} {per:>8.0} instructions per message (Ir {a} and {b})",
                        contestant.label
                    );
                    results.push((contestant.name, per));
                }
                Err(e) => println!("{}: {e}", contestant.name),
            }
        }
        ratios(&results, "user instructions per message");
    }
}

/// Total user-space instructions (callgrind's `summary`) of a server that echoed
/// `messages` and was stopped.
fn callgrind_run(
    contestant: &Contestant,
    config: &Config,
    size: usize,
    messages: usize,
) -> Result<u64, String> {
    let file = config.out.join(format!(
        "callgrind.{}.{size}.{messages}.out",
        contestant.name
    ));
    let mut option = OsString::from("--callgrind-out-file=");
    option.push(&file);
    let wrapper: Vec<OsString> = vec![
        "valgrind".into(),
        "-q".into(),
        "--tool=callgrind".into(),
        option,
    ];
    let server = config.start(contestant, &wrapper)?;
    let load = config.load(server.addr, size, messages);
    let stopped = server.stop(Duration::from_secs(120));
    load?;
    stopped?;
    let text =
        std::fs::read_to_string(&file).map_err(|e| format!("read {}: {e}", file.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no summary line in {}", file.display()))
}

/// Prints each contestant's figure over tokio's (above 1: more than tokio).
fn ratios(results: &[(&str, f64)], what: &str) {
    let Some(&(_, tokio)) = results.iter().find(|r| r.0 == "tokio") else {
        return;
    };
    for &(name, figure) in results.iter().filter(|r| r.0 != "tokio") {
        println!("ratio {name} / tokio, {what}: {:.3}", figure / tokio);
    }
}

/// The median (upper middle for an even count); 0 for none.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}
