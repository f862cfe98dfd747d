//! `File` over loopback: ranges, 304, listings, and paths that try to leave the root.

mod support;

use std::fs;
use std::path::PathBuf;
use std::rc::Rc;

use torsion_web::server::{File, Tree};

use support::{with_server, Reader};

/// A fresh directory for one test: `root/` with files, and `outside/secret` beside it.
fn tree(name: &str) -> PathBuf {
    let base =
        std::env::temp_dir().join(format!("torsion-web-static-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    let root = base.join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::create_dir_all(base.join("outside")).unwrap();
    fs::write(base.join("outside/secret"), "secret").unwrap();
    fs::write(root.join("hello.txt"), "hello, file\n").unwrap();
    fs::write(root.join("<b>&.txt"), "tricky").unwrap();
    fs::write(root.join("sub/index.html"), "<p>index</p>").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(root.join("big.bin"), big).unwrap();
    std::os::unix::fs::symlink(base.join("outside/secret"), root.join("escape")).unwrap();
    std::os::unix::fs::symlink(base.join("outside"), root.join("out")).unwrap();
    root
}

fn get(client: &mut Reader, path: &str, extra: &str) -> support::Response {
    client.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes());
    client.response()
}

#[test]
fn files_ranges_and_conditional_requests() {
    let root = tree("files");
    let files = File::new(&root).unwrap();
    with_server(Rc::new(files), |addr| {
        let mut client = Reader::connect(addr);
        let whole = get(&mut client, "/hello.txt", "");
        assert_eq!((whole.status, whole.text()), (200, "hello, file\n".into()));
        assert_eq!(
            whole.header("content-type").as_deref(),
            Some("text/plain; charset=utf-8")
        );
        let modified = whole.header("last-modified").expect("Last-Modified");
        let part = get(&mut client, "/hello.txt", "Range: bytes=7-10\r\n");
        assert_eq!((part.status, part.text()), (206, "file".into()));
        assert_eq!(
            part.header("content-range").as_deref(),
            Some("bytes 7-10/12")
        );
        let tail = get(&mut client, "/hello.txt", "Range: bytes=-5\r\n");
        assert_eq!((tail.status, tail.text()), (206, "file\n".into()));
        let past = get(&mut client, "/hello.txt", "Range: bytes=12-\r\n");
        assert_eq!(past.status, 416);
        assert_eq!(past.header("content-range").as_deref(), Some("bytes */12"));
        let several = get(&mut client, "/hello.txt", "Range: bytes=0-1,3-4\r\n");
        assert_eq!(several.status, 200);
        let same = get(
            &mut client,
            "/hello.txt",
            &format!("If-Modified-Since: {modified}\r\n"),
        );
        assert_eq!((same.status, same.body.len()), (304, 0));
        let old = "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
        assert_eq!(get(&mut client, "/hello.txt", old).status, 200);
        // A large file goes through the producer, whole and in order, on the same connection.
        let big = get(&mut client, "/big.bin", "");
        assert_eq!(big.body.len(), 3_000_000);
        assert!(big
            .body
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i % 251) as u8));
        let middle = get(&mut client, "/big.bin", "Range: bytes=1000000-1999999\r\n");
        assert_eq!((middle.status, middle.body.len()), (206, 1_000_000));
        assert_eq!(middle.body[0], (1_000_000 % 251) as u8);
        client.send(b"HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        let head = client.response_to("HEAD");
        assert_eq!(head.header("content-length").as_deref(), Some("3000000"));
        assert_eq!(
            get(&mut client, "/hello.txt", "").status,
            200,
            "still in step"
        );
    });
}

#[test]
fn paths_that_try_to_leave_the_root_are_refused() {
    let root = tree("escape");
    let site = Tree::new();
    site.put_child("files", Rc::new(File::new(&root).unwrap()));
    with_server(site, |addr| {
        let mut client = Reader::connect(addr);
        for path in [
            "/files/../outside/secret",
            "/files/%2e%2e/outside/secret",
            "/files/%2E%2E/outside/secret",
            "/files/..%2foutside%2fsecret",
            "/files/sub/../../outside/secret",
            "/files/escape",
            "/files/out/secret",
            "/files/%00",
            "/files/./hello.txt",
        ] {
            let response = get(&mut client, path, "");
            assert_eq!(response.status, 404, "{path}");
            assert!(!response.text().contains("secret"), "{path}");
        }
    });
}

#[test]
fn directories_redirect_list_escaped_or_refuse() {
    let root = tree("dirs");
    let site = Tree::new();
    site.put_child(
        "listed",
        Rc::new(File::new(&root).unwrap().with_directory_listing(true)),
    );
    site.put_child("hidden", Rc::new(File::new(&root).unwrap()));
    with_server(site, |addr| {
        let mut client = Reader::connect(addr);
        let redirect = get(&mut client, "/listed", "");
        assert_eq!(redirect.status, 302);
        assert_eq!(redirect.header("location").as_deref(), Some("/listed/"));
        let listing = get(&mut client, "/listed/", "");
        assert_eq!(listing.status, 200);
        let page = listing.text();
        assert!(
            page.contains("&lt;b&gt;&amp;.txt") && !page.contains("<b>"),
            "{page}"
        );
        assert!(page.contains("href=\"%3Cb%3E%26.txt\""), "{page}");
        assert_eq!(get(&mut client, "/listed/sub/", "").text(), "<p>index</p>");
        assert_eq!(get(&mut client, "/hidden/", "").status, 403);
        let odd = get(&mut client, "/listed/%3Cscript%3E", "");
        assert_eq!(odd.status, 404);
        assert!(!odd.text().contains("<script>"));
    });
}

