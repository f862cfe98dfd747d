//! The tokio peer of torsion's `echo_server` example: a current_thread runtime, one task
//! per connection, each read written straight back.
//!
//! ```text
//! target/release/tokio_echo --listen tcp:0:interface=127.0.0.1 [--buffer shared|task]
//! ```
//!
//! It keeps the example contract of DESIGN.md: `--listen ENDPOINT` (a TCP server endpoint
//! string, port 0 for any free port), `listening on ADDR` as the first line on stdout,
//! then it serves until SIGTERM or SIGINT and exits 0, dropping its connections.
//!
//! Two ways to hold the read buffer (`--buffer`):
//!
//! - `shared` (the default): torsion's design written with tokio. A task waits for
//!   readability holding no buffer, reads into one buffer per thread (64 KiB), writes the
//!   bytes back at once, and copies into a buffer of its own only what the socket did not
//!   take (then it stops reading until that is written). An idle connection costs only
//!   the task and its registration: tokio's own minimum.
//! - `task`: the tokio tutorial's echo: each task owns a 16 KiB buffer, `read` then
//!   `write_all`. An idle connection holds its 16 KiB.
//!
//! Both read through `AsyncRead::poll_read`, so both get tokio's "a short read drained the
//! socket" shortcut on epoll. `read` and `write_all` are written here with `poll_fn`, which
//! is all `AsyncReadExt`/`AsyncWriteExt` do, so the bench crate needs no `io-util`.

use std::{
    cell::RefCell,
    future::poll_fn,
    io::{self, Write},
    net::SocketAddr,
    pin::Pin,
    process,
    task::{ready, Poll},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpSocket, TcpStream},
    signal::unix::{signal, SignalKind},
};
use torsion::endpoints::ServerEndpoint;
use torsion_bench::Args;

/// The per-thread read buffer of `--buffer shared`.
const SHARED_BUFFER: usize = 64 * 1024;
/// Each task's buffer with `--buffer task` (the tokio tutorial uses 1 KiB; 16 KiB reads a
/// 16 KiB message in one call).
const TASK_BUFFER: usize = 16 * 1024;

thread_local! {
    /// One read buffer for every connection on this (the only) runtime thread. It is
    /// borrowed only inside one poll, never across an await.
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; SHARED_BUFFER]);
}

/// Where a connection keeps the bytes it reads.
#[derive(Debug, Clone, Copy)]
enum Buffering {
    Shared,
    Task,
}

fn main() {
    let args = Args::parse();
    let endpoint = args.text("listen").unwrap_or("tcp:0:interface=127.0.0.1");
    let (addr, backlog) = match endpoint.parse::<ServerEndpoint>() {
        Ok(ServerEndpoint::Tcp {
            port,
            interface,
            backlog,
        }) => (SocketAddr::new(interface, port), backlog),
        Ok(_) => fail(&format!(
            "--listen {endpoint}: only tcp endpoints are served"
        )),
        Err(e) => fail(&format!("--listen {endpoint}: {e}")),
    };
    let buffering = match args.text("buffer").unwrap_or("shared") {
        "shared" => Buffering::Shared,
        "task" => Buffering::Task,
        other => fail(&format!("--buffer {other:?}: expected shared or task")),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap_or_else(|e| fail(&format!("build tokio runtime: {e}")));
    runtime.block_on(async {
        let listener =
            bind(addr, backlog).unwrap_or_else(|e| fail(&format!("listen tcp {addr}: {e}")));
        let local = listener
            .local_addr()
            .unwrap_or_else(|e| fail(&format!("listen tcp {addr}: {e}")));
        let mut stdout = io::stdout();
        let _ = writeln!(stdout, "listening on {local}");
        let _ = stdout.flush();
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => (term, int),
            (Err(e), _) | (_, Err(e)) => fail(&format!("install signal handlers: {e}")),
        };
        drop(tokio::spawn(accept(listener, buffering)));
        // No `select!`: tokio's `macros` feature would pull proc-macro crates.
        poll_fn(|cx| match (term.poll_recv(cx), int.poll_recv(cx)) {
            (Poll::Pending, Poll::Pending) => Poll::Pending,
            _ => Poll::Ready(()),
        })
        .await;
    });
    // Dropping the runtime drops every task, which closes its connection.
    drop(runtime);
}

/// Accepts connections, one task each, until the runtime is dropped.
async fn accept(listener: TcpListener, buffering: Buffering) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                drop(tokio::spawn(serve(stream, buffering)));
            }
            // Out of descriptors, or a connection reset in the queue: go on.
            Err(e) => eprintln!("tokio_echo: accept: {e}"),
        }
    }
}

/// A listener on `addr` with torsion's backlog (tokio's `TcpListener::bind` uses 1024).
fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

async fn serve(stream: TcpStream, buffering: Buffering) {
    let _ = match buffering {
        Buffering::Shared => echo_shared(stream).await,
        Buffering::Task => echo_task(stream).await,
    };
}

/// `--buffer task`: `read` into the task's buffer, `write_all` it back.
async fn echo_task(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; TASK_BUFFER];
    loop {
        let n = poll_fn(|cx| {
            let mut read = ReadBuf::new(&mut buf);
            ready!(Pin::new(&mut stream).poll_read(cx, &mut read))?;
            Poll::Ready(Ok::<_, io::Error>(read.filled().len()))
        })
        .await?;
        if n == 0 {
            return Ok(());
        }
        write_all(&mut stream, &buf[..n]).await?;
    }
}

/// `--buffer shared`: read into the thread's buffer and write back at once within the
/// same poll; keep only what the socket did not take.
async fn echo_shared(mut stream: TcpStream) -> io::Result<()> {
    let mut unsent = Vec::new();
    loop {
        let open = poll_fn(|cx| {
            BUFFER.with_borrow_mut(|buf| {
                let mut read = ReadBuf::new(buf);
                ready!(Pin::new(&mut stream).poll_read(cx, &mut read))?;
                let data = read.filled();
                if data.is_empty() {
                    return Poll::Ready(Ok(false));
                }
                let written = match stream.try_write(data) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                    Err(e) => return Poll::Ready(Err(e)),
                };
                unsent.extend_from_slice(&data[written..]);
                Poll::Ready(Ok::<_, io::Error>(true))
            })
        })
        .await?;
        if !open {
            return Ok(());
        }
        if !unsent.is_empty() {
            write_all(&mut stream, &unsent).await?;
            // Give the memory back: an idle connection holds no buffer.
            unsent = Vec::new();
        }
    }
}

/// `AsyncWriteExt::write_all`.
async fn write_all(stream: &mut TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *stream).poll_write(cx, data)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
    }
    Ok(())
}

fn fail(message: &str) -> ! {
    eprintln!("tokio_echo: {message}");
    process::exit(1)
}
