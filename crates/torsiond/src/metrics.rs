//! `--metrics ENDPOINT`: the Prometheus text exposition of the reactor's counters, served
//! over HTTP at any path: loop lag, stalls, open and accepted connections, pending
//! timers, the thread pool's queue and busy threads, HTTP responses by status class.
//!
//! Reading the counters costs the reactor nothing between scrapes: they are plain cells
//! incremented where the event happens (an accept, a stall, a response); the lag probe
//! is one timer a second.

use std::cell::Cell;
use std::fmt::Write;
use std::rc::Rc;
use std::time::Duration;

use torsion::application::{ListenService, MultiService, Service, TimerService};
use torsion::threads::ThreadPool;
use torsion::{Failure, Reactor};
use torsion_web::server::{responses_by_status_class, Render, Request, Resource, Site};

/// How often the lag probe runs.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// What the metrics page reads.
struct Sources {
    reactor: Reactor,
    tree: Rc<dyn Service>,
    /// How late the last probe ran.
    lag: Cell<Duration>,
    /// When the next probe is due, on the reactor's clock.
    next_probe: Cell<Option<Duration>>,
}

/// The metrics service: a lag probe and the page, served on `endpoint`, reading `tree`'s
/// ports.
///
/// # Errors
/// The endpoint string is bad.
pub fn service(
    reactor: &Reactor,
    endpoint: &str,
    tree: Rc<dyn Service>,
) -> Result<Rc<dyn Service>, Failure> {
    let sources = Rc::new(Sources {
        reactor: reactor.clone(),
        tree,
        lag: Cell::new(Duration::ZERO),
        next_probe: Cell::new(None),
    });
    let probe = sources.clone();
    let timer = TimerService::new("metrics lag probe", reactor, PROBE_INTERVAL, move || {
        let now = probe.reactor.seconds();
        if let Some(due) = probe.next_probe.get() {
            probe.lag.set(now.saturating_sub(due));
        }
        probe.next_probe.set(Some(now + PROBE_INTERVAL));
    });
    let site = Site::new(Rc::new(Page { sources }), reactor.clone());
    let listen = ListenService::from_string(reactor, endpoint, site)?;
    let root = MultiService::new("metrics");
    root.add(Rc::new(timer))?;
    root.add(Rc::new(listen))?;
    Ok(Rc::new(root))
}

struct Page {
    sources: Rc<Sources>,
}

impl Resource for Page {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        request.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        Render::from(render(&self.sources))
    }
}

fn render(sources: &Sources) -> String {
    let ports = sources.tree.ports();
    let open: usize = ports.iter().map(|p| p.connection_count()).sum();
    let accepted: u64 = ports.iter().map(|p| p.accepted_count()).sum();
    let pool = ThreadPool::of(&sources.reactor).stats();
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "torsion_loop_lag_seconds",
        "gauge",
        "How late the last once-a-second probe timer ran.",
        format!("{:.6}", sources.lag.get().as_secs_f64()),
    );
    metric(
        "torsion_stalls_total",
        "counter",
        "Callbacks that held the loop past the stall threshold.",
        sources.reactor.stall_count().to_string(),
    );
    metric(
        "torsion_open_connections",
        "gauge",
        "Connections open on the service's listening ports.",
        open.to_string(),
    );
    metric(
        "torsion_accepted_connections_total",
        "counter",
        "Connections accepted on the service's listening ports.",
        accepted.to_string(),
    );
    metric(
        "torsion_pending_timers",
        "gauge",
        "Delayed calls waiting on the reactor.",
        sources.reactor.timers().len().to_string(),
    );
    metric(
        "torsion_thread_pool_queued",
        "gauge",
        "Jobs waiting for a thread-pool thread.",
        pool.queued.to_string(),
    );
    metric(
        "torsion_thread_pool_busy_threads",
        "gauge",
        "Thread-pool threads running a job.",
        pool.threads.saturating_sub(pool.idle).to_string(),
    );
    let _ = writeln!(
        out,
        "# HELP torsion_http_responses_total HTTP responses completed, by status class.\n# TYPE torsion_http_responses_total counter"
    );
    for (i, count) in responses_by_status_class().iter().enumerate() {
        let _ = writeln!(
            out,
            "torsion_http_responses_total{{class=\"{}xx\"}} {count}",
            i + 1
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use torsion::net::{ProtocolFactory, Transport};
    use torsion::testing::StringTransport;

    use super::*;

    /// Parses the exposition back: every sample line is `NAME[{LABELS}] NUMBER`, and
    /// every name has its HELP and TYPE.
    fn parse(text: &str) -> HashMap<String, f64> {
        let mut samples = HashMap::new();
        let mut typed = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["gauge", "counter"].contains(&kind), "{line}");
                typed.push(name.to_owned());
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (name, value) = line.rsplit_once(' ').unwrap();
            let base = name.split('{').next().unwrap();
            assert!(typed.iter().any(|t| t == base), "{base} has no TYPE");
            samples.insert(name.to_owned(), value.parse::<f64>().unwrap());
        }
        samples
    }

    #[test]
    fn the_exposition_parses_back_with_every_metric() {
        let reactor = Reactor::builder()
            .install_signal_handlers(false)
            .build()
            .unwrap();
        let tree: Rc<dyn Service> = Rc::new(MultiService::new("empty"));
        let sources = Sources {
            reactor: reactor.clone(),
            tree,
            lag: Cell::new(Duration::from_millis(3)),
            next_probe: Cell::new(None),
        };
        // One response through a site on this thread: counted as 2xx.
        let hello = torsion_web::server::FnResource::new(|_: &Request| Render::from("hi"));
        let site = Site::new(Rc::new(hello), reactor.clone());
        let before = responses_by_status_class()[1];
        let transport = StringTransport::new();
        let mut connection = site.build_protocol(&transport.peer()).unwrap();
        connection.connection_made(transport.clone());
        connection.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        connection.connection_lost(torsion::net::CloseReason::Clean);
        let samples = parse(&render(&sources));
        assert_eq!(samples["torsion_loop_lag_seconds"], 0.003);
        assert_eq!(samples["torsion_stalls_total"], 0.0);
        assert_eq!(samples["torsion_open_connections"], 0.0);
        assert_eq!(samples["torsion_accepted_connections_total"], 0.0);
        assert!(samples.contains_key("torsion_pending_timers"));
        assert_eq!(samples["torsion_thread_pool_queued"], 0.0);
        assert_eq!(samples["torsion_thread_pool_busy_threads"], 0.0);
        assert_eq!(
            samples["torsion_http_responses_total{class=\"2xx\"}"],
            (before + 1) as f64
        );
        assert_eq!(samples.len(), 12);
    }
}
