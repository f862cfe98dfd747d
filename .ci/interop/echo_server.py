"""A Python Twisted echo server on an ephemeral port: prints `listening on ADDR` first,
as torsion's examples do, and serves until killed. Used by .ci/interop_net so that
torsion's `echo_client` talks to a server no one here wrote.

    python echo_server.py
"""

import sys

from twisted.internet import protocol, reactor


class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1")
print(f"listening on 127.0.0.1:{port.getHost().port}", flush=True)
sys.stdout.flush()
reactor.run()
