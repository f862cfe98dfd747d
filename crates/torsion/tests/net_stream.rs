//! Async streams: a client and a server written as `async` code over real sockets.

mod support;

use std::{cell::RefCell, rc::Rc};

use torsion::{
    net::{
        stream::{connect_tcp_stream, stream_protocol},
        StreamNetwork, TcpListenOptions,
    },
    Reactor,
};

use support::net::{drain, factory};

each_backend!(an_async_client_talks_to_an_async_echo_server);

fn an_async_client_talks_to_an_async_echo_server(reactor: Reactor) {
    let server_reactor = reactor.clone();
    let port = reactor
        .listen_tcp(
            0,
            Rc::new(factory(move || {
                let reactor = server_reactor.clone();
                stream_protocol(move |stream| {
                    reactor.spawn(async move {
                        let mut buf = vec![0; 4096];
                        loop {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => stream.write_all(&buf[..n]).await.unwrap(),
                            }
                        }
                        stream.close();
                    });
                })
            })),
            TcpListenOptions::default().interface("127.0.0.1"),
        )
        .unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    let (client_reactor, got2, to) = (reactor.clone(), got.clone(), port.port());
    reactor.spawn(async move {
        let stream = connect_tcp_stream(&client_reactor, "127.0.0.1", to)
            .await
            .unwrap();
        let message = vec![b'a'; 1 << 20];
        stream.write_all(&message).await.unwrap();
        stream.shutdown();
        let mut buf = vec![0; 8192];
        loop {
            match stream.read(&mut buf).await.unwrap() {
                0 => break,
                n => got2.borrow_mut().extend_from_slice(&buf[..n]),
            }
        }
        client_reactor.stop();
    });
    support::run(&reactor);
    assert_eq!(got.borrow().len(), 1 << 20);
    drain(&reactor, &port);
}
