"""A Python Twisted finger client: asks a finger server about one user and prints the
answer. Used by .ci/interop_net against torsion's `finger` example.

    python finger_client.py PORT USER
"""

import sys

from twisted.internet import defer, protocol, task
from twisted.protocols import basic


class FingerClient(basic.LineReceiver):
    def __init__(self, user, done):
        self.user = user
        self.done = done
        self.lines = []

    def connectionMade(self):
        self.sendLine(self.user.encode())

    def lineReceived(self, line):
        self.lines.append(line.decode())

    def connectionLost(self, reason):
        if not self.done.called:
            self.done.callback(self.lines)


def main(reactor, port, user):
    done = defer.Deferred()
    factory = protocol.ClientFactory.forProtocol(lambda: FingerClient(user, done))
    reactor.connectTCP("127.0.0.1", int(port), factory, timeout=5)
    reactor.callLater(10, lambda: done.called or done.errback(Exception("finger timed out")))

    def show(lines):
        for line in lines:
            print(line)

    return done.addCallback(show)


if __name__ == "__main__":
    task.react(main, sys.argv[1:])
