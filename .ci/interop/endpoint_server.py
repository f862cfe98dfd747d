"""A Python Twisted echo server listening on an endpoint string (`serverFromString`), for
torsion's `client_from_string` (the echo_client example) to reach. Prints
`listening on ADDR` first, as torsion's examples do, and serves until killed.

    python endpoint_server.py tcp:0:interface=127.0.0.1
    python endpoint_server.py unix:/tmp/twisted-echo.sock
"""

import sys

from twisted.internet import endpoints, protocol, reactor


class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


def listening(port):
    host = port.getHost()
    if hasattr(host, "port"):
        print(f"listening on {host.host}:{host.port}", flush=True)
    else:
        print(f"listening on {host.name.decode()}:0", flush=True)


def failed(failure):
    print(f"endpoint_server: {failure.getErrorMessage()}", file=sys.stderr, flush=True)
    reactor.stop()


endpoint = endpoints.serverFromString(reactor, sys.argv[1])
d = endpoint.listen(protocol.Factory.forProtocol(Echo))
d.addCallbacks(listening, failed)
reactor.run()
