"""A Python Twisted web server answering `Hello, world!` to every request: the peer of
torsion-web's hello_server in the HTTP benchmark (crates/torsion-bench, bin http_hello).
Follows the example contract: `listening on ADDR` first, exit 0 on SIGTERM.

    python twisted_hello.py [PORT]
"""

import sys

from twisted.internet import reactor
from twisted.web import resource, server


class Hello(resource.Resource):
    isLeaf = True

    def render(self, request):
        request.setHeader(b"Content-Type", b"text/plain")
        return b"Hello, world!"


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    site = server.Site(Hello())
    site.log = lambda request: None  # no access log: the peer does what hello_server does
    listening = reactor.listenTCP(port, site, interface="127.0.0.1")
    address = listening.getHost()
    print(f"listening on {address.host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
