//! UDP ports over loopback, under both backends: echo on IPv4 and IPv6, datagrams longer
//! than the buffer, connected UDP, multicast, stopping, panicking protocols.

mod support;

use std::{
    cell::RefCell,
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket},
    rc::Rc,
};

use torsion::{
    defer::Deferred,
    net::{
        listen_multicast, listen_udp, DatagramProtocol, UdpError, UdpPort, DEFAULT_MAX_PACKET_SIZE,
    },
    testing::assert_clean,
    Reactor,
};
use tracing::Level;

each_backend!(
    udp_echo_over_ipv4_loopback,
    udp_echo_over_ipv6_loopback,
    a_datagram_longer_than_max_packet_size_is_dropped_with_a_warning,
    connected_udp_writes_to_its_peer_without_an_address,
    connected_udp_hears_connection_refused_from_a_closed_port,
    multicast_on_the_loopback_interface_reaches_the_group,
    ipv6_multicast_options_and_membership,
    stop_listening_closes_the_socket_and_stops_the_protocol_once,
    stop_listening_inside_datagram_received_stops_after_it_returns,
    a_panicking_protocol_is_logged_and_the_port_goes_on,
);

const MAX: usize = DEFAULT_MAX_PACKET_SIZE;

/// What a [`Probe`] heard, in order.
#[derive(Clone, PartialEq, Eq)]
enum Heard {
    Started,
    Datagram(Vec<u8>, SocketAddr),
    Refused,
    Stopped,
}

type Log = Rc<RefCell<Vec<Heard>>>;
type OnDatagram = Box<dyn FnMut(&UdpPort, &[u8], SocketAddr)>;

/// A protocol that logs every call, then runs the test's hook.
struct Probe {
    port: Option<UdpPort>,
    log: Log,
    on_datagram: OnDatagram,
    on_refused: Box<dyn FnMut()>,
    on_stop: Box<dyn FnMut()>,
}

impl Probe {
    fn new(log: &Log) -> Probe {
        Probe {
            port: None,
            log: log.clone(),
            on_datagram: Box::new(|_, _, _| {}),
            on_refused: Box::new(|| {}),
            on_stop: Box::new(|| {}),
        }
    }

    fn on_datagram(mut self, f: impl FnMut(&UdpPort, &[u8], SocketAddr) + 'static) -> Probe {
        self.on_datagram = Box::new(f);
        self
    }

    /// Stops `reactor` at the first datagram.
    fn stopping(self, reactor: &Reactor) -> Probe {
        let reactor = reactor.clone();
        self.on_datagram(move |_, _, _| reactor.stop())
    }

    /// Writes every datagram back to its sender.
    fn echoing(self) -> Probe {
        self.on_datagram(|port, data, from| port.write(data, from).unwrap())
    }
}

impl DatagramProtocol for Probe {
    fn start_protocol(&mut self, port: UdpPort) {
        self.log.borrow_mut().push(Heard::Started);
        self.port = Some(port);
    }

    fn stop_protocol(&mut self) {
        self.log.borrow_mut().push(Heard::Stopped);
        (self.on_stop)();
    }

    fn datagram_received(&mut self, data: &[u8], from: SocketAddr) {
        let heard = Heard::Datagram(data.to_vec(), from);
        self.log.borrow_mut().push(heard);
        let port = self.port.as_ref().expect("start_protocol came first");
        (self.on_datagram)(port, data, from);
    }

    fn connection_refused(&mut self) {
        self.log.borrow_mut().push(Heard::Refused);
        (self.on_refused)();
    }
}

impl fmt::Debug for Heard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Heard::Started => f.write_str("Started"),
            Heard::Datagram(data, from) => {
                write!(f, "Datagram({:?}, {from})", String::from_utf8_lossy(data))
            }
            Heard::Refused => f.write_str("Refused"),
            Heard::Stopped => f.write_str("Stopped"),
        }
    }
}

fn datagram(data: &[u8], from: SocketAddr) -> Heard {
    Heard::Datagram(data.to_vec(), from)
}

