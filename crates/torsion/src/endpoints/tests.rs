//! Tables of endpoint strings: each accepted form with its value and its `Display`, and
//! each refused string with its exact message.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn tcp(port: u16, interface: &str, backlog: u32) -> ServerEndpoint {
    ServerEndpoint::Tcp {
        port,
        interface: interface.parse::<IpAddr>().unwrap(),
        backlog,
    }
}

fn unix(path: &str, mode: u32, backlog: u32, lockfile: bool) -> ServerEndpoint {
    ServerEndpoint::Unix {
        path: PathBuf::from(path),
        mode,
        backlog,
        lockfile,
    }
}

fn systemd(domain: Domain, socket: Inherited) -> ServerEndpoint {
    ServerEndpoint::Systemd { domain, socket }
}

fn tcp_client(host: &str, port: u16, timeout: u64, bind: Option<&str>) -> ClientEndpoint {
    ClientEndpoint::Tcp {
        host: host.to_owned(),
        port,
        timeout: Duration::from_secs(timeout),
        bind_address: bind.map(str::to_owned),
    }
}

fn unix_client(path: &str, timeout: Duration, check_pid: bool) -> ClientEndpoint {
    ClientEndpoint::Unix {
        path: PathBuf::from(path),
        timeout,
        check_pid,
    }
}

