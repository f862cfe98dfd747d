//! Unit tests of UDP ports that reach inside them: the send policy, the read budget.

use super::*;

struct Quiet;
impl DatagramProtocol for Quiet {
    fn datagram_received(&mut self, _: &[u8], _: SocketAddr) {}
}

fn reactor() -> Reactor {
    Reactor::builder()
        .install_signal_handlers(false)
        .build()
        .unwrap()
}

#[test]
fn a_full_send_buffer_drops_the_datagram_and_counts_it() {
    // Loopback never pushes back (the kernel frees the send buffer as it delivers),
    // so the policy is checked on the outcome a full buffer gives.
    let reactor = reactor();
    let port = listen_udp(&reactor, 0, Quiet, "127.0.0.1", 64).unwrap();
    let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let full = Err(io::Error::from(io::ErrorKind::WouldBlock));
    let err = port.inner.finish_send(full, to, 1200).unwrap_err();
    assert!(
        matches!(err, UdpError::Dropped { len: 1200, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "send udp 127.0.0.1:9: send buffer full, 1200-byte datagram dropped"
    );
    assert_eq!(port.stats().dropped_writes, 1);
    let refused = Err(io::Error::from_raw_os_error(libc::ECONNREFUSED));
    let err = port.inner.finish_send(refused, to, 1).unwrap_err();
    assert!(matches!(err, UdpError::ConnectionRefused { .. }), "{err:?}");
    let too_long = Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
    let err = port.inner.finish_send(too_long, to, 1).unwrap_err();
    assert_eq!(err.to_string(), "send udp 127.0.0.1:9: message too long");
    assert_eq!(port.stats().dropped_writes, 1);
    port.stop_listening();
    crate::testing::assert_clean(&reactor);
}

#[test]
fn a_spent_read_budget_rearms_and_the_rest_arrives_later() {
    for backend in [crate::reactor::Backend::Mio, crate::reactor::Backend::Poll] {
        let reactor = Reactor::builder()
            .backend(backend)
            .install_signal_handlers(false)
            .build()
            .unwrap();
        let got = Rc::new(RefCell::new(Vec::new()));
        let counter = Counter(got.clone(), reactor.clone(), 5);
        let port = listen_udp(&reactor, 0, counter, "127.0.0.1", 64).unwrap();
        port.inner.read_budget.set(2);
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        for byte in b"abcde" {
            sender.send_to(&[*byte], port.host()).unwrap();
        }
        // Fails the test instead of hanging it if the port is never told again.
        let stopper = reactor.clone();
        let failsafe =
            reactor.call_later(std::time::Duration::from_secs(10), move || stopper.stop());
        reactor.run();
        assert_eq!(*got.borrow(), b"abcde", "{backend:?}");
        failsafe.cancel().unwrap();
        port.stop_listening();
        crate::testing::assert_clean(&reactor);
    }
}

/// Records one-byte datagrams and stops the reactor after `.2` of them.
struct Counter(Rc<RefCell<Vec<u8>>>, Reactor, usize);
impl DatagramProtocol for Counter {
    fn datagram_received(&mut self, data: &[u8], _: SocketAddr) {
        self.0.borrow_mut().extend_from_slice(data);
        if self.0.borrow().len() == self.2 {
            self.1.stop();
        }
    }
}

#[test]
fn bad_arguments_are_refused_with_their_value() {
    let reactor = reactor();
    let cases = [
        (
            listen_udp(&reactor, 0, Quiet, "localhost", 64),
            "listen udp: interface \"localhost\" is not an IP address",
        ),
        (
            listen_udp(&reactor, 0, Quiet, "127.0.0.1", 0),
            "listen udp: max_packet_size 0 must be from 1 to 65536",
        ),
        (
            listen_udp(&reactor, 0, Quiet, "127.0.0.1", MAX_PACKET_SIZE + 1),
            "listen udp: max_packet_size 65537 must be from 1 to 65536",
        ),
    ];
    for (result, message) in cases {
        assert_eq!(result.unwrap_err().to_string(), message);
    }
    crate::testing::assert_clean(&reactor);
}

#[test]
fn a_port_in_use_names_the_address_and_the_cause() {
    let reactor = reactor();
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = listen_udp(&reactor, port, Quiet, "127.0.0.1", 64).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("listen udp 127.0.0.1:{port}: address already in use")
    );
    assert_eq!(
        err.io_error().map(io::Error::kind),
        Some(io::ErrorKind::AddrInUse)
    );
    crate::testing::assert_clean(&reactor);
}

#[test]
fn writes_without_a_usable_address_are_refused() {
    let reactor = reactor();
    let port = listen_udp(&reactor, 0, Quiet, "127.0.0.1", 64).unwrap();
    let host = port.host();
    let err = port.write(b"x", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("send udp {host}: no address given and not connected")
    );
    let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
    port.connect(peer).unwrap();
    assert_eq!(port.peer(), Some(peer));
    let err = port.write(b"x", "127.0.0.1:10".parse::<SocketAddr>().unwrap());
    assert_eq!(
        err.unwrap_err().to_string(),
        "send udp 127.0.0.1:10: the port is connected to 127.0.0.1:9"
    );
    port.stop_listening();
    let err = port.write(b"x", None).unwrap_err();
    assert_eq!(err.to_string(), format!("udp {host}: not listening"));
    crate::testing::assert_clean(&reactor);
}
