//! A child that writes 100 MB to its stdout while the protocol pauses and resumes reading:
//! resident memory stays bounded. Its own test binary, so that no other test's memory
//! shows in this process's resident set.

mod support;

use std::{cell::Cell, rc::Rc, time::Duration};

use torsion::{
    process::{spawn_process, Command, ProcessExit, ProcessProtocol, ProcessTransport},
    reactor::Backend,
    testing::check_clean,
    Reactor,
};

/// Counts bytes, pausing each MiB and resuming on a later turn; stops at the end.
struct Flood {
    state: Rc<(Cell<usize>, Cell<u32>, Cell<u64>)>,
    transport: Option<ProcessTransport>,
    ended: Rc<Cell<Option<ProcessExit>>>,
    reactor: Reactor,
}

impl ProcessProtocol for Flood {
    fn connection_made(&mut self, transport: ProcessTransport) {
        self.transport = Some(transport);
    }

    fn out_received(&mut self, data: &[u8]) {
        let (bytes, pauses, max_rss) = &*self.state;
        let before_mb = bytes.get() >> 20;
        bytes.set(bytes.get() + data.len());
        if bytes.get() >> 20 != before_mb {
            max_rss.set(max_rss.get().max(rss_kib()));
            pauses.set(pauses.get() + 1);
            if let Some(t) = &self.transport {
                t.pause_producing();
                let t = t.clone();
                self.reactor
                    .call_later(Duration::ZERO, move || t.resume_producing());
            }
        }
    }

    fn process_ended(&mut self, exit: ProcessExit) {
        self.ended.set(Some(exit));
        self.transport = None;
        self.reactor.stop();
    }
}

/// The resident set of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_child_flooding_stdout_is_held_back_while_reading_is_paused_and_memory_stays_bounded() {
    const TOTAL: usize = 100_000_000;
    let reactor = support::reactor(Backend::Mio);
    let before = rss_kib();
    let state = Rc::new((Cell::new(0usize), Cell::new(0u32), Cell::new(before)));
    let ended = Rc::new(Cell::new(None));
    let flood = Flood {
        state: state.clone(),
        transport: None,
        ended: ended.clone(),
        reactor: reactor.clone(),
    };
    let command = Command::new("head").args(["-c", &TOTAL.to_string(), "/dev/zero"]);
    spawn_process(&reactor, Box::new(flood), &command).unwrap();
    support::run(&reactor);
    let (bytes, pauses, max_rss) = &*state;
    assert_eq!(bytes.get(), TOTAL);
    assert!(pauses.get() >= 90, "paused {} times", pauses.get());
    let grown = max_rss.get().saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "resident memory grew by {grown} KiB while 100 MB went through"
    );
    assert_eq!(ended.get(), Some(ProcessExit::Clean));
    check_clean(&reactor).unwrap();
}