fn tls(prefix: TlsPrefix, arguments: &[&str], keywords: &[(&str, &str)]) -> TlsDescription {
    TlsDescription {
        prefix,
        arguments: arguments.iter().map(|a| a.to_string()).collect(),
        keywords: keywords
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// (input, parsed value, what `Display` writes for it)
fn server_cases() -> Vec<(&'static str, ServerEndpoint, &'static str)> {
    vec![
        (
            "tcp:8080",
            tcp(8080, "0.0.0.0", DEFAULT_BACKLOG),
            "tcp:8080",
        ),
        ("tcp:0", tcp(0, "0.0.0.0", DEFAULT_BACKLOG), "tcp:0"),
        ("TCP:80", tcp(80, "0.0.0.0", DEFAULT_BACKLOG), "tcp:80"),
        (
            "tcp:port=8080",
            tcp(8080, "0.0.0.0", DEFAULT_BACKLOG),
            "tcp:8080",
        ),
        (
            "tcp:port=8080:interface=127.0.0.1",
            tcp(8080, "127.0.0.1", DEFAULT_BACKLOG),
            "tcp:8080:interface=127.0.0.1",
        ),
        (
            "tcp:interface=127.0.0.1:8080",
            tcp(8080, "127.0.0.1", DEFAULT_BACKLOG),
            "tcp:8080:interface=127.0.0.1",
        ),
        (
            "tcp:80:127.0.0.1:7",
            tcp(80, "127.0.0.1", 7),
            "tcp:80:interface=127.0.0.1:backlog=7",
        ),
        (
            "tcp:80:backlog=128",
            tcp(80, "0.0.0.0", 128),
            "tcp:80:backlog=128",
        ),
        (
            "tcp:80:interface=",
            tcp(80, "0.0.0.0", DEFAULT_BACKLOG),
            "tcp:80",
        ),
        ("tcp:80:", tcp(80, "0.0.0.0", DEFAULT_BACKLOG), "tcp:80"),
        (
            "tcp:80:interface=\\:\\:1",
            tcp(80, "::1", DEFAULT_BACKLOG),
            "tcp6:80:interface=\\:\\:1",
        ),
        (
            "tcp:80:interface=\\:\\:",
            tcp(80, "::", DEFAULT_BACKLOG),
            "tcp6:80",
        ),
        ("tcp6:80", tcp(80, "::", DEFAULT_BACKLOG), "tcp6:80"),
        (
            "tcp6:80:5:\\:\\:1",
            tcp(80, "::1", 5),
            "tcp6:80:interface=\\:\\:1:backlog=5",
        ),
        (
            "tcp6:port=443:interface=fe80\\:\\:1:backlog=10",
            tcp(443, "fe80::1", 10),
            "tcp6:443:interface=fe80\\:\\:1:backlog=10",
        ),
        (
            "unix:/run/app.sock",
            unix("/run/app.sock", 0o666, DEFAULT_BACKLOG, true),
            "unix:/run/app.sock",
        ),
        (
            "unix:address=/run/app.sock:mode=660",
            unix("/run/app.sock", 0o660, DEFAULT_BACKLOG, true),
            "unix:/run/app.sock:mode=660",
        ),
        (
            "unix:path=/tmp/s:mode=0o600:backlog=5:lockfile=0",
            unix("/tmp/s", 0o600, 5, false),
            "unix:/tmp/s:mode=600:backlog=5:lockfile=0",
        ),
        (
            "unix:/tmp/s:0644:9:1",
            unix("/tmp/s", 0o644, 9, true),
            "unix:/tmp/s:mode=644:backlog=9",
        ),
        (
            "unix:C\\:\\\\tmp\\\\a\\=b",
            unix("C:\\tmp\\a=b", 0o666, DEFAULT_BACKLOG, true),
            "unix:C\\:\\\\tmp\\\\a\\=b",
        ),
        (
            "systemd:domain=INET:index=0",
            systemd(Domain::Inet, Inherited::Index(0)),
            "systemd:domain=INET:index=0",
        ),
        (
            "systemd:INET6:3",
            systemd(Domain::Inet6, Inherited::Index(3)),
            "systemd:domain=INET6:index=3",
        ),
        (
            "systemd:domain=unix:name=web\\:admin",
            systemd(Domain::Unix, Inherited::Name("web:admin".into())),
            "systemd:domain=UNIX:name=web\\:admin",
        ),
        (
            "ssl:443:privateKey=key.pem:certKey=C\\:/crt.pem",
            ServerEndpoint::Tls(tls(
                TlsPrefix::Ssl,
                &["443"],
                &[("privateKey", "key.pem"), ("certKey", "C:/crt.pem")],
            )),
            "ssl:443:privateKey=key.pem:certKey=C\\:/crt.pem",
        ),
    ]
}

fn client_cases() -> Vec<(&'static str, ClientEndpoint, &'static str)> {
    vec![
        (
            "tcp:example.com:80",
            tcp_client("example.com", 80, 30, None),
            "tcp:example.com:80",
        ),
        (
            "tcp:host=example.com:port=80",
            tcp_client("example.com", 80, 30, None),
            "tcp:example.com:80",
        ),
        (
            "tcp:host=example.com:80",
            tcp_client("example.com", 80, 30, None),
            "tcp:example.com:80",
        ),
        (
            "tcp:port=80:example.com",
            tcp_client("example.com", 80, 30, None),
            "tcp:example.com:80",
        ),
        (
            "tcp:example.com:port=80",
            tcp_client("example.com", 80, 30, None),
            "tcp:example.com:80",
        ),
        (
            "tcp:127.0.0.1:8080:timeout=5:bindAddress=127.0.0.2",
            tcp_client("127.0.0.1", 8080, 5, Some("127.0.0.2")),
            "tcp:127.0.0.1:8080:timeout=5:bindAddress=127.0.0.2",
        ),
        (
            "tcp:\\:\\:1:443",
            tcp_client("::1", 443, 30, None),
            "tcp:\\:\\:1:443",
        ),
        (
            "tcp:h:1:timeout=2.5",
            ClientEndpoint::Tcp {
                host: "h".into(),
                port: 1,
                timeout: Duration::from_millis(2500),
                bind_address: None,
            },
            "tcp:h:1:timeout=2.5",
        ),
        (
            "unix:/run/app.sock",
            unix_client("/run/app.sock", DEFAULT_TIMEOUT, false),
            "unix:/run/app.sock",
        ),
        (
            "unix:path=/run/app.sock:timeout=5",
            unix_client("/run/app.sock", Duration::from_secs(5), false),
            "unix:/run/app.sock:timeout=5",
        ),
        (
            "unix:/var/foo/bar:lockfile=1:timeout=9",
            unix_client("/var/foo/bar", Duration::from_secs(9), true),
            "unix:/var/foo/bar:timeout=9:lockfile=1",
        ),
        (
            "tls:example.com:443:trustRoots=/etc/ssl",
            ClientEndpoint::Tls(tls(
                TlsPrefix::Tls,
                &["example.com", "443"],
                &[("trustRoots", "/etc/ssl")],
            )),
            "tls:example.com:443:trustRoots=/etc/ssl",
        ),
    ]
}

#[test]
fn server_forms_parse_display_and_round_trip() {
    for (input, expected, shown) in server_cases() {
        let parsed: ServerEndpoint = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed, expected, "{input}");
        assert_eq!(parsed.to_string(), shown, "{input}");
        assert_eq!(ServerEndpoint::parse(shown), Ok(expected), "{shown}");
    }
}

#[test]
fn client_forms_parse_display_and_round_trip() {
    for (input, expected, shown) in client_cases() {
        let parsed: ClientEndpoint = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed, expected, "{input}");
        assert_eq!(parsed.to_string(), shown, "{input}");
        assert_eq!(ClientEndpoint::parse(shown), Ok(expected), "{shown}");
    }
}