/// Stops `ports`, checks that each stopped at once, and that the reactor is clean.
fn stop_all(reactor: &Reactor, ports: &[&UdpPort]) {
    for port in ports {
        let stopped: Deferred<()> = port.stop_listening();
        assert!(stopped.called(), "a UDP port stops at once");
    }
    assert_clean(reactor);
}

fn echo_over(reactor: &Reactor, interface: &str) {
    let (server_log, client_log) = (Log::default(), Log::default());
    let server = listen_udp(
        reactor,
        0,
        Probe::new(&server_log).echoing(),
        interface,
        MAX,
    )
    .unwrap();
    let client_probe = Probe::new(&client_log).stopping(reactor);
    let client = listen_udp(reactor, 0, client_probe, interface, MAX).unwrap();
    assert_eq!(server.host().ip().to_string(), interface);
    assert_ne!(server.port(), 0);
    client.write(b"hello", server.host()).unwrap();
    support::run(reactor);
    let hello = |from| vec![Heard::Started, datagram(b"hello", from)];
    assert_eq!(*server_log.borrow(), hello(client.host()));
    assert_eq!(*client_log.borrow(), hello(server.host()));
    stop_all(reactor, &[&server, &client]);
    assert_eq!(server_log.borrow().last(), Some(&Heard::Stopped));
    assert_eq!(client_log.borrow().last(), Some(&Heard::Stopped));
    assert_eq!(server.stats().received, 1);
}

fn udp_echo_over_ipv4_loopback(reactor: Reactor) {
    echo_over(&reactor, "127.0.0.1");
}

fn udp_echo_over_ipv6_loopback(reactor: Reactor) {
    if let Err(e) = UdpSocket::bind("[::1]:0") {
        println!("skipping udp_echo_over_ipv6_loopback: no IPv6 loopback here ([::1]: {e})");
        return;
    }
    echo_over(&reactor, "::1");
}

fn a_datagram_longer_than_max_packet_size_is_dropped_with_a_warning(reactor: Reactor) {
    let (server_log, client_log) = (Log::default(), Log::default());
    let stopper = reactor.clone();
    let server_probe = Probe::new(&server_log).on_datagram(move |_, data, _| {
        if data == b"end" {
            stopper.stop();
        }
    });
    let server = listen_udp(&reactor, 0, server_probe, "127.0.0.1", 16).unwrap();
    let client = listen_udp(&reactor, 0, Probe::new(&client_log), "127.0.0.1", MAX).unwrap();
    let to = server.host();
    for data in [&[b'x'; 17][..], &[b'y'; 16], &[b'z'; 1000], b"end"] {
        client.write(data, to).unwrap();
    }
    let (_, logs) = support::capture_logs(|| support::run(&reactor));
    let from = client.host();
    let expected = [
        Heard::Started,
        datagram(&[b'y'; 16], from),
        datagram(b"end", from),
    ];
    assert_eq!(*server_log.borrow(), expected);
    let stats = server.stats();
    assert_eq!((stats.received, stats.truncated), (2, 2));
    for n in ["(1 so far)", "(2 so far)"] {
        let parts = [
            &format!("udp {to}: dropped a datagram from {from}"),
            "longer than max_packet_size 16",
            n,
        ];
        support::assert_logged(&logs, Level::WARN, &parts);
    }
    stop_all(&reactor, &[&server, &client]);
}

fn connected_udp_writes_to_its_peer_without_an_address(reactor: Reactor) {
    let (server_log, client_log) = (Log::default(), Log::default());
    let server = listen_udp(
        &reactor,
        0,
        Probe::new(&server_log).echoing(),
        "127.0.0.1",
        MAX,
    )
    .unwrap();
    let client_probe = Probe::new(&client_log).stopping(&reactor);
    let client = listen_udp(&reactor, 0, client_probe, "127.0.0.1", MAX).unwrap();
    // A stranger's datagram is not delivered to a connected port.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(server.host()).unwrap();
    assert_eq!(client.peer(), Some(server.host()));
    stranger.send_to(b"not for you", client.host()).unwrap();
    client.write(b"ping", None).unwrap();
    support::run(&reactor);
    let expected = [Heard::Started, datagram(b"ping", server.host())];
    assert_eq!(*client_log.borrow(), expected);
    stop_all(&reactor, &[&server, &client]);
}

