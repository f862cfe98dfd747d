//! HTTP hello world side by side: torsion-web's `hello_server` against hyper 1.x on
//! tokio's current_thread runtime (`hyper_hello`) and, when `.ci/.venv` has it, Python
//! Twisted's web server (`.ci/interop/twisted_hello.py`), loaded by wrk. With a C
//! compiler present it also runs `c/http_floor.c`, an epoll loop that answers every read
//! with the same bytes and parses nothing: the ceiling on this machine, since wrk and the
//! kernel share the core with the server (`--floor 0` leaves it out).
//!
//! `--batch 1` starts every server under `SCHED_BATCH` (`chrt --batch 0`): a server that
//! wakes up no longer preempts wrk at once, so each wakeup finds more requests waiting.
//! On a shared core, how often the lighter servers preempt wrk moves their figures as
//! much as their own work does (BENCHMARKS.md, "HTTP").
//!
//! ```text
//! cargo build --release -p torsion-web --example hello_server
//! cargo build --release -p torsion-bench --bin hyper_hello
//! cargo run --release -p torsion-bench --bin http_hello -- --runs 3 --seconds 10
//! ```
//!
//! Method (shared/BENCHMARKING.md): each server and wrk (1 thread, 100 keep-alive
//! connections, loopback) pinned to the same core with `taskset -c 0`; rounds
//! interleaved (torsion, hyper, twisted, torsion, ...); medians of requests/s and p99
//! latency, and their ratios. Then user-space instructions per request under callgrind
//! (`--instructions 1`, perf counters being unavailable on these VMs): a run with
//! `--requests` requests minus a run with none, divided. Then idle memory: RSS of the
//! server before and after `--idle` (10,000) connections are open and accepted.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use torsion_bench::{load_average, Args};

/// One server under test: its name and the command that starts it.
struct Contestant {
    name: &'static str,
    command: Vec<String>,
}