const TCP_USAGE: &str = "(expected tcp:PORT[:interface=ADDRESS][:backlog=N])";

#[test]
fn bad_server_strings_name_the_bad_part() {
    let cases: &[(&str, &str)] = &[
        (
            "",
            "empty endpoint string (expected TYPE:ARGUMENTS, e.g. tcp:8080)",
        ),
        (
            "tcp:80:backlog=x",
            "tcp:80:backlog=x: backlog must be a number",
        ),
        (
            "tcp:80:backlog=-1",
            "tcp:80:backlog=-1: backlog must be a number",
        ),
        (
            "tcp:99999",
            "tcp:99999: port must be a number from 0 to 65535",
        ),
        ("tcp:+80", "tcp:+80: port must be a number from 0 to 65535"),
        (
            "tcp:http",
            "tcp:http: port must be a number from 0 to 65535",
        ),
        (
            "udp:80",
            "udp:80: unknown endpoint type \"udp\" (expected tcp, tcp6, unix, systemd)",
        ),
        (
            ":80",
            ":80: missing endpoint type (expected tcp, tcp6, unix, systemd)",
        ),
        (
            "port=80:tcp",
            "port=80:tcp: missing endpoint type (expected tcp, tcp6, unix, systemd)",
        ),
        (
            "tcp",
            &format_args!("tcp: missing port {TCP_USAGE}").to_string(),
        ),
        (
            "tcp:",
            &format_args!("tcp:: missing port {TCP_USAGE}").to_string(),
        ),
        (
            "tcp:interface=127.0.0.1",
            &format_args!("tcp:interface=127.0.0.1: missing port {TCP_USAGE}").to_string(),
        ),
        (
            "tcp:80:color=red",
            &format_args!("tcp:80:color=red: unknown keyword \"color\" {TCP_USAGE}").to_string(),
        ),
        (
            "tcp:80:Backlog=5",
            &format_args!("tcp:80:Backlog=5: unknown keyword \"Backlog\" {TCP_USAGE}").to_string(),
        ),
        (
            "tcp:80:backlog=1:backlog=2",
            "tcp:80:backlog=1:backlog=2: backlog given twice",
        ),
        ("tcp:80:port=81", "tcp:80:port=81: port given twice"),
        (
            "tcp:80:127.0.0.1:5:6",
            &format_args!("tcp:80:127.0.0.1:5:6: unexpected argument \"6\" {TCP_USAGE}")
                .to_string(),
        ),
        (
            "tcp:80:interface=localhost",
            "tcp:80:interface=localhost: interface must be an IP address",
        ),
        (
            "tcp:80:interface=::1",
            "tcp:80:interface=::1: unescaped ':' in the value of interface \
             (write each ':' as \\:, e.g. \\:\\:1)",
        ),
        (
            "tcp::80",
            "tcp::80: empty argument between two ':' (escape the colons of an IPv6 address as \\:)",
        ),
        (
            "tcp6:80:interface=127.0.0.1",
            "tcp6:80:interface=127.0.0.1: interface must be an IPv6 address",
        ),
        (
            "tcp6:80:interface=",
            "tcp6:80:interface=: interface must be an IPv6 address",
        ),
        (
            "tcp:80\\",
            "tcp:80\\: trailing backslash (nothing left to escape; write \\\\ for one)",
        ),
        (
            "unix",
            "unix: missing path (expected unix:PATH[:mode=OCTAL][:backlog=N][:lockfile=0|1])",
        ),
        (
            "unix:address=/a:path=/b",
            "unix:address=/a:path=/b: address given twice",
        ),
        (
            "unix:/s:mode=888",
            "unix:/s:mode=888: mode must be an octal number from 0 to 7777",
        ),
        (
            "unix:/s:mode=17777",
            "unix:/s:mode=17777: mode must be an octal number from 0 to 7777",
        ),
        (
            "unix:/s:mode=+7",
            "unix:/s:mode=+7: mode must be an octal number from 0 to 7777",
        ),
        (
            "unix:/s:lockfile=yes",
            "unix:/s:lockfile=yes: lockfile must be 0 or 1",
        ),
        (
            "systemd:domain=INET",
            "systemd:domain=INET: missing index or name \
             (expected systemd:domain=INET|INET6|UNIX:index=N|name=NAME)",
        ),
        (
            "systemd:index=0",
            "systemd:index=0: missing domain \
             (expected systemd:domain=INET|INET6|UNIX:index=N|name=NAME)",
        ),
        (
            "systemd:domain=IPX:index=0",
            "systemd:domain=IPX:index=0: domain must be INET, INET6 or UNIX",
        ),
        (
            "systemd:domain=INET:index=a",
            "systemd:domain=INET:index=a: index must be a number",
        ),
        (
            "systemd:domain=INET:index=0:name=web",
            "systemd:domain=INET:index=0:name=web: give index or name, not both",
        ),
        (
            "systemd:domain=INET:name=",
            "systemd:domain=INET:name=: name must be a socket name",
        ),
    ];
    for (input, message) in cases {
        let err = ServerEndpoint::parse(input).expect_err(input);
        assert_eq!(err.to_string(), *message, "{input}");
    }
}

