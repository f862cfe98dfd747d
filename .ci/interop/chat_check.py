"""Checks torsion's chat example with two plain sockets: a line from one client reaches
the other, prefixed with the sender's address. Bounded by socket timeouts.

    python3 chat_check.py PORT
"""

import socket
import sys

port = int(sys.argv[1])
listener = socket.create_connection(("127.0.0.1", port), timeout=10)
speaker = socket.create_connection(("127.0.0.1", port), timeout=10)
speaker.sendall(b"hello, room\n")
heard = b""
while not heard.endswith(b"\n"):
    chunk = listener.recv(4096)
    if not chunk:
        break
    heard += chunk
line = heard.decode().rstrip("\n")
expected_from = "<%s:%d>" % speaker.getsockname()
if line != f"{expected_from} hello, room":
    sys.exit(f"chat: the other client heard {line!r}, expected {expected_from} hello, room")
speaker.close()
listener.close()
