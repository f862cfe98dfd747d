"""Python Twisted's HTTP client (twisted.web.client.Agent) fetching from a torsion-web
server: prints the status and body of each URL, in order. Used by .ci/interop_web_server.

    python web_agent.py URL [URL...]
"""

import sys

from twisted.internet import defer, task
from twisted.web.client import Agent, HTTPConnectionPool, readBody


@defer.inlineCallbacks
def main(reactor, *urls):
    pool = HTTPConnectionPool(reactor, persistent=True)
    agent = Agent(reactor, pool=pool, connectTimeout=5)
    for url in urls:
        response = yield agent.request(b"GET", url.encode()).addTimeout(10, reactor)
        body = yield readBody(response)
        print(response.code, body.decode())
    yield pool.closeCachedConnections()


if __name__ == "__main__":
    task.react(main, sys.argv[1:])
