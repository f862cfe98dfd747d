"""A Python Twisted web server on an ephemeral port, for torsion's HTTP client to fetch
from (.ci/interop_web_client). Prints `listening on ADDR` first, as torsion's examples
do, and serves until killed:

    /text     a static text (Content-Length)
    /chunked  the same text written in pieces (Twisted frames it chunked)
    /gzip     the same text, gzip-encoded when the client asks (Twisted's EncodingResourceWrapper)
    /redirect a 302 to /text
    /insult   a random insult after a random delay of up to 0.5 s (callLater)
    /cookie/set    sets a cookie (Path=/cookie) and redirects to /cookie/check
    /cookie/check  the text if that cookie came back, else 403

    python web_server.py
"""

import random
import sys

from twisted.internet import reactor
from twisted.web import resource, server, util
from twisted.web.resource import EncodingResourceWrapper
from twisted.web.server import GzipEncoderFactory

TEXT = b"Twisted says hello to torsion.\n" * 100
INSULTS = [b"You mongrel.", b"Your mother was a hamster.", b"You block the reactor."]


class Text(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/plain")
        return TEXT


class Chunked(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/plain")
        pieces = [TEXT[i : i + 500] for i in range(0, len(TEXT), 500)]

        def write_next():
            if pieces:
                request.write(pieces.pop(0))
                reactor.callLater(0.01, write_next)
            else:
                request.finish()

        write_next()
        return server.NOT_DONE_YET


class Insult(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        def answer():
            request.write(random.choice(INSULTS))
            request.finish()

        reactor.callLater(random.random() * 0.5, answer)
        return server.NOT_DONE_YET


class CookieSet(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.addCookie(b"flavour", b"oatmeal", path=b"/cookie", httpOnly=True)
        return util.redirectTo(b"/cookie/check", request)


class CookieCheck(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        if request.getCookie(b"flavour") == b"oatmeal":
            request.setHeader(b"content-type", b"text/plain")
            return TEXT
        request.setResponseCode(403)
        return b"no cookie"


cookie = resource.Resource()
cookie.putChild(b"set", CookieSet())
cookie.putChild(b"check", CookieCheck())

root = resource.Resource()
root.putChild(b"text", Text())
root.putChild(b"chunked", Chunked())
root.putChild(b"gzip", EncodingResourceWrapper(Text(), [GzipEncoderFactory()]))
root.putChild(b"redirect", util.Redirect(b"/text"))
root.putChild(b"insult", Insult())
root.putChild(b"cookie", cookie)

port = reactor.listenTCP(0, server.Site(root), interface="127.0.0.1", backlog=1024)
print(f"listening on 127.0.0.1:{port.getHost().port}", flush=True)
sys.stdout.flush()
reactor.run()
