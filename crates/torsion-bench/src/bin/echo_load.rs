//! Echo load generator: N connections to an echo server, each in a closed loop.
//!
//! ```text
//! target/release/echo_load --connect 127.0.0.1:PORT [--connections 100] [--size 64]
//!     [--depth 1] [--seconds 10] [--messages N]
//! taskset -c 0 target/release/echo_load ...   # on the server's core (BENCHMARKING.md)
//! ```
//!
//! Each connection sends `--depth` messages of `--size` bytes, and sends one more each
//! time a whole message's worth of bytes came back, so `--depth 1` is a closed loop
//! (send, wait for the echo, repeat). It stops after `--seconds` (default 10) or, with
//! `--messages N`, once N messages came back in all (then the time limit defaults to 600 s
//! and is only a guard); it then prints `result messages=.. bytes=.. seconds=..
//! msg_per_s=.. mb_per_s=.. cpu_s=..` (MB = 10^6 bytes echoed back, one direction;
//! `cpu_s` is this process's own CPU time over the run), the line
//! `echo_compare` reads. The echoes' content is not checked, only their length: checking
//! would add work on the core the server shares.
//!
//! One thread, one mio poller, edge-triggered: the load generator shares the server's
//! core, so it must cost as little as it can. It reads into one buffer for all
//! connections, trusts a short read to mean the socket is drained and a short write to
//! mean it is full (as tokio does on epoll), so it makes one `read` and one `write` per
//! message in the closed loop, plus its share of `epoll_wait`.
//!
//! `--connect` takes `HOST:PORT` or a client endpoint string (`tcp:HOST:PORT`).

use std::{
    io::{self, Read, Write},
    net::{SocketAddr, TcpStream as StdStream, ToSocketAddrs},
    process,
    time::{Duration, Instant},
};

use mio::{net::TcpStream, Events, Interest, Poll, Token};
use torsion::endpoints::ClientEndpoint;
use torsion_bench::{process_cpu_time, Args};

/// The read buffer shared by all connections: room for several 16 KiB echoes at once.
const READ_BUFFER: usize = 256 * 1024;

fn main() {
    let args = Args::parse();
    let target = args
        .text("connect")
        .map(resolve)
        .unwrap_or_else(|| fail("--connect HOST:PORT is required"));
    let connections = args.number("connections", 100).max(1);
    let size = args.number("size", 64).max(1);
    let depth = args.number("depth", 1).max(1);
    let messages = args.number("messages", 0) as u64;
    let default_seconds = if messages > 0 { 600 } else { 10 };
    let duration = Duration::from_secs(args.number("seconds", default_seconds) as u64);
    println!(
        "echo_load: {connections} connections to {target}, {size}-byte messages, depth \
         {depth}, {}",
        if messages > 0 {
            format!("{messages} messages (at most {} s)", duration.as_secs())
        } else {
            format!("{} s", duration.as_secs())
        }
    );
    match run(target, connections, size, depth, messages, duration) {
        Ok(tally) => {
            let seconds = tally.elapsed.as_secs_f64();
            println!(
                "result messages={} bytes={} seconds={seconds:.3} msg_per_s={:.0} \
                 mb_per_s={:.1} cpu_s={:.3}",
                tally.messages,
                tally.bytes,
                tally.messages as f64 / seconds,
                tally.bytes as f64 / seconds / 1e6,
                tally.cpu.as_secs_f64(),
            );
        }
        Err(e) => fail(&format!("echo to {target}: {e}")),
    }
}

/// What came back.
#[derive(Debug)]
struct Tally {
    messages: u64,
    bytes: u64,
    elapsed: Duration,
    /// This process's CPU time (user + system) over the same span.
    cpu: Duration,
}

/// One connection's state.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    /// Bytes queued to send (whole messages, minus what the socket took of the first).
    unsent: usize,
    /// Bytes received of the message now arriving.
    partial: usize,
    /// Messages sent whose echo has not fully come back.
    in_flight: usize,
}

/// Connects, runs the loops until the time is up or `limit` messages came back (0: no
/// limit), and counts.
fn run(
    target: SocketAddr,
    connections: usize,
    size: usize,
    depth: usize,
    limit: u64,
    duration: Duration,
) -> io::Result<Tally> {
    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(connections);
    for i in 0..connections {
        let stream = StdStream::connect(target)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(stream);
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        conns.push(Conn {
            stream,
            unsent: 0,
            partial: 0,
            in_flight: 0,
        });
    }
    // What every write sends from: the content does not matter, only the length.
    let out = vec![b'x'; size * depth];
    let mut buf = vec![0u8; READ_BUFFER.max(size * depth)];
    let mut events = Events::with_capacity(1024);
    let (mut sent, mut messages, mut bytes) = (0u64, 0u64, 0u64);

    let (start, cpu) = (Instant::now(), process_cpu_time());
    let deadline = start + duration;
    for conn in &mut conns {
        for _ in 0..depth {
            if limit == 0 || sent < limit {
                conn.unsent += size;
                conn.in_flight += 1;
                sent += 1;
            }
        }
        flush(conn, &out)?;
    }
    while limit == 0 || messages < limit {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        poll.poll(&mut events, Some(deadline - now))?;
        for event in &events {
            let Some(conn) = conns.get_mut(event.token().0) else {
                continue;
            };
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                loop {
                    let n = match conn.stream.read(&mut buf) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the server closed a connection",
                            ))
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    bytes += n as u64;
                    let done = (conn.partial + n) / size;
                    conn.partial = (conn.partial + n) % size;
                    if done > conn.in_flight {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the server sent more bytes than it was sent",
                        ));
                    }
                    conn.in_flight -= done;
                    messages += done as u64;
                    for _ in 0..done {
                        if limit == 0 || sent < limit {
                            conn.unsent += size;
                            conn.in_flight += 1;
                            sent += 1;
                        }
                    }
                    // A short read drained the socket: the next byte brings a new edge.
                    if n < buf.len() {
                        break;
                    }
                }
            }
            flush(conn, &out)?;
        }
    }
    Ok(Tally {
        messages,
        bytes,
        elapsed: start.elapsed(),
        cpu: process_cpu_time().saturating_sub(cpu),
    })
}

/// Writes what `conn` has queued until the socket pushes back.
fn flush(conn: &mut Conn, out: &[u8]) -> io::Result<()> {
    while conn.unsent > 0 {
        let chunk = conn.unsent.min(out.len());
        match conn.stream.write(&out[..chunk]) {
            Ok(n) => {
                conn.unsent -= n;
                // A short write filled the socket: wait for the writable edge.
                if n < chunk {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The address in `--connect`: `HOST:PORT`, or a client endpoint string (`tcp:HOST:PORT`).
fn resolve(text: &str) -> SocketAddr {
    let (host, port) = match text.parse::<ClientEndpoint>() {
        Ok(ClientEndpoint::Tcp { host, port, .. }) => (host, port),
        _ => match text.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
            Some((host, Ok(port))) => (host.trim_matches(['[', ']']).to_owned(), port),
            _ => fail(&format!(
                "--connect {text:?}: expected HOST:PORT or tcp:HOST:PORT"
            )),
        },
    };
    (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .unwrap_or_else(|| fail(&format!("--connect {text:?}: cannot resolve {host}")))
}

fn fail(message: &str) -> ! {
    eprintln!("echo_load: {message}");
    process::exit(2)
}
