//! The site's side of a graceful drain: which connections are open, and whether the
//! site is draining (kept apart from the connection code, which only asks
//! [`Drain::is_draining`] and registers itself).
//!
//! Draining: idle keep-alive connections (waiting for a head, nothing received) close
//! at once; a connection with a request in flight finishes it, sends `Connection:
//! close` if its head is not out yet, and closes after the response.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use super::channel::Channel;

/// The open connections of a site and its draining flag.
#[derive(Default)]
pub(crate) struct Drain {
    draining: Cell<bool>,
    /// Weak: a connection's lifetime is its transport's. Dead entries are pruned when
    /// the list doubles, so it stays within twice the open connections.
    channels: RefCell<Vec<Weak<Channel>>>,
    /// The length after the last prune.
    pruned_at: Cell<usize>,
}

impl Drain {
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.get()
    }

    /// Registers a new connection.
    pub(crate) fn add(&self, channel: &Rc<Channel>) {
        let mut channels = self.channels.borrow_mut();
        if channels.len() >= 2 * self.pruned_at.get().max(32) {
            channels.retain(|c| c.strong_count() > 0);
            self.pruned_at.set(channels.len());
        }
        channels.push(Rc::downgrade(channel));
    }

    /// Starts draining: closes the idle connections now; the others close after their
    /// response.
    pub(crate) fn start(&self) {
        self.draining.set(true);
        let open: Vec<Rc<Channel>> = {
            let mut channels = self.channels.borrow_mut();
            channels.retain(|c| c.strong_count() > 0);
            self.pruned_at.set(channels.len());
            channels.iter().filter_map(Weak::upgrade).collect()
        };
        for channel in open {
            channel.close_if_idle();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use torsion::net::{CloseReason, Protocol, ProtocolFactory, Transport};
    use torsion::testing::{Clock, StringTransport};

    use crate::server::{FnResource, Render, Request, Site, Tree};

    /// A site whose `/now` answers at once and whose `/later` waits for the test.
    fn site(held: &Rc<RefCell<Option<Request>>>) -> Site {
        let root = Tree::new();
        root.put_child(
            "now",
            Rc::new(FnResource::new(|_: &Request| Render::from("now"))),
        );
        let held = held.clone();
        root.put_child(
            "later",
            Rc::new(FnResource::new(move |request: &Request| {
                *held.borrow_mut() = Some(request.clone());
                Render::Later
            })),
        );
        Site::new(root, Clock::new())
    }

    fn connect(site: &Site) -> (Rc<StringTransport>, Box<dyn Protocol>) {
        let transport = StringTransport::new();
        let mut protocol = site.build_protocol(&transport.peer()).unwrap();
        protocol.connection_made(transport.clone());
        (transport, protocol)
    }

    fn text(transport: &StringTransport) -> String {
        String::from_utf8(transport.take_value()).unwrap()
    }

    #[test]
    fn drain_closes_idle_keep_alive_connections_at_once() {
        let held = Rc::default();
        let site = site(&held);
        let (transport, mut protocol) = connect(&site);
        protocol.data_received(b"GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
        let response = text(&transport);
        assert!(!response.contains("Connection: close"), "{response}");
        assert!(!transport.disconnecting());
        let (never_used, mut fresh) = connect(&site);
        site.drain();
        assert!(site.is_draining());
        assert!(transport.disconnecting());
        assert!(never_used.disconnecting());
        protocol.connection_lost(CloseReason::Clean);
        fresh.connection_lost(CloseReason::Clean);
    }

    #[test]
    fn drain_lets_a_request_in_flight_finish_then_closes() {
        let held: Rc<RefCell<Option<Request>>> = Rc::default();
        let site = site(&held);
        let (transport, mut protocol) = connect(&site);
        protocol.data_received(b"GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
        site.drain();
        assert!(!transport.disconnecting(), "a request is in flight");
        let request = held.borrow_mut().take().unwrap();
        request.write(b"late");
        request.finish();
        let response = text(&transport);
        assert!(response.contains("Connection: close\r\n"), "{response}");
        assert!(
            response.ends_with("late") || response.ends_with("0\r\n\r\n"),
            "{response}"
        );
        assert!(transport.disconnecting());
        protocol.connection_lost(CloseReason::Clean);
    }

    #[test]
    fn a_partial_head_is_in_flight_and_finishes() {
        let held = Rc::default();
        let site = site(&held);
        let (transport, mut protocol) = connect(&site);
        protocol.data_received(b"GET /now HTTP/1.1\r\n");
        site.drain();
        assert!(!transport.disconnecting());
        protocol.data_received(b"Host: x\r\n\r\n");
        let response = text(&transport);
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.contains("Connection: close\r\n"), "{response}");
        assert!(transport.disconnecting());
        protocol.connection_lost(CloseReason::Clean);
    }

    #[test]
    fn dead_connections_are_pruned_from_the_registry() {
        let held = Rc::default();
        let site = site(&held);
        for _ in 0..1000 {
            let (_transport, mut protocol) = connect(&site);
            protocol.connection_lost(CloseReason::Clean);
        }
        assert!(site.inner.drain.channels.borrow().len() <= 64);
    }
}
