//! Child processes side by side with tokio::process: spawn and reap rate, and read rate.
//!
//! ```text
//! cargo run --release -p torsion-bench --bin process_compare [-- --children N --parallel M --bytes B --runs R --only NAME]
//! ```
//!
//! - `spawn`: N children (`--children`, default 1,000) of `true`, at most M (`--parallel`,
//!   default 50) at a time, each with stdin on /dev/null and its stdout and stderr read
//!   to end of file, then reaped: torsion's `spawn_process` with a protocol on a
//!   `Reactor`, against `tokio::process::Command::output` on a current_thread runtime
//!   (a `Semaphore` of M permits).
//! - `read`: one child, `head -c B /dev/zero` (`--bytes`, default 1,000,000,000), its
//!   stdout read to end of file in 64 KiB reads (torsion's read buffer; tokio through
//!   `ChildStdout::poll_read` with a buffer of that size).
//!
//! Each round runs every contestant once, interleaved; the report is the median.

use std::{
    cell::Cell, fs::File, os::fd::OwnedFd, pin::Pin, process::Stdio, rc::Rc, sync::Arc, thread,
};

use tokio::io::{AsyncRead, ReadBuf};
use torsion::{
    process::{spawn_process, ChildFd, Command, ProcessExit, ProcessProtocol, ProcessTransport},
    Reactor,
};
use torsion_bench::{load_average, measure, ratio, report, Args, Sample};

fn main() {
    let args = Args::parse();
    let children = args.number("children", 1_000);
    let parallel = args.number("parallel", 50).max(1);
    let bytes = args.number("bytes", 1_000_000_000);
    println!(
        "process_compare: spawn {children} x true, {parallel} at a time; read {bytes} bytes \
         from head -c; cpus allowed {}; load {}",
        thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    type Contestant = (&'static str, &'static str, Box<dyn Fn()>);
    let contestants: [Contestant; 4] = [
        (
            "torsion-spawn",
            "torsion spawn_process + reap",
            Box::new(move || torsion_spawn(children, parallel)),
        ),
        (
            "tokio-spawn",
            "tokio::process output()",
            Box::new(move || tokio_spawn(children, parallel)),
        ),
        (
            "torsion-read",
            "torsion read from head -c (bytes)",
            Box::new(move || torsion_read(bytes)),
        ),
        (
            "tokio-read",
            "tokio::process read from head -c (bytes)",
            Box::new(move || tokio_read(bytes)),
        ),
    ];
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); contestants.len()];
    for _ in 0..args.runs {
        for ((name, _, run), samples) in contestants.iter().zip(&mut samples) {
            if args.wants(name) {
                samples.push(measure(run));
            }
        }
    }
    let ops = [children, children, bytes, bytes];
    for (((_, label, _), samples), ops) in contestants.iter().zip(&samples).zip(ops) {
        if !samples.is_empty() {
            report(label, samples, ops as u64);
        }
    }
    ratio("torsion-spawn", &samples[0], "tokio-spawn", &samples[1]);
    ratio("torsion-read", &samples[2], "tokio-read", &samples[3]);
}

fn dev_null() -> Rc<OwnedFd> {
    Rc::new(OwnedFd::from(
        File::open("/dev/null").expect("open /dev/null"),
    ))
}

/// Starts the next child whenever one ended, until all ran.
struct Batch {
    reactor: Reactor,
    command: Command,
    left: Cell<usize>,
    running: Cell<usize>,
}

impl Batch {
    fn start_one(self: &Rc<Self>) {
        if self.left.get() == 0 {
            if self.running.get() == 0 {
                self.reactor.stop();
            }
            return;
        }
        self.left.set(self.left.get() - 1);
        self.running.set(self.running.get() + 1);
        let protocol = Reaped(self.clone());
        spawn_process(&self.reactor, Box::new(protocol), &self.command).expect("spawn true");
    }
}

struct Reaped(Rc<Batch>);

impl ProcessProtocol for Reaped {
    fn process_ended(&mut self, exit: ProcessExit) {
        assert!(exit.is_clean(), "true: {exit}");
        self.0.running.set(self.0.running.get() - 1);
        self.0.start_one();
    }
}

fn torsion_reactor() -> Reactor {
    Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .expect("build reactor")
}

fn torsion_spawn(children: usize, parallel: usize) {
    let reactor = torsion_reactor();
    let batch = Rc::new(Batch {
        reactor: reactor.clone(),
        command: Command::new("true").child_fd(0, ChildFd::Inherit(dev_null())),
        left: Cell::new(children),
        running: Cell::new(0),
    });
    for _ in 0..parallel.min(children) {
        batch.start_one();
    }
    reactor.run();
    assert_eq!(batch.left.get() + batch.running.get(), 0);
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("build tokio runtime")
}

fn tokio_spawn(children: usize, parallel: usize) {
    let runtime = tokio_runtime();
    runtime.block_on(async {
        let permits = Arc::new(tokio::sync::Semaphore::new(parallel));
        let tasks: Vec<_> = (0..children)
            .map(|_| {
                let permits = permits.clone();
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await.expect("semaphore open");
                    let output = tokio::process::Command::new("true")
                        .stdin(Stdio::null())
                        .output()
                        .await
                        .expect("run true");
                    assert!(output.status.success());
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("child task");
        }
    });
}

/// Counts what the child writes; stops the reactor at the end.
struct Counter {
    bytes: Rc<Cell<usize>>,
    reactor: Reactor,
}

impl ProcessProtocol for Counter {
    fn connection_made(&mut self, transport: ProcessTransport) {
        transport.close_stdin();
    }

    fn out_received(&mut self, data: &[u8]) {
        self.bytes.set(self.bytes.get() + data.len());
    }

    fn process_ended(&mut self, _exit: ProcessExit) {
        self.reactor.stop();
    }
}

fn torsion_read(bytes: usize) {
    let reactor = torsion_reactor();
    let count = Rc::new(Cell::new(0));
    let counter = Counter {
        bytes: count.clone(),
        reactor: reactor.clone(),
    };
    let command = Command::new("head").args(["-c", &bytes.to_string(), "/dev/zero"]);
    spawn_process(&reactor, Box::new(counter), &command).expect("spawn head");
    reactor.run();
    assert_eq!(count.get(), bytes);
}

fn tokio_read(bytes: usize) {
    let runtime = tokio_runtime();
    let got = runtime.block_on(async {
        let mut child = tokio::process::Command::new("head")
            .args(["-c", &bytes.to_string(), "/dev/zero"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn head");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        loop {
            let mut read = ReadBuf::new(&mut buf);
            std::future::poll_fn(|cx| Pin::new(&mut stdout).poll_read(cx, &mut read))
                .await
                .expect("read stdout");
            let n = read.filled().len();
            if n == 0 {
                break;
            }
            total += n;
        }
        assert!(child.wait().await.expect("wait head").success());
        total
    });
    assert_eq!(got, bytes);
}
