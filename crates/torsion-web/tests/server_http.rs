//! The server end to end over loopback: keep-alive, pipelining in order, chunked bodies
//! both ways, 100-continue, HEAD, limits and every smuggling case (status, then close),
//! and a panicking resource.

mod support;

use std::rc::Rc;
use std::time::Duration;

use torsion::{Deferred, Reactor};
use torsion_web::server::{FnResource, Render, Request, Resource, ServerConfig, Tree};

use support::{answer_then_close, with_server, with_server_config, Reader};

/// A site with the resources these tests talk to.
fn site() -> Rc<dyn Resource> {
    let root = Tree::new();
    root.put_child(
        "hello",
        Rc::new(FnResource::new(|request: &Request| {
            request.set_header("Content-Type", "text/plain");
            Render::from("Hello, world!")
        })),
    );
    root.put_child(
        "echo",
        Rc::new(
            FnResource::new(|request: &Request| Render::from(request.take_body()))
                .with_methods(&["POST", "PUT"]),
        ),
    );
    root.put_child(
        "stream",
        Rc::new(FnResource::new(|request: &Request| {
            for piece in ["one ", "two ", "three"] {
                request.write(piece.as_bytes());
            }
            request.finish();
            Render::Later
        })),
    );
    root.put_child(
        "panic",
        Rc::new(FnResource::new(|_: &Request| -> Render {
            panic!("this resource is broken")
        })),
    );
    root.put_child(
        "small",
        Rc::new(SmallBody(FnResource::new(|request: &Request| {
            Render::from(request.take_body())
        }))),
    );
    root
}

/// A resource accepting bodies of at most 8 bytes.
struct SmallBody<F>(FnResource<F>);