fn connected_udp_hears_connection_refused_from_a_closed_port(reactor: Reactor) {
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer = closed.local_addr().unwrap();
    drop(closed);
    let log = Log::default();
    let mut probe = Probe::new(&log);
    probe.on_refused = Box::new({
        let reactor = reactor.clone();
        move || reactor.stop()
    });
    let port = listen_udp(&reactor, 0, probe, "127.0.0.1", MAX).unwrap();
    port.connect(peer).unwrap();
    port.write(b"anyone there?", None).unwrap();
    support::run(&reactor);
    assert_eq!(*log.borrow(), [Heard::Started, Heard::Refused]);
    // The refusal was reported once; the port still works.
    let again = port.write(b"still there?", None);
    assert!(again.is_ok(), "{again:?}");
    stop_all(&reactor, &[&port]);
}

fn multicast_on_the_loopback_interface_reaches_the_group(reactor: Reactor) {
    let group = Ipv4Addr::new(239, 255, 73, 19);
    let (receiver_log, sender_log) = (Log::default(), Log::default());
    // Bound to the group's address, the receiver hears only the group's datagrams.
    let receiver_probe = Probe::new(&receiver_log).stopping(&reactor);
    let receiver =
        listen_multicast(&reactor, 0, receiver_probe, "239.255.73.19", MAX, true).unwrap();
    let sender = listen_udp(&reactor, 0, Probe::new(&sender_log), "127.0.0.1", MAX).unwrap();
    let set_up = receiver
        .join_group(group.into(), Ipv4Addr::LOCALHOST)
        .and_then(|()| sender.set_outgoing_interface(Ipv4Addr::LOCALHOST))
        .and_then(|()| sender.set_loopback_mode(true))
        .and_then(|()| sender.set_ttl(1))
        .and_then(|()| {
            sender.write(
                b"to the group",
                SocketAddr::new(group.into(), receiver.port()),
            )
        });
    if let Err(e) = set_up {
        println!("skipping multicast test: this machine does not allow multicast on lo ({e})");
        stop_all(&reactor, &[&receiver, &sender]);
        return;
    }
    assert_eq!(
        (sender.ttl().unwrap(), sender.loopback_mode().unwrap()),
        (1, true)
    );
    support::run(&reactor);
    let expected = [Heard::Started, datagram(b"to the group", sender.host())];
    assert_eq!(*receiver_log.borrow(), expected);
    receiver
        .leave_group(group.into(), Ipv4Addr::LOCALHOST)
        .unwrap();
    let err = receiver
        .leave_group(group.into(), Ipv4Addr::LOCALHOST)
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("leave group {group} on udp {}: ", receiver.host())),
        "{err}"
    );
    stop_all(&reactor, &[&receiver, &sender]);
}

fn ipv6_multicast_options_and_membership(reactor: Reactor) {
    if let Err(e) = UdpSocket::bind("[::1]:0") {
        println!("skipping ipv6_multicast_options_and_membership: no IPv6 loopback ({e})");
        return;
    }
    let log = Log::default();
    let port = listen_multicast(&reactor, 0, Probe::new(&log), "::", MAX, false).unwrap();
    port.set_ttl(3).unwrap();
    port.set_loopback_mode(false).unwrap();
    assert_eq!(
        (port.ttl().unwrap(), port.loopback_mode().unwrap()),
        (3, false)
    );
    port.set_outgoing_interface(0).unwrap();
    let group = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0x7319, 0x4242));
    let lo = std::fs::read_to_string("/sys/class/net/lo/ifindex")
        .ok()
        .and_then(|index| index.trim().parse::<u32>().ok());
    match lo.map(|index| (index, port.join_group(group, index))) {
        Some((index, Ok(()))) => port.leave_group(group, index).unwrap(),
        Some((_, Err(e))) => println!("skipping IPv6 group membership: {e}"),
        None => println!("skipping IPv6 group membership: no /sys/class/net/lo/ifindex"),
    }
    stop_all(&reactor, &[&port]);
}

