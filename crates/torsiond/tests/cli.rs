//! The `torsiond` command from outside: option errors, a served file with its access
//! line and JSON log lines, and the exit code after SIGTERM. Loopback, port 0, and every
//! wait bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TORSIOND: &str = env!("CARGO_BIN_EXE_torsiond");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("torsiond-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs torsiond to completion (it must end on its own: a usage error).
fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(TORSIOND)
        .args(args)
        .env_remove("NOTIFY_SOCKET")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn bad_options_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["finger", "--user", "moshez"],
            "\"moshez\": expected NAME=TEXT",
        ),
        (&["web", "--listen", "tcp:notaport"], "tcp:notaport"),
        (&["portforward", "--listen", "tcp:0"], "--dest <ENDPOINT>"),
        (&["--reactor", "kqueue", "echo"], "kqueue"),
        (
            &["--drain-timeout=-1", "echo"],
            "must be zero or more seconds",
        ),
        (
            &["--drain-timeout", "soon", "echo"],
            "\"soon\" is not a number of seconds",
        ),
        (&["gopher"], "unrecognized subcommand 'gopher'"),
        (&[], "Usage: torsiond"),
    ];
    for (args, expected) in cases {
        let (code, text) = run(args);
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(text.contains(expected), "{args:?}: {text}");
    }
}

#[test]
fn help_lists_every_plugin() {
    let (code, text) = run(&["--help"]);
    assert_eq!(code, 0);
    for plugin in ["web", "echo", "finger", "portforward", "hello"] {
        assert!(text.contains(&format!("  {plugin} ")), "{plugin}: {text}");
    }
    let (code, text) = run(&["web", "--help"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("--path <DIR>") && text.contains("--listing"),
        "{text}"
    );
}

#[test]
fn a_path_that_does_not_exist_exits_1_naming_it() {
    let (code, text) = run(&[
        "web",
        "--path",
        "/nonexistent/torsiond",
        "--listen",
        "tcp:0:interface=127.0.0.1",
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("web: --path /nonexistent/torsiond"), "{text}");
}

/// A running torsiond and the address from its first line.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(TORSIOND)
            .args(args)
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let address = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {first:?}"))
            .to_owned();
        Server { child, address }
    }

    fn get(&self, path: &str) -> String {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    /// SIGTERM, then the exit code.
    fn stop(mut self) -> i32 {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

fn wait_for_lines(path: &Path, lines: usize) -> String {
    // The file is written before the response's last byte leaves; the server stopped
    // (waited for) before this is read, so it is complete.
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(text.lines().count() >= lines, "{}: {text}", path.display());
    text
}

#[test]
fn web_serves_a_file_logs_json_and_access_lines_and_exits_0_on_sigterm() {
    let dir = temp_dir("web");
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/fox.txt"), "the quick brown fox\n").unwrap();
    let (log, access) = (dir.join("log.json"), dir.join("access.log"));
    let server = Server::start(&[
        "--log-format",
        "json",
        "--logfile",
        log.to_str().unwrap(),
        "--access-log",
        access.to_str().unwrap(),
        "web",
        "--path",
        dir.join("www").to_str().unwrap(),
        "--listen",
        "tcp:0:interface=127.0.0.1",
    ]);
    let response = server.get("/fox.txt");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.ends_with("\r\n\r\nthe quick brown fox\n"),
        "{response}"
    );
    assert_eq!(server.stop(), 0);
    let access = wait_for_lines(&access, 1);
    assert!(
        access.starts_with("127.0.0.1 - - [")
            && access.contains("] \"GET /fox.txt HTTP/1.1\" 200 20 \"-\" \"-\"\n"),
        "{access}"
    );
    let log = wait_for_lines(&log, 3);
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages: Vec<&str> = events
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("listening on 127.0.0.1:")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("SIGTERM: draining")),
        "{messages:?}"
    );
    assert!(messages.contains(&"stopped"), "{messages:?}");
    assert!(
        !messages.iter().any(|m| m.contains("GET /fox.txt")),
        "access lines stay out of the main log"
    );
    for event in &events {
        assert!(
            event["timestamp"].is_string()
                && event["level"].is_string()
                && event["target"].is_string(),
            "{event}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hello_answers_every_path_behind_a_proxy_header() {
    let server = Server::start(&[
        "--reactor",
        "poll",
        "hello",
        "--listen",
        "haproxy:tcp:0:interface=127.0.0.1",
    ]);
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\nGET /any HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.ends_with("Hello, world!"), "{response}");
    // Without the header: closed at once, nothing answered.
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest); // a reset is an error here, and fine
    assert!(rest.is_empty());
    assert_eq!(server.stop(), 0);
}