#[test]
fn bad_client_strings_name_the_bad_part() {
    let usage = "(expected tcp:HOST:PORT[:timeout=SECONDS][:bindAddress=ADDRESS])";
    let cases: &[(&str, String)] = &[
        ("tcp:example.com", format!("tcp:example.com: missing port {usage}")),
        ("tcp:port=80", format!("tcp:port=80: missing host {usage}")),
        ("tcp:h:0", "tcp:h:0: port must be a number from 1 to 65535".into()),
        ("tcp:h:65536", "tcp:h:65536: port must be a number from 1 to 65535".into()),
        ("tcp:h:80:timeout=soon", "tcp:h:80:timeout=soon: timeout must be a number of seconds".into()),
        ("tcp:h:80:timeout=1.", "tcp:h:80:timeout=1.: timeout must be a number of seconds".into()),
        (
            "tcp:h:80:timeout=1.0000000001",
            "tcp:h:80:timeout=1.0000000001: timeout must be a number of seconds".into(),
        ),
        ("tcp:h:80:bindAddress=", "tcp:h:80:bindAddress=: bindAddress must be a host name or an IP address".into()),
        ("tcp:h:80:port=81", "tcp:h:80:port=81: port given twice".into()),
        (
            "tcp:::1:80",
            "tcp:::1:80: empty argument between two ':' (escape the colons of an IPv6 address as \\:)"
                .into(),
        ),
        ("tcp:h:80:x", format!("tcp:h:80:x: unexpected argument \"x\" {usage}")),
        (
            "tcp:h:80:interface=x",
            format!("tcp:h:80:interface=x: unknown keyword \"interface\" {usage}"),
        ),
        (
            "tcp6:h:80",
            "tcp6:h:80: unknown endpoint type \"tcp6\" (expected tcp, unix)".into(),
        ),
        (
            "unix:/a:/b",
            "unix:/a:/b: unexpected argument \"/b\" \
             (expected unix:PATH[:timeout=SECONDS][:lockfile=0|1])"
                .into(),
        ),
        (
            "unix:path=",
            "unix:path=: missing path (expected unix:PATH[:timeout=SECONDS][:lockfile=0|1])".into(),
        ),
        ("unix:/a:lockfile=2", "unix:/a:lockfile=2: lockfile must be 0 or 1".into()),
    ];
    for (input, message) in cases {
        let err = ClientEndpoint::parse(input).expect_err(input);
        assert_eq!(&err.to_string(), message, "{input}");
    }
}

