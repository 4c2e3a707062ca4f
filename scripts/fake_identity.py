#!/usr/bin/env python3
"""A stand-in for the service's identity API (OpenStack Keystone v2.0 tokens and the OS-EC2
extension), on 127.0.0.1, for tests. It implements the contract bucketfs relies on:

  POST   /v2.0/tokens                                   {"auth": {"tenantId", "passwordCredentials": {"username", "password"}}}
  POST   /v2.0/users/{user_id}/credentials/OS-EC2       X-Auth-Token, {"tenant_id"} -> {"credential": {...}}
         (for tenant "tenant-list-shape" the guide's {"credentials": [{...}]} shape instead)
  GET    /v2.0/users/{user_id}/credentials/OS-EC2       -> {"credentials": [...]}
  DELETE /v2.0/users/{user_id}/credentials/OS-EC2/{access} -> 204

Errors as Keystone answers them: 401 for a bad password or token, 403 for another user's
credentials, 404 for an unknown user or access key. User "slow@example.com" is answered after
FAKE_IDENTITY_DELAY seconds. The first credential created carries FAKE_EC2_ACCESS/FAKE_EC2_SECRET
(so it works on a test S3 server); later ones are random. With FAKE_IDENTITY_AGENTS=FILE, the
User-Agent of every request is appended to FILE (tests check what bucketfs sends).
usage: fake_identity.py  (prints the port, then serves until killed)
"""
import http.server, json, os, re, secrets, socketserver, sys, threading, time, datetime

USERS = {"user@example.com": ("pw", "4f1c9a2e-0000-4000-8000-000000000001"),
         "slow@example.com": ("pw", "4f1c9a2e-0000-4000-8000-000000000002")}
TENANTS = {"tenant-1", "tenant-list-shape"}
tokens = {}          # token id -> user id
creds = {}           # access -> credential dict
lock = threading.Lock()
issued = {"n": 0}

def error(code, title, message):
    return code, {"error": {"code": code, "title": title, "message": message}}

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass

    def reply(self, code, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return None

    def user_for_token(self):
        with lock:
            return tokens.get(self.headers.get("X-Auth-Token", ""))

    def route(self, method):
        path = self.path.split("?")[0]
        if method == "POST" and path == "/v2.0/tokens":
            b = self.body() or {}
            auth = b.get("auth", {})
            pc = auth.get("passwordCredentials", {})
            user = USERS.get(pc.get("username"))
            if user is None or user[0] != pc.get("password") or auth.get("tenantId") not in TENANTS:
                return error(401, "Unauthorized", "The request you have made requires authentication.")
            if pc.get("username") == "slow@example.com":
                time.sleep(float(os.environ.get("FAKE_IDENTITY_DELAY", "3")))
            tid = secrets.token_hex(16)
            with lock:
                tokens[tid] = user[1]
            exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 200, {"access": {"token": {"id": tid, "expires": exp, "tenant": {"id": auth["tenantId"]}},
                                    "user": {"id": user[1], "name": pc["username"]}}}
        m = re.fullmatch(r"/v2\.0/users/([^/]+)/credentials/OS-EC2(?:/([^/]+))?", path)
        if not m:
            return error(404, "Not Found", "The resource could not be found.")
        uid, access = m.group(1), m.group(2)
        who = self.user_for_token()
        if who is None:
            return error(401, "Unauthorized", "The request you have made requires authentication.")
        if uid not in {u[1] for u in USERS.values()}:
            return error(404, "Not Found", "Could not find user: %s." % uid)
        if who != uid:
            return error(403, "Forbidden", "You are not authorized to perform the requested action.")
        if method == "POST" and access is None:
            b = self.body() or {}
            tenant = b.get("tenant_id")
            if tenant not in TENANTS:
                return error(404, "Not Found", "Could not find project: %s." % tenant)
            with lock:
                issued["n"] += 1
                first = issued["n"] == 1 and os.environ.get("FAKE_EC2_ACCESS")
                c = {"access": os.environ["FAKE_EC2_ACCESS"] if first else secrets.token_hex(16),
                     "secret": os.environ["FAKE_EC2_SECRET"] if first else secrets.token_hex(16),
                     "tenant_id": tenant, "user_id": uid, "trust_id": None}
                creds[c["access"]] = c
            return 200, ({"credentials": [c]} if tenant == "tenant-list-shape" else {"credential": c})
        if method == "GET" and access is None:
            with lock:
                return 200, {"credentials": [c for c in creds.values() if c["user_id"] == uid]}
        if method == "DELETE" and access is not None:
            with lock:
                c = creds.get(access)
                if c is None or c["user_id"] != uid:
                    return error(404, "Not Found", "Could not find credential: %s." % access)
                del creds[access]
            return 204, None
        return error(405, "Method Not Allowed", "method not allowed")

    def handle_any(self, method):
        agents = os.environ.get("FAKE_IDENTITY_AGENTS")
        if agents:
            with lock, open(agents, "a") as f:
                f.write((self.headers.get("User-Agent") or "-") + "\n")
        code, body = self.route(method)
        self.reply(code, body)

    def do_GET(self): self.handle_any("GET")
    def do_POST(self): self.handle_any("POST")
    def do_DELETE(self): self.handle_any("DELETE")

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

s = S(("127.0.0.1", int(os.environ.get("FAKE_IDENTITY_PORT", "0"))), H)
print(s.server_address[1], flush=True)
s.serve_forever()
