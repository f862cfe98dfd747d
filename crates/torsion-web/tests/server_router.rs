//! Router over loopback: precedence, typed parameters, 404/405 with Allow, HEAD, a
//! catch-all, mounted resources, and patterns refused at start-up.

mod support;

use std::fs;
use std::rc::Rc;

use torsion_web::server::{
    File, FnResource, HttpError, Params, Render, Request, RouteError, Router, Tree,
};

use support::{with_server, Reader};

fn get(client: &mut Reader, method: &str, path: &str) -> support::Response {
    client.send(
        format!("{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    );
    client.response_to(method)
}

fn echo(name: &'static str) -> impl Fn(&Request, &Params) -> Render {
    move |_: &Request, params: &Params| {
        let found: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
        Render::from(format!("{name} {}", found.join(" ")))
    }
}

fn app() -> Router {
    let legacy = Tree::new();
    legacy.put_child(
        "old",
        Rc::new(FnResource::new(|_: &Request| Render::from("old page"))),
    );
    Router::new()
        .get("/", echo("home"))
        .get("/users/me", echo("me"))
        .get(
            "/users/{id}",
            |_: &Request, params: &Params| -> Result<Render, HttpError> {
                let id: u64 = params.get("id")?;
                Ok(Render::from(format!("user {id}")))
            },
        )
        .delete("/users/{id}", echo("delete"))
        .get("/users/{id}/posts/{post}", echo("post"))
        .get("/users/{id}/{*rest}", echo("user-rest"))
        .route(&["PUT", "PATCH"], "/items/{name}", echo("item"))
        .get("/files/{*path}", echo("files"))
        .get("/slash/", echo("with-slash"))
        .get("/slash", echo("without-slash"))
        .mount("/legacy", legacy)
}

#[test]
fn routes_match_by_precedence_not_by_order() {
    with_server(Rc::new(app()), |addr| {
        let mut client = Reader::connect(addr);
        let table = [
            ("GET", "/", 200, "home "),
            ("GET", "/users/me", 200, "me "),
            ("GET", "/users/42", 200, "user 42"),
            ("GET", "/users/42/posts/7", 200, "post id=42 post=7"),
            ("GET", "/users/42/posts", 200, "user-rest id=42 rest=posts"),
            ("GET", "/users/me/posts/7", 200, "post id=me post=7"),
            ("GET", "/users/42/a/b/c", 200, "user-rest id=42 rest=a/b/c"),
            ("DELETE", "/users/42", 200, "delete id=42"),
            ("PUT", "/items/caf%C3%A9", 200, "item name=café"),
            ("PATCH", "/items/x%2Fy", 200, "item name=x/y"),
            ("GET", "/files/", 200, "files path="),
            ("GET", "/files/a/b%20c.txt", 200, "files path=a/b c.txt"),
            ("GET", "/slash/", 200, "with-slash "),
            ("GET", "/slash", 200, "without-slash "),
            ("GET", "/legacy/old", 200, "old page"),
        ];
        for (method, path, status, body) in table {
            let response = get(&mut client, method, path);
            assert_eq!(
                (response.status, response.text()),
                (status, body.into()),
                "{method} {path}"
            );
        }
        let head = get(&mut client, "HEAD", "/users/42");
        assert_eq!((head.status, head.body.len()), (200, 0));
        assert_eq!(head.header("content-length").as_deref(), Some("7"));
    });
}

#[test]
fn bad_parameters_missing_routes_and_wrong_methods_get_their_status() {
    with_server(Rc::new(app()), |addr| {
        let mut client = Reader::connect(addr);
        let bad = get(&mut client, "GET", "/users/forty-two");
        assert_eq!(bad.status, 400);
        assert!(
            bad.text().contains("&quot;id&quot;") && bad.text().contains("u64"),
            "{}",
            bad.text()
        );
        for path in ["/nope", "/users", "/items", "/legacy/none", "/slash//"] {
            assert_eq!(get(&mut client, "GET", path).status, 404, "{path}");
        }
        let wrong = get(&mut client, "POST", "/users/42");
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.header("allow").as_deref(), Some("GET, DELETE, HEAD"));
        let put_only = get(&mut client, "GET", "/items/x");
        assert_eq!(put_only.status, 405);
        assert_eq!(put_only.header("allow").as_deref(), Some("PUT, PATCH"));
        let options = get(&mut client, "OPTIONS", "/users/42");
        assert_eq!(options.status, 204);
        assert_eq!(
            options.header("allow").as_deref(),
            Some("GET, DELETE, HEAD, OPTIONS")
        );
        assert_eq!(get(&mut client, "TRACE", "/users/42").status, 405);
        let mounted = get(&mut client, "POST", "/legacy/old");
        assert_eq!(mounted.status, 405);
        assert_eq!(mounted.header("allow").as_deref(), Some("GET, HEAD"));
        assert_eq!(get(&mut client, "GET", "/").status, 200, "still in step");
    });
}

#[test]
fn a_router_mounts_files_and_other_routers() {
    let dir = std::env::temp_dir().join(format!("torsion-web-router-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("style.css"), "body {}").unwrap();
    let api = Router::new().get("/status", echo("status"));
    let router = Router::new()
        .mount("/static", Rc::new(File::new(&dir).unwrap()))
        .mount("/api/v1", Rc::new(api))
        .get("/", echo("home"));
    with_server(Rc::new(router), |addr| {
        let mut client = Reader::connect(addr);
        let css = get(&mut client, "GET", "/static/style.css");
        assert_eq!((css.status, css.text()), (200, "body {}".into()));
        assert_eq!(
            css.header("content-type").as_deref(),
            Some("text/css; charset=utf-8")
        );
        assert_eq!(get(&mut client, "GET", "/static/none.css").status, 404);
        assert_eq!(get(&mut client, "GET", "/api/v1/status").text(), "status ");
        assert_eq!(get(&mut client, "GET", "/api/v1/other").status, 404);
        assert_eq!(get(&mut client, "GET", "/").text(), "home ");
    });
}

#[test]
fn invalid_patterns_and_conflicts_are_refused_when_added() {
    let mut router = Router::new();
    router
        .try_route(&["GET"], "/users/{id}", echo("a"))
        .unwrap();
    let cases: [(&[&'static str], &str); 7] = [
        (&["GET"], "users"),
        (&["GET"], "/users/{id"),
        (&["GET"], "/users/{}"),
        (&["GET"], "/users/x{id}"),
        (&["GET"], "/{*rest}/more"),
        (&["GET"], "/users/{id}"),
        (&["POST"], "/users/{name}"),
    ];
    let mut messages = Vec::new();
    for (methods, pattern) in cases {
        let error = router.try_route(methods, pattern, echo("b")).unwrap_err();
        messages.push(error.to_string());
    }
    assert_eq!(
        messages,
        [
            "invalid route pattern \"users\": it must start with '/'",
            "invalid route pattern \"/users/{id\": '{' without its '}' closing the segment",
            "invalid route pattern \"/users/{}\": a parameter needs a name of letters, digits and '_'",
            "invalid route pattern \"/users/x{id}\": '{' and '}' may only wrap a whole segment",
            "invalid route pattern \"/{*rest}/more\": a catch-all {*name} must be the last segment",
            "route \"/users/{id}\" conflicts with \"/users/{id}\"",
            "route \"/users/{name}\" conflicts with \"{id}\"",
        ]
    );
    // Another method on the same pattern is not a conflict.
    router
        .try_route(&["POST"], "/users/{id}", echo("c"))
        .unwrap();
    router.try_mount("/static", Tree::new()).unwrap();
    let twice = router.try_mount("/static/", Tree::new());
    assert!(
        matches!(twice, Err(RouteError::Conflict { .. })),
        "{twice:?}"
    );
    let under = router.try_route(&["GET"], "/static/{*rest}", echo("d"));
    assert!(
        matches!(under, Err(RouteError::Conflict { .. })),
        "{under:?}"
    );
}

#[test]
fn a_thousand_routes_build_and_answer() {
    let mut router = Router::new();
    for i in 0..1000 {
        router
            .try_route(&["GET"], &format!("/r{i}/{{id}}/items"), echo("many"))
            .unwrap();
    }
    with_server(Rc::new(router), |addr| {
        let mut client = Reader::connect(addr);
        assert_eq!(get(&mut client, "GET", "/r999/7/items").text(), "many id=7");
        assert_eq!(get(&mut client, "GET", "/r1000/7/items").status, 404);
    });
}