fn stop_listening_closes_the_socket_and_stops_the_protocol_once(reactor: Reactor) {
    let log = Log::default();
    let port = listen_udp(&reactor, 0, Probe::new(&log), "127.0.0.1", MAX).unwrap();
    let host = port.host();
    assert!(port.is_listening());
    let stopped = port.stop_listening();
    assert!(matches!(stopped.try_result(), Ok(Ok(()))));
    assert!(!port.is_listening());
    assert!(
        port.stop_listening().called(),
        "stopping again is a fired no-op"
    );
    assert_eq!(*log.borrow(), [Heard::Started, Heard::Stopped]);
    let err = port.write(b"x", host).unwrap_err();
    assert!(matches!(err, UdpError::NotListening { .. }), "{err:?}");
    // The socket is closed: its address is free again.
    UdpSocket::bind(host).unwrap();
    assert_clean(&reactor);
}

fn stop_listening_inside_datagram_received_stops_after_it_returns(reactor: Reactor) {
    let (server_log, client_log) = (Log::default(), Log::default());
    let seen_inside = Rc::new(RefCell::new(None));
    let stopped = Rc::new(RefCell::new(None));
    let server_probe = Probe::new(&server_log).on_datagram({
        let (reactor, log, seen_inside, stopped) = (
            reactor.clone(),
            server_log.clone(),
            seen_inside.clone(),
            stopped.clone(),
        );
        move |port, _, _| {
            let d = port.stop_listening();
            // Not yet: stop_protocol waits for this call to return.
            *seen_inside.borrow_mut() = Some((d.called(), log.borrow().len()));
            *stopped.borrow_mut() = Some(d);
            reactor.stop();
        }
    });
    let server = listen_udp(&reactor, 0, server_probe, "127.0.0.1", MAX).unwrap();
    let client = listen_udp(&reactor, 0, Probe::new(&client_log), "127.0.0.1", MAX).unwrap();
    client.write(b"one", server.host()).unwrap();
    client.write(b"two", server.host()).unwrap();
    support::run(&reactor);
    assert_eq!(*seen_inside.borrow(), Some((false, 2)));
    let expected = [
        Heard::Started,
        datagram(b"one", client.host()),
        Heard::Stopped,
    ];
    assert_eq!(*server_log.borrow(), expected);
    let d = stopped.borrow_mut().take().unwrap();
    assert!(matches!(d.try_result(), Ok(Ok(()))));
    stop_all(&reactor, &[&server, &client]);
}

fn a_panicking_protocol_is_logged_and_the_port_goes_on(reactor: Reactor) {
    let (server_log, client_log) = (Log::default(), Log::default());
    let stopper = reactor.clone();
    let mut server_probe = Probe::new(&server_log).on_datagram(move |_, data, _| match data {
        b"boom" => panic!("boom in datagram_received"),
        _ => stopper.stop(),
    });
    server_probe.on_stop = Box::new(|| panic!("boom in stop_protocol"));
    let server = listen_udp(&reactor, 0, server_probe, "127.0.0.1", MAX).unwrap();
    let client = listen_udp(&reactor, 0, Probe::new(&client_log), "127.0.0.1", MAX).unwrap();
    let host = server.host();
    client.write(b"boom", host).unwrap();
    client.write(b"after", host).unwrap();
    let (_, logs) = support::capture_logs(|| {
        support::run(&reactor);
        stop_all(&reactor, &[&server, &client]);
    });
    let from = client.host();
    let expected = [
        Heard::Started,
        datagram(b"boom", from),
        datagram(b"after", from),
        Heard::Stopped,
    ];
    assert_eq!(*server_log.borrow(), expected);
    let panicked = |method: &str, message: &str| {
        let parts = [&format!("udp {host}: {method} panicked: ")[..], message];
        support::assert_logged(&logs, Level::ERROR, &parts);
    };
    panicked("datagram_received", "boom in datagram_received");
    panicked("stop_protocol", "boom in stop_protocol");
}