impl<F: Fn(&Request) -> Render + 'static> Resource for SmallBody<F> {
    fn allowed_methods(&self) -> &[&'static str] {
        &["POST"]
    }
    fn max_body_size(&self) -> Option<u64> {
        Some(8)
    }
    fn render(&self, request: &Request) -> Render {
        self.0.render(request)
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    with_server(site(), |addr| {
        let mut client = Reader::connect(addr);
        for _ in 0..3 {
            client.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
            let response = client.response();
            assert_eq!(
                (response.status, response.text()),
                (200, "Hello, world!".into())
            );
            assert_eq!(response.header("content-length").as_deref(), Some("13"));
            assert_eq!(response.header("connection"), None);
            assert_eq!(response.header("date").map(|d| d.len()), Some(29));
        }
        // HTTP/1.0 without keep-alive, and Connection: close, end the connection.
        client.send(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let response = client.response();
        assert_eq!(response.header("connection").as_deref(), Some("close"));
        assert!(client.closed());
        let mut old = Reader::connect(addr);
        old.send(b"GET /hello HTTP/1.0\r\n\r\n");
        assert_eq!(old.response().status, 200);
        assert!(old.closed());
        let mut kept = Reader::connect(addr);
        kept.send(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(
            kept.response().header("connection").as_deref(),
            Some("keep-alive")
        );
        kept.send(b"GET /hello HTTP/1.0\r\n\r\n");
        assert_eq!(kept.response().status, 200);
        assert!(kept.closed());
    });
}

#[test]
fn pipelined_responses_keep_request_order_when_the_first_is_slow() {
    let reactor_slot = Rc::new(std::cell::RefCell::new(None));
    let root = Tree::new();
    let slot = reactor_slot.clone();
    root.put_child(
        "slow",
        Rc::new(FnResource::new(move |request: &Request| {
            let reactor: Reactor = slot.borrow().clone().expect("set up");
            let ms: u64 = request.arg("ms").and_then(|v| v.parse().ok()).unwrap_or(0);
            let name = request.arg("name").unwrap_or_default();
            let (body, resolver) = Deferred::<String>::new();
            reactor.call_later(Duration::from_millis(ms), move || {
                resolver.callback(name).unwrap();
            });
            Render::deferred(body)
        })),
    );
    let setup = move |reactor: &Reactor| *reactor_slot.borrow_mut() = Some(reactor.clone());
    with_server_config(root, ServerConfig::default(), setup, |addr| {
        let mut client = Reader::connect(addr);
        client.send(
            b"GET /slow?ms=200&name=first HTTP/1.1\r\nHost: t\r\n\r\n\
              GET /slow?ms=0&name=second HTTP/1.1\r\nHost: t\r\n\r\n\
              GET /slow?ms=50&name=third HTTP/1.1\r\nHost: t\r\n\r\n",
        );
        let names: Vec<String> = (0..3).map(|_| client.response().text()).collect();
        assert_eq!(names, ["first", "second", "third"]);
    });
}

#[test]
fn a_request_a_resource_keeps_is_not_reused_for_the_next_one() {
    // The connection reuses a finished request's memory for the next head only when no
    // one else holds it: requests kept here must keep their own method, target and
    // headers while later requests on the same connection are served.
    let kept: Rc<std::cell::RefCell<Vec<Request>>> = Rc::default();
    let root = Tree::new();
    let store = kept.clone();
    root.put_child(
        "keep",
        Rc::new(FnResource::new(move |request: &Request| {
            if request.arg("keep").is_some() {
                store.borrow_mut().push(request.clone());
            }
            let seen: Vec<String> = store
                .borrow()
                .iter()
                .map(|r| {
                    let tag = r.header("x-tag").unwrap_or_default();
                    format!(
                        "{} {} {}",
                        r.method(),
                        r.uri(),
                        String::from_utf8_lossy(tag)
                    )
                })
                .collect();
            Render::from(seen.join(","))
        })),
    );
    with_server(root, |addr| {
        let mut client = Reader::connect(addr);
        // Pipelined and one at a time, kept and not kept, in turn.
        client.send(
            b"GET /keep?keep=1 HTTP/1.1\r\nHost: t\r\nX-Tag: a\r\n\r\n\
              GET /keep?n=2 HTTP/1.1\r\nHost: t\r\nX-Tag: b\r\n\r\n",
        );
        assert_eq!(client.response().text(), "GET /keep?keep=1 a");
        assert_eq!(client.response().text(), "GET /keep?keep=1 a");
        client.send(
            b"GET /keep?keep=2&long=xxxxxxxxxxxxxxxxxxxx HTTP/1.1\r\nHost: t\r\nX-Tag: c\r\n\r\n",
        );
        assert_eq!(
            client.response().text(),
            "GET /keep?keep=1 a,GET /keep?keep=2&long=xxxxxxxxxxxxxxxxxxxx c"
        );
        for tag in ["d", "e", "f"] {
            client
                .send(format!("GET /keep HTTP/1.1\r\nHost: t\r\nX-Tag: {tag}\r\n\r\n").as_bytes());
            assert_eq!(
                client.response().text(),
                "GET /keep?keep=1 a,GET /keep?keep=2&long=xxxxxxxxxxxxxxxxxxxx c"
            );
        }
    });
}

#[test]
fn a_constant_field_with_cr_lf_is_refused_on_every_response() {
    // Constant fields are checked once per thread and remembered; a refused one must
    // not be remembered as good.
    let root = Tree::new();
    root.put_child(
        "fields",
        Rc::new(FnResource::new(|request: &Request| {
            request.set_header("Content-Type", "text/plain");
            if request.arg("bad").is_some() {
                request.set_header("X-Bad", "a\r\nInjected: yes");
            }
            Render::from("fine")
        })),
    );
    with_server(root, |addr| {
        for _ in 0..3 {
            let mut client = Reader::connect(addr);
            client.send(b"GET /fields HTTP/1.1\r\nHost: t\r\n\r\n");
            let good = client.response();
            assert_eq!((good.status, good.text()), (200, "fine".into()));
            assert_eq!(good.header("content-type").as_deref(), Some("text/plain"));
            client.send(b"GET /fields?bad=1 HTTP/1.1\r\nHost: t\r\n\r\n");
            let bad = client.response();
            assert_eq!(bad.status, 500);
            assert_eq!(bad.header("injected"), None);
            assert_eq!(bad.header("x-bad"), None);
        }
    });
}

#[test]
fn chunked_bodies_in_and_out() {
    with_server(site(), |addr| {
        let mut client = Reader::connect(addr);
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: yes\r\n\r\n",
        );
        let response = client.response_to("POST");
        assert_eq!(
            (response.status, response.text()),
            (200, "hello world".into())
        );
        client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
        let response = client.response();
        assert_eq!(
            response.header("transfer-encoding").as_deref(),
            Some("chunked")
        );
        assert_eq!(response.text(), "one two three");
        // HTTP/1.0 cannot take chunks: the body runs until the server closes.
        client.send(b"GET /stream HTTP/1.0\r\n\r\n");
        let rest = String::from_utf8(client.rest()).unwrap();
        assert!(rest.starts_with("HTTP/1.0 200 OK\r\n"), "{rest}");
        assert!(!rest.contains("Transfer-Encoding") && rest.ends_with("\r\n\r\none two three"));
    });
}

#[test]
fn continue_is_sent_only_when_the_body_will_be_read() {
    with_server(site(), |addr| {
        let mut client = Reader::connect(addr);
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        );
        assert_eq!(client.response_to("POST").status, 100);
        client.send(b"body");
        assert_eq!(client.response_to("POST").text(), "body");
        // No 100 for a missing resource, a refused method or a body too large: the final
        // status at once, and the connection closes with the body unread.
        let refused: [(&[u8], u16); 3] = [
            (b"POST /nowhere HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 404),
            (b"POST /hello HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 405),
            (b"POST /small HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n", 413),
        ];
        for (request, status) in refused {
            let mut client = Reader::connect(addr);
            client.send(request);
            let response = client.response_to("POST");
            assert_eq!(response.status, status);
            assert_eq!(response.header("connection").as_deref(), Some("close"));
            assert!(client.closed());
        }
    });
}

#[test]
fn head_gets_the_get_length_and_no_body() {
    with_server(site(), |addr| {
        let mut client = Reader::connect(addr);
        client
            .send(b"HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        let head = client.response_to("HEAD");
        assert_eq!((head.status, head.body.len()), (200, 0));
        assert_eq!(head.header("content-length").as_deref(), Some("13"));
        assert_eq!(client.response().text(), "Hello, world!"); // nothing was sent between
        client.send(
            b"HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
        );
        assert_eq!(client.response_to("HEAD").body.len(), 0);
        assert_eq!(client.response().text(), "Hello, world!");
    });
}

#[test]
fn missing_resources_and_methods_are_404_and_405_with_allow() {
    with_server(site(), |addr| {
        let mut client = Reader::connect(addr);
        client.send(b"GET /nowhere/<script> HTTP/1.1\r\nHost: t\r\n\r\n");
        let response = client.response();
        assert_eq!(response.status, 404);
        assert!(!response.text().contains("<script>"));
        client.send(b"DELETE /echo HTTP/1.1\r\nHost: t\r\n\r\n");
        let response = client.response();
        assert_eq!(response.status, 405);
        assert_eq!(response.header("allow").as_deref(), Some("POST, PUT"));
        client.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(client.response().status, 200, "the connection stays usable");
    });
}

#[test]
fn options_lists_the_methods_and_trace_is_refused() {
    with_server(site(), |addr| {
        let mut client = Reader::connect(addr);
        client.send(b"OPTIONS /echo HTTP/1.1\r\nHost: t\r\n\r\n");
        let response = client.response();
        assert_eq!((response.status, response.body.len()), (204, 0));
        assert_eq!(
            response.header("allow").as_deref(),
            Some("POST, PUT, OPTIONS")
        );
        client.send(b"OPTIONS /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        let response = client.response();
        assert_eq!(
            response.header("allow").as_deref(),
            Some("GET, HEAD, OPTIONS")
        );
        client.send(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
        let response = client.response();
        assert_eq!(response.status, 204);
        assert!(response
            .header("allow")
            .is_some_and(|a| a.contains("OPTIONS")));
        client.send(b"TRACE /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        let response = client.response();
        assert_eq!(response.status, 405);
        assert_eq!(response.header("allow").as_deref(), Some("GET, HEAD"));
        client.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(client.response().status, 200, "the connection stays usable");
    });
}

#[test]
fn a_panicking_resource_gets_500_for_that_request_only() {
    let (result, logs) = torsion::testing::capture_logs(|| {
        with_server(site(), |addr| {
            let mut client = Reader::connect(addr);
            client.send(
                b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
            );
            let broken = client.response();
            let fine = client.response();
            (broken.status, fine.status, fine.text())
        })
    });
    assert_eq!(result, (500, 200, "Hello, world!".to_owned()));
    assert!(
        logs.iter()
            .any(|e| e.message.contains("this resource is broken")),
        "{logs:?}"
    );
}

#[test]
fn limits_answer_their_status_and_close() {
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let big_field = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "b".repeat(70_000)
    );
    let many_fields = format!(
        "GET / HTTP/1.1\r\nHost: t\r\n{}\r\n",
        "X: y\r\n".repeat(101)
    );
    let big_chunk_line = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;{}\r\n",
        "e".repeat(5000)
    );
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (long_target.into_bytes(), 414),
        (big_field.into_bytes(), 431),
        (many_fields.into_bytes(), 431),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10485761\r\n\r\n".to_vec(), 413),
        (b"POST /small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n0\r\n\r\n".to_vec(), 413),
        (big_chunk_line.into_bytes(), 400),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec(), 501),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_vec(), 505),
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
    ];
    with_server(site(), move |addr| {
        for (request, status) in cases {
            let got = answer_then_close(addr, &request);
            assert_eq!(
                got,
                (status, true),
                "{}",
                String::from_utf8_lossy(&request[..60.min(request.len())])
            );
        }
    });
}

#[test]
fn each_smuggling_case_is_400_then_close() {
    let cases: &[&[u8]] = &[
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0x5\r\n\r\nhello",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5 5\r\n\r\nhello",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 18446744073709551616\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n",
        b"GET /hello HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n",
        b"GET /hello HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n",
        b"GET /hello HTTP/1.1\r\nHost: t\r\nContent-Length : 0\r\n\r\n",
        b"GET /hello HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n",
        b"GET /hello HTTP/1.1\nHost: t\n\n",
        b"GET /hello HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n",
    ];
    with_server(site(), move |addr| {
        for request in cases {
            let got = answer_then_close(addr, request);
            assert_eq!(got, (400, true), "{}", String::from_utf8_lossy(request));
        }
    });
}