#[test]
fn errors_keep_their_parts_for_code_to_inspect() {
    let err = ServerEndpoint::parse("tcp:80:backlog=x").unwrap_err();
    assert_eq!(
        err,
        EndpointError::InvalidValue {
            input: "tcp:80:backlog=x".into(),
            key: "backlog",
            value: "x".into(),
            expected: "a number",
        }
    );
    assert_eq!(err.input(), "tcp:80:backlog=x");
    let long = format!("unix:/{}", "a".repeat(MAX_LENGTH));
    let err = ServerEndpoint::parse(&long).unwrap_err();
    assert_eq!(
        err.to_string(),
        "endpoint string too long: 4102 bytes (max 4096)"
    );
}

#[test]
fn tls_endpoints_parse_but_are_refused_by_the_builders() {
    let server = ServerEndpoint::parse("ssl:443:privateKey=key.pem").unwrap();
    assert_eq!(
        server.check_supported().unwrap_err().to_string(),
        "ssl:443:privateKey=key.pem: tls endpoints are not supported yet"
    );
    let client = ClientEndpoint::parse("tls:example.com:443").unwrap();
    assert_eq!(
        client.check_supported().unwrap_err().to_string(),
        "tls:example.com:443: tls endpoints are not supported yet"
    );
    assert_eq!(
        ServerEndpoint::parse("tcp:80").unwrap().check_supported(),
        Ok(())
    );
    assert_eq!(
        ClientEndpoint::parse("unix:/s").unwrap().check_supported(),
        Ok(())
    );
}

#[test]
fn display_round_trips_values_built_in_code() {
    let servers = [
        unix("/tmp/a:b=c\\d", 0o7777, 0, false),
        tcp(65535, "255.255.255.255", u32::MAX),
        systemd(Domain::Inet, Inherited::Name("a=b".into())),
        ServerEndpoint::Tls(tls(TlsPrefix::Tls, &["a:b", "c=d"], &[("k:=", "v:=\\")])),
    ];
    for server in servers {
        assert_eq!(
            ServerEndpoint::parse(&server.to_string()),
            Ok(server.clone())
        );
    }
    let clients = [
        tcp_client("fe80::1", 1, 0, Some("::1")),
        unix_client("/a", Duration::new(1, 1), true),
        unix_client("/a", Duration::new(7, 120_000_000), false),
    ];
    for client in clients {
        assert_eq!(
            ClientEndpoint::parse(&client.to_string()),
            Ok(client.clone())
        );
    }
}
