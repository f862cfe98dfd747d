//! CookieAgent on loopback: cookies set by one response go back on the next request,
//! across a redirect chain, and only where their domain and path say.

mod client_support;

use torsion_web::client::{
    Agent, Body, CookieAgent, CookieJar, HttpClient, RedirectAgent, RequestHeaders, Requester,
    Response,
};

use client_support::{ok, reactor, response, wait, Reply, Server};

#[test]
fn cookies_set_by_responses_are_sent_back_across_redirects() {
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| match seen.target.as_str() {
        "/login" => Reply::Bytes(response(
            302,
            &[
                ("Set-Cookie", "session=s3cr3t; Path=/; HttpOnly"),
                ("Set-Cookie", "area=admin; Path=/admin"),
                ("Location", "/home"),
            ],
            b"",
        )),
        "/logout" => Reply::Bytes(response(
            200,
            &[("Set-Cookie", "session=; Max-Age=0; Path=/")],
            b"bye",
        )),
        _ => ok(seen.header("cookie").unwrap_or("(none)").as_bytes()),
    });
    let jar = CookieJar::new();
    let inner = Agent::new(&reactor);
    let agent = RedirectAgent::new(CookieAgent::new(inner.clone(), jar.clone()));
    let fetch = |path: &str| {
        let body = agent
            .request("GET", &server.url(path), RequestHeaders::new(), Body::Empty)
            .add_callback(|response: Response| response.text());
        wait(&reactor, body).unwrap()
    };
    assert_eq!(fetch("/home"), "(none)");
    // The redirect's cookies are stored and sent on the very next hop.
    assert_eq!(fetch("/login"), "session=s3cr3t");
    assert_eq!(fetch("/admin/panel"), "area=admin; session=s3cr3t");
    assert_eq!(fetch("/logout"), "bye");
    assert_eq!(fetch("/admin/panel"), "area=admin");
    let cookies: Vec<String> = server
        .requests()
        .iter()
        .map(|seen| format!("{} {}", seen.target, seen.header("cookie").unwrap_or("-")))
        .collect();
    assert_eq!(
        cookies,
        [
            "/home -",
            "/login -",
            "/home session=s3cr3t",
            "/admin/panel area=admin; session=s3cr3t",
            "/logout session=s3cr3t",
            "/admin/panel area=admin",
        ]
    );
    wait(&reactor, inner.close_cached_connections()).unwrap();
    server.finish();
}

#[test]
fn a_request_with_its_own_cookie_field_is_sent_as_it_is() {
    let reactor = reactor();
    let server = Server::start(&reactor, |seen| {
        Reply::Bytes(response(
            200,
            &[("Set-Cookie", "jar=1")],
            seen.header("cookie").unwrap_or("(none)").as_bytes(),
        ))
    });
    let jar = CookieJar::new();
    let inner = Agent::new(&reactor);
    let client = HttpClient::with_agent(CookieAgent::new(inner.clone(), jar.clone()));
    let first = client
        .get(&server.url("/"))
        .add_callback(|r: Response| r.text());
    assert_eq!(wait(&reactor, first).unwrap(), "(none)");
    let own = client
        .request(
            "GET",
            &server.url("/"),
            RequestHeaders::new().with("Cookie", "mine=2"),
            Body::Empty,
        )
        .add_callback(|r: Response| r.text());
    assert_eq!(wait(&reactor, own).unwrap(), "mine=2");
    let again = client
        .get(&server.url("/"))
        .add_callback(|r: Response| r.text());
    assert_eq!(wait(&reactor, again).unwrap(), "jar=1");
    wait(&reactor, inner.close_cached_connections()).unwrap();
    server.finish();
}