#[test]
fn entity_tags_answer_304_412_and_keep_ranges_to_the_same_file() {
    let root = tree("etags");
    let files = File::new(&root).unwrap();
    with_server(Rc::new(files), move |addr| {
        let mut client = Reader::connect(addr);
        let whole = get(&mut client, "/hello.txt", "");
        let etag = whole.header("etag").expect("ETag");
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let modified = whole.header("last-modified").expect("Last-Modified");

        let same = get(
            &mut client,
            "/hello.txt",
            &format!("If-None-Match: {etag}\r\n"),
        );
        assert_eq!((same.status, same.body.len()), (304, 0));
        assert_eq!(same.header("etag").as_deref(), Some(&etag[..]));
        let star = get(&mut client, "/hello.txt", "If-None-Match: *\r\n");
        assert_eq!(star.status, 304);
        let other = get(&mut client, "/hello.txt", "If-None-Match: \"nope\"\r\n");
        assert_eq!((other.status, other.text()), (200, "hello, file\n".into()));
        // If-None-Match wins over a matching If-Modified-Since.
        let both = format!("If-None-Match: \"nope\"\r\nIf-Modified-Since: {modified}\r\n");
        assert_eq!(get(&mut client, "/hello.txt", &both).status, 200);

        let matching = get(&mut client, "/hello.txt", &format!("If-Match: {etag}\r\n"));
        assert_eq!(matching.status, 200);
        let stale = get(&mut client, "/hello.txt", "If-Match: \"nope\"\r\n");
        assert_eq!(stale.status, 412);
        let old = "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
        assert_eq!(get(&mut client, "/hello.txt", old).status, 412);

        // The obsolete date forms are read too (RFC 9110 §5.6.7).
        let rfc850 = "If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT\r\n";
        assert_eq!(get(&mut client, "/hello.txt", rfc850).status, 200);
        let future_asctime = "If-Modified-Since: Thu Jan  1 00:00:00 2099\r\n";
        assert_eq!(get(&mut client, "/hello.txt", future_asctime).status, 304);

        let resume = format!("Range: bytes=7-\r\nIf-Range: {etag}\r\n");
        let part = get(&mut client, "/hello.txt", &resume);
        assert_eq!((part.status, part.text()), (206, "file\n".into()));
        let by_date = format!("Range: bytes=7-\r\nIf-Range: {modified}\r\n");
        assert_eq!(get(&mut client, "/hello.txt", &by_date).status, 206);

        // The file changes: the old tag no longer names it, so a resumed download gets
        // the whole new file with 200, never a piece of it spliced onto the old one.
        fs::write(root.join("hello.txt"), "HELLO, CHANGED FILE\n").unwrap();
        let changed = get(&mut client, "/hello.txt", &resume);
        assert_eq!(
            (changed.status, changed.text()),
            (200, "HELLO, CHANGED FILE\n".into())
        );
        assert_ne!(changed.header("etag").as_deref(), Some(&etag[..]));
        assert_eq!(changed.header("content-range"), None);
        let stale_again = get(
            &mut client,
            "/hello.txt",
            &format!("If-None-Match: {etag}\r\n"),
        );
        assert_eq!(stale_again.status, 200);
    });
}

#[test]
fn hidden_files_are_neither_served_nor_listed_unless_asked() {
    use std::os::unix::ffi::OsStrExt;

    let root = tree("hidden");
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::write(root.join(".git/config"), "[core]").unwrap();
    fs::write(root.join(".env"), "PASSWORD=x").unwrap();
    // A name that is not UTF-8 (Latin-1 "café.txt").
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    fs::write(root.join(latin1), "latin-1 name").unwrap();
    let site = Tree::new();
    site.put_child(
        "plain",
        Rc::new(File::new(&root).unwrap().with_directory_listing(true)),
    );
    site.put_child(
        "all",
        Rc::new(
            File::new(&root)
                .unwrap()
                .with_directory_listing(true)
                .with_hidden_files(true),
        ),
    );
    with_server(site, |addr| {
        let mut client = Reader::connect(addr);
        for path in [
            "/plain/.env",
            "/plain/.git/config",
            "/plain/%2eenv",
            "/plain/.git/",
        ] {
            let response = get(&mut client, path, "");
            assert_eq!(response.status, 404, "{path}");
            assert!(!response.text().contains("PASSWORD"), "{path}");
        }
        let listing = get(&mut client, "/plain/", "").text();
        assert!(
            !listing.contains(".env") && !listing.contains(".git"),
            "{listing}"
        );
        assert!(listing.contains("href=\"caf%E9.txt\""), "{listing}");
        assert_eq!(
            get(&mut client, "/plain/caf%E9.txt", "").text(),
            "latin-1 name"
        );

        assert_eq!(get(&mut client, "/all/.env", "").text(), "PASSWORD=x");
        assert_eq!(get(&mut client, "/all/.git/config", "").text(), "[core]");
        let everything = get(&mut client, "/all/", "").text();
        assert!(everything.contains("href=\".env\""), "{everything}");
    });
}