fn main() {
    let args = Args::parse();
    let seconds = args.number("seconds", 10);
    let connections = args.number("connections", 100);
    let idle = args.number("idle", 10_000);
    let batch = args.number("batch", 0) == 1;
    let root = env!("CARGO_MANIFEST_DIR").to_owned() + "/../..";
    let release = format!("{root}/target/release");
    let mut contestants = vec![
        Contestant {
            name: "torsion-web",
            command: vec![
                format!("{release}/examples/hello_server"),
                "--listen".into(),
                "tcp:0:interface=127.0.0.1".into(),
            ],
        },
        Contestant {
            name: "hyper",
            command: vec![format!("{release}/hyper_hello")],
        },
    ];
    if args.number("floor", 1) == 1 {
        match build_floor(&root, &release) {
            Ok(floor) => contestants.push(Contestant {
                name: "C floor",
                command: vec![floor],
            }),
            Err(why) => println!("C floor left out: {why}"),
        }
    }
    let python = format!("{root}/.ci/.venv/bin/python");
    if std::path::Path::new(&python).exists() && args.number("twisted", 1) == 1 {
        contestants.push(Contestant {
            name: "twisted.web",
            command: vec![python, format!("{root}/.ci/interop/twisted_hello.py")],
        });
    }
    contestants.retain(|c| args.wants(c.name));
    println!(
        "http_hello: wrk -t1 -c{connections} -d{seconds}s, server and wrk on core 0 \
         (taskset -c 0){}, {} interleaved runs; load average {}",
        if batch {
            ", every server under SCHED_BATCH (chrt --batch 0)"
        } else {
            ""
        },
        args.runs,
        load_average()
    );
    let mut results: Vec<Vec<(f64, f64)>> = vec![Vec::new(); contestants.len()];
    for _ in 0..args.runs {
        for (contestant, samples) in contestants.iter().zip(&mut results) {
            samples.push(wrk_run(contestant, connections, seconds, batch));
        }
    }
    let medians: Vec<(f64, f64)> = results
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| medians(s))
        .collect();
    for ((contestant, samples), (rps, p99)) in contestants.iter().zip(&results).zip(&medians) {
        let runs: Vec<String> = samples
            .iter()
            .map(|(r, p)| format!("{r:.0}/{p:.2}"))
            .collect();
        println!(
            "{:<12} median {rps:>9.0} req/s  p99 {p99:>6.2} ms  (runs req/s / p99 ms: {})",
            contestant.name,
            runs.join(", ")
        );
    }
    let median = |name: &str| {
        contestants
            .iter()
            .zip(&medians)
            .find(|(c, _)| c.name == name)
            .map(|(_, m)| *m)
    };
    if let (Some((t, tp)), Some((h, hp))) = (median("torsion-web"), median("hyper")) {
        println!(
            "ratio torsion-web / hyper: req/s {:.2}, p99 {:.2}",
            t / h,
            tp / hp
        );
    }
    if let (Some((f, _)), Some((h, _))) = (median("C floor"), median("hyper")) {
        println!(
            "ratio C floor / hyper: req/s {:.2} (the ceiling here)",
            f / h
        );
    }
    if let (Some((t, _)), Some((p, _))) = (median("torsion-web"), median("twisted.web")) {
        println!("ratio torsion-web / twisted.web: req/s {:.1}", t / p);
    }
    if args.number("instructions", 1) == 1 {
        let requests = args.number("requests", 20_000);
        for contestant in contestants.iter().filter(|c| c.name != "twisted.web") {
            if contestant.name == "C floor" {
                continue; // its point is wall time; its few instructions are not in question
            }
            match instructions_per_request(contestant, requests) {
                Some(per) => println!("{:<12} {per:>8.0} user instructions / request (callgrind, {requests} requests)", contestant.name),
                None => println!("{:<12} instructions: callgrind unavailable", contestant.name),
            }
        }
    }
    if idle > 0 {
        // twisted.web is left out: its default select reactor stops accepting near 1,024
        // descriptors (BENCHMARKING.md has its figure, ~2.3 KB).
        for contestant in contestants
            .iter()
            .filter(|c| c.name != "twisted.web" && c.name != "C floor")
        {
            let per = idle_memory(contestant, idle, false);
            println!(
                "{:<12} {per:>8.0} bytes RSS / idle connection ({idle} connections)",
                contestant.name
            );
            let per = idle_memory(contestant, idle, true);
            println!(
                "{:<12} {per:>8.0} bytes RSS / idle connection after one request each",
                contestant.name
            );
        }
    }
}

/// Compiles `crates/torsion-bench/c/http_floor.c` into the release directory with the
/// system C compiler; the path of the binary.
fn build_floor(root: &str, release: &str) -> Result<String, String> {
    let source = format!("{root}/crates/torsion-bench/c/http_floor.c");
    let binary = format!("{release}/http_floor");
    let status = Command::new("cc")
        .args(["-O2", "-o", &binary, &source])
        .status()
        .map_err(|e| format!("cc: {e}"))?;
    if !status.success() {
        return Err(format!("cc failed on {source}"));
    }
    Ok(binary)
}

/// Starts `command` pinned to core 0 (optionally under a wrapper) and reads its port.
fn start(command: &[String], wrapper: &[&str]) -> (Child, u16) {
    let mut full: Vec<String> = vec!["-c".into(), "0".into()];
    full.extend(wrapper.iter().map(|s| s.to_string()));
    full.extend(command.iter().cloned());
    let mut child = Command::new("taskset")
        .args(&full)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", command[0]));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{}: first line was {line:?}", command[0]));
    (child, port)
}

/// SIGTERM, then wait (bounded by the servers' own contract).
fn stop(child: Child) -> String {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().expect("wait");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One wrk run: (requests/s, p99 latency in ms).
fn wrk_run(contestant: &Contestant, connections: usize, seconds: usize, batch: bool) -> (f64, f64) {
    let wrapper: &[&str] = if batch {
        &["chrt", "--batch", "0"]
    } else {
        &[]
    };
    let (child, port) = start(&contestant.command, wrapper);
    let output = Command::new("taskset")
        .args([
            "-c",
            "0",
            "wrk",
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
        ])
        .args(["--latency", &format!("http://127.0.0.1:{port}/")])
        .output()
        .expect("run wrk");
    stop(child);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !text.contains("Socket errors") && !text.contains("Non-2xx"),
        "wrk saw errors against {}:\n{text}",
        contestant.name
    );
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| latency_ms(v.trim()))
        .unwrap_or(f64::NAN);
    (rps, p99)
}

