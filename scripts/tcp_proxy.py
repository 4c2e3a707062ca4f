#!/usr/bin/env python3
"""A loopback TCP forwarder, for tests that take a server away and bring it back:
  tcp_proxy.py LISTEN_PORT TARGET_PORT [COUNT_FILE]
Killing it is "the server stopped"; starting it again on the same port is "the server returned".
With COUNT_FILE, the bytes sent towards the server so far are written there (for benchmarks).
With SILENT_WHEN=FILE in the environment, while FILE exists the proxy is a server that accepts
connections and never answers: what clients send is swallowed, on new and open connections."""
import os
import socket
import sys
import threading

silent_when = os.environ.get("SILENT_WHEN")


sent = [0]
lock = threading.Lock()


def pipe(a, b, count=False):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            if count and silent_when and os.path.exists(silent_when):
                continue
            if count:
                with lock:
                    sent[0] += len(data)
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    listen, target = int(sys.argv[1]), int(sys.argv[2])
    if len(sys.argv) > 3:
        path = sys.argv[3]

        def report():
            import os
            import time
            while True:
                with open(path + ".tmp", "w") as f:
                    f.write(str(sent[0]))
                os.replace(path + ".tmp", path)
                time.sleep(0.1)
        threading.Thread(target=report, daemon=True).start()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen))
    srv.listen(64)
    print("ready", flush=True)
    while True:
        c, _ = srv.accept()
        try:
            u = socket.create_connection(("127.0.0.1", target))
        except OSError:
            c.close()
            continue
        threading.Thread(target=pipe, args=(c, u, True), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()


main()
