"""A Python Twisted client that reaches a torsion echo server through an endpoint string
(`clientFromString`, the same string forms torsion's `server_from_string` reads), sends
one line, and prints what came back. Used by .ci/interop_endpoints.

    python endpoint_client.py tcp:host=127.0.0.1:port=8000 'hello'
    python endpoint_client.py unix:path=/tmp/echo.sock 'hello'
"""

import sys

from twisted.internet import defer, endpoints, protocol, reactor, task


class Collect(protocol.Protocol):
    def __init__(self, want):
        self.want = want
        self.got = b""
        self.done = defer.Deferred()

    def dataReceived(self, data):
        self.got += data
        if len(self.got) >= len(self.want):
            self.transport.loseConnection()

    def connectionLost(self, reason):
        self.done.callback(self.got)


@defer.inlineCallbacks
def main(reactor, description, text):
    want = text.encode() + b"\n"
    endpoint = endpoints.clientFromString(reactor, description)
    proto = yield endpoints.connectProtocol(endpoint, Collect(want))
    proto.transport.write(want)
    got = yield proto.done
    print(got.decode().rstrip("\n"), flush=True)


task.react(main, sys.argv[1:3])
