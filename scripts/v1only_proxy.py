#!/usr/bin/env python3
"""An S3 server without ListObjectsV2, for the compatibility matrix:
  v1only_proxy.py TARGET_PORT
Forwards every request unchanged (the Host header too, so signatures still match) to an S3
server on 127.0.0.1:TARGET_PORT, except a ListObjectsV2 (`list-type=2`), which it refuses with
501 NotImplemented as S3 clones without V2 do. Prints its port, then serves until killed."""
import http.client
import http.server
import socketserver
import sys
import urllib.parse

TARGET = int(sys.argv[1])
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers, length=None):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.command == "GET" and query.get("list-type") == ["2"]:
            return self.answer(501, b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NotImplemented</Code>"
                               b"<Message>ListObjectsV2 is not implemented</Message></Error>",
                               [("Content-Type", "application/xml")])
        conn = http.client.HTTPConnection("127.0.0.1", TARGET, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP:
                    conn.putheader(name, value)
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(n, v) for n, v in resp.getheaders() if n.lower() not in HOP and n.lower() != "content-length"]
            # A HEAD answer has no body but tells the object's length.
            length = resp.getheader("Content-Length") if self.command == "HEAD" else None
            self.answer(resp.status, data, headers, length)
        finally:
            conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