/// wrk's `123.45us`, `1.20ms`, `2.00s` as milliseconds.
fn latency_ms(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let value: f64 = text[..split].parse().unwrap_or(f64::NAN);
    match &text[split..] {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        _ => f64::NAN,
    }
}

/// Medians of requests/s and of p99, each ranked by itself.
fn medians(samples: &[(f64, f64)]) -> (f64, f64) {
    let mut rps: Vec<f64> = samples.iter().map(|s| s.0).collect();
    let mut p99: Vec<f64> = samples.iter().map(|s| s.1).collect();
    rps.sort_by(f64::total_cmp);
    p99.sort_by(f64::total_cmp);
    (rps[rps.len() / 2], p99[p99.len() / 2])
}

/// User instructions per request under callgrind: (with load - without) / requests.
fn instructions_per_request(contestant: &Contestant, requests: usize) -> Option<f64> {
    let total = |load: usize| -> Option<f64> {
        let (child, port) = start(
            &contestant.command,
            &[
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
            ],
        );
        if load > 0 {
            // 10 keep-alive connections, `load` requests in all, each read back whole.
            let per = load / 10;
            let workers: Vec<_> = (0..10)
                .map(|_| std::thread::spawn(move || hammer(port, per)))
                .collect();
            for worker in workers {
                worker.join().expect("client");
            }
        }
        let stderr = stop(child);
        stderr.lines().find_map(|l| {
            l.split("Collected :")
                .nth(1)
                .and_then(|n| n.trim().parse::<f64>().ok())
        })
    };
    let (loaded, baseline) = (total(requests)?, total(0)?);
    Some((loaded - baseline) / requests as f64)
}

/// Sends `count` GETs one after another on one connection, reading each response.
fn hammer(port: u16, count: usize) {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let mut buf = [0u8; 4096];
    for _ in 0..count {
        stream.write_all(request).expect("send");
        let mut got = Vec::new();
        while !got.ends_with(b"Hello, world!") {
            let n = stream.read(&mut buf).expect("read");
            assert!(n > 0, "closed");
            got.extend_from_slice(&buf[..n]);
        }
    }
}

/// (RSS with `count` idle connections open - RSS before) / count, in bytes.
/// With `served`, each connection first gets one request answered, so what a server
/// keeps between requests on a keep-alive connection is counted too.
fn idle_memory(contestant: &Contestant, count: usize, served: bool) -> f64 {
    let (child, port) = start(&contestant.command, &[]);
    // taskset execs the server: the child's pid is the server's.
    let pid = child.id();
    let before = rss(pid);
    let connections: Vec<TcpStream> = (0..count)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect (raise ulimit -n?)"))
        .collect();
    // Wait, bounded, until the server has accepted every connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_fds(pid) < count && Instant::now() < deadline {
        std::thread::yield_now();
    }
    if served {
        use std::io::{Read, Write};
        // Send every request first, then read every answer: the server works through
        // them while the client writes.
        let mut connections = connections.iter().collect::<Vec<_>>();
        for stream in &mut connections {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .expect("send");
        }
        let mut buf = [0u8; 1024];
        for stream in &mut connections {
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let mut got = Vec::new();
            while !got.ends_with(b"Hello, world!") {
                let n = stream.read(&mut buf).expect("read");
                assert!(n > 0, "closed");
                got.extend_from_slice(&buf[..n]);
            }
        }
    }
    let after = rss(pid);
    drop(connections);
    stop(child);
    (after.saturating_sub(before)) as f64 / count as f64
}

fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}
