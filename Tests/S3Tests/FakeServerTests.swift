import Crypto
import Foundation
import NIOCore
import Synchronization
import XCTest
@testable import S3

/// A server that answers garbage, fails a few times, or never answers: the client must give a
/// typed error quickly, retry what may be retried, and never hang.
final class FakeServerTests: XCTestCase {
    static let script = #"""
import http.server, socketserver, sys, time, threading
mode = sys.argv[1]
hits = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def answer(self, status, body, ctype="application/xml"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        sent = self.rfile.read(n) if n else b""
        hits["n"] += 1
        if mode == "garbage":
            self.answer(200, b"\x00\x01this is not xml <<<", "text/html")
        elif mode == "flaky":
            if hits["n"] <= 2:
                self.answer(503, b"<Error><Code>SlowDown</Code><Message>slow</Message></Error>")
            else:
                self.answer(200, b"<ListAllMyBucketsResult><Buckets><Bucket><Name>ok</Name></Bucket></Buckets></ListAllMyBucketsResult>")
        elif mode == "html-error":
            self.answer(500, b"<html>proxy error</html>", "text/html")
        elif mode in ("complete-garbage", "complete-other", "moto"):
            # CompleteMultipartUpload of two parts whose ETags are the MD5s of b"a" and b"b".
            # "complete-garbage" stores the object but answers garbage; "complete-other" answers
            # garbage and HEAD shows another object; "moto" answers with moto's root names.
            if self.command == "HEAD":
                etag = "0e8df0ee26b7ff1b4bbcf0d8e6d0a0d5-2" if mode == "complete-other" else "96e024ba2074fe77e8e965ba43a704be-2"
                self.send_response(200)
                self.send_header("ETag", '"%s"' % etag)
                self.send_header("Content-Length", "2")
                self.end_headers()
            elif mode == "moto" and "uploadId=" in self.path and self.command == "POST":
                self.answer(200, b'<CompleteMultipartUploadResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><ETag>"96e024ba2074fe77e8e965ba43a704be-2"</ETag></CompleteMultipartUploadResponse>')
            elif mode == "moto" and "uploadId=" in self.path:
                self.answer(200, b'<ListPartsResponse><Part><PartNumber>1</PartNumber><ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag><Size>1</Size></Part><IsTruncated>false</IsTruncated></ListPartsResponse>')
            else:
                self.answer(200, b"<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>\"cut", "application/xml")
        elif mode in ("crc-refused", "crc-ignored"):
            # UploadPart on a server that refuses x-amz-checksum-crc32c ("crc-refused", as AWS
            # does for an upload initiated without an algorithm) or ignores it and answers an
            # ETag that is not the MD5 of the bytes ("crc-ignored"). Content-MD5 is checked.
            import base64, hashlib
            md5 = self.headers.get("Content-MD5")
            if md5 is not None:
                if base64.b64decode(md5) != hashlib.md5(sent).digest():
                    return self.answer(400, b"<Error><Code>BadDigest</Code><Message>md5</Message></Error>")
                self.send_response(200)
                self.send_header("ETag", '"%s"' % hashlib.md5(sent).hexdigest())
                self.send_header("Content-Length", "0")
                return self.end_headers()
            if self.headers.get("x-amz-checksum-crc32c") and mode == "crc-refused":
                return self.answer(400, b"<Error><Code>InvalidRequest</Code><Message>Checksum Type mismatch occurred</Message></Error>")
            self.send_response(200)
            self.send_header("ETag", '"00000000000000000000000000000000"')
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif mode == "hang":
            time.sleep(30)
        elif mode in ("ranged", "no-range"):
            # A 1000-byte object; "ranged" honours Range but cuts its first answer's body short
            # (the connection closes halfway), "no-range" answers 200 with the whole object.
            data = bytes(i % 251 for i in range(1000))
            rng = self.headers.get("Range")
            if mode == "no-range" or not rng:
                return self.answer(200, data, "application/octet-stream")
            a, b = (int(x) for x in rng.split("=")[1].split("-"))
            part = data[a:b + 1]
            self.send_response(206)
            self.send_header("Content-Length", str(len(part)))
            self.send_header("Content-Range", "bytes %d-%d/1000" % (a, b))
            self.send_header("ETag", '"e"')
            self.end_headers()
            if hits["n"] == 1:
                self.wfile.write(part[:len(part) // 2]); self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(part)
    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
threading.Thread(target=lambda: (time.sleep(60), s.shutdown()), daemon=True).start()
s.serve_forever()
"""#

    func withFake(_ mode: String, retry: RetryPolicy = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(10)),
                  _ body: (S3Client) async throws -> Void) async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", Self.script, mode]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        defer { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let port = Int(line) else { return XCTFail("fake server did not start: \(line)") }
        var cfg = S3ClientConfiguration(endpoint: try S3Endpoint(url: "http://127.0.0.1:\(port)", region: "us-east-1"))
        cfg.retry = retry
        cfg.requestTimeout = .seconds(2)
        let c = try S3Client(configuration: cfg, credentials: Credentials(accessKey: "a", secretKey: "s"))
        do { try await body(c) } catch { XCTFail("\(error)") }
        try await c.shutdown()
    }

    func testGarbageAnswerIsMalformed() async throws {
        try await withFake("garbage") { c in
            for op in ["list", "listObjects", "location"] {
                do {
                    switch op {
                    case "list": _ = try await c.listBuckets()
                    case "listObjects": _ = try await c.listObjects("bucket")
                    default: _ = try await c.getBucketLocation("bucket")
                    }
                    XCTFail("\(op): garbage accepted")
                } catch let e as S3Error {
                    guard case .malformedResponse = e else { return XCTFail("\(op): \(e)") }
                    XCTAssertEqual(e.errno, EIO)
                }
            }
        }
    }

    func testRetriesUntilSuccess() async throws {
        try await withFake("flaky") { c in
            let r = try await c.listBuckets()
            XCTAssertEqual(r.buckets.map(\.name), ["ok"])
        }
    }

    func testNonXMLErrorIsTyped() async throws {
        try await withFake("html-error", retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(1))) { c in
            do {
                _ = try await c.listBuckets()
                XCTFail("500 accepted")
            } catch let e as S3Error {
                XCTAssertEqual(e.httpStatus, 500)
                XCTAssertEqual(e.code, "InternalError")
            }
        }
    }

    func testSilentServerTimesOut() async throws {
        let start = Date()
        try await withFake("hang", retry: .none) { c in
            do {
                _ = try await c.listBuckets()
                XCTFail("answer from a silent server")
            } catch let e as S3Error {
                guard case .timeout = e else { return XCTFail("\(e)") }
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
    }

    /// With retries allowed, a silent server still costs one request timeout (2 s here), not one
    /// per attempt.
    func testSilentServerCostsOneTimeout() async throws {
        let start = Date()
        try await withFake("hang", retry: RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(10))) { c in
            do {
                _ = try await c.listBuckets()
                XCTFail("answer from a silent server")
            } catch let e as S3Error {
                guard case .timeout = e else { return XCTFail("\(e)") }
            }
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, 3.9, "retried a timeout")
    }

    /// A body observer sees a 206 body's parts as they arrive, at their offsets; a retry after a
    /// body cut short starts over at offset 0. A 200 answer (the Range ignored) is not observed.
    func testBodyObserverSeesPartsAndRestarts() async throws {
        let data = (0..<1000).map { UInt8($0 % 251) }
        let seen = Mutex<[(Int, [UInt8])]>([])
        let observer: BodyObserver = { part, offset in seen.withLock { $0.append((offset, Array(part.readableBytesView))) } }
        try await withFake("ranged") { c in
            let (segments, count) = try await c.getObjectSegments("b", key: "k", range: 100...899, observer: observer)
            XCTAssertEqual(count, 800)
            XCTAssertEqual(segments.flatMap { Array($0.readableBytesView) }, Array(data[100..<900]))
            let parts = seen.withLock { $0 }
            let restart = parts.lastIndex { $0.0 == 0 } ?? -1
            XCTAssertGreaterThan(restart, 0, "the first, cut-short body was observed, then the retry from offset 0")
            var at = 0
            for (offset, bytes) in parts[restart...] {
                XCTAssertEqual(offset, at)
                XCTAssertEqual(bytes, Array(data[(100 + at)..<(100 + at + bytes.count)]))
                at += bytes.count
            }
            XCTAssertEqual(at, 800)
        }
        seen.withLock { $0 = [] }
        try await withFake("no-range") { c in
            let (_, count) = try await c.getObjectSegments("b", key: "k", range: 0...999, observer: observer)
            XCTAssertEqual(count, 1000)
            XCTAssertTrue(seen.withLock { $0.isEmpty }, "a 200 answer was observed")
        }
    }

    static let twoParts = [CompletedPart(partNumber: 1, etag: "0cc175b9c0f1b6a831c399e269772661"),
                           CompletedPart(partNumber: 2, etag: "92eb5ffee6ae2fec3ad71c777531578f")]

    /// The multipart ETag is AWS's: MD5 of the parts' binary MD5s, then `-N`.
    /// A server that refuses the CRC32C header, or ignores it and stores what it pleases, gets the
    /// part again with Content-MD5, which it checks; later parts carry Content-MD5 alone.
    func testPartChecksumFallsBackToMD5() async throws {
        for mode in ["crc-refused", "crc-ignored"] {
            try await withFake(mode) { c in
                let body = ByteBuffer(string: "part bytes")
                let md5 = Insecure.MD5.hash(data: Array("part bytes".utf8)).map { String(format: "%02x", $0) }.joined()
                XCTAssertEqual(c.uploadChecksum, .unknown)
                let etag = try await c.uploadPart("b", key: "k", uploadId: "u", partNumber: 1, body: body)
                XCTAssertEqual(etag, md5, "\(mode): the part was sent again with Content-MD5")
                XCTAssertEqual(c.uploadChecksum, .md5, mode)
                var d = c.bodyDigest()
                d.update(body)
                XCTAssertNil(d.finalize().crc32c, "\(mode): later parts carry no CRC32C")
                let again = try await c.uploadPart("b", key: "k", uploadId: "u", partNumber: 2, body: body)
                XCTAssertEqual(again, md5, mode)
            }
        }
    }

    func testMultipartETag() {
        let e = MultipartETag(parts: Self.twoParts.map(\.etag))
        XCTAssertEqual(e.exact, "96e024ba2074fe77e8e965ba43a704be-2")
        XCTAssertTrue(e.matches("\"96E024BA2074FE77E8E965BA43A704BE-2\""))
        XCTAssertFalse(e.matches("96e024ba2074fe77e8e965ba43a704be-3"))
        let opaque = MultipartETag(parts: ["kms-etag-1", "kms-etag-2"])
        XCTAssertNil(opaque.exact)
        XCTAssertTrue(opaque.matches("whatever-2"))
        XCTAssertFalse(opaque.matches("whatever-1"))
    }

    /// A CompleteMultipartUpload answer that cannot be parsed is settled by a HEAD: the object these
    /// parts make is a success; another object leaves the error standing.
    func testUnparsableCompletionCheckedByHead() async throws {
        try await withFake("complete-garbage") { c in
            let etag = try await c.completeMultipartUpload("b", key: "k", uploadId: "u", parts: Self.twoParts)
            XCTAssertEqual(etag, "96e024ba2074fe77e8e965ba43a704be-2")
        }
        try await withFake("complete-other") { c in
            do {
                _ = try await c.completeMultipartUpload("b", key: "k", uploadId: "u", parts: Self.twoParts)
                XCTFail("a completion of another object was taken as ours")
            } catch let e as S3Error {
                guard case .malformedResponse = e else { return XCTFail("\(e)") }
            }
        }
    }

    /// moto names the roots of CompleteMultipartUpload and ListParts answers `...Response`.
    func testResponseRootNamesAccepted() async throws {
        try await withFake("moto") { c in
            let etag = try await c.completeMultipartUpload("b", key: "k", uploadId: "u", parts: Self.twoParts)
            XCTAssertEqual(etag, "96e024ba2074fe77e8e965ba43a704be-2")
            let parts = try await c.listAllParts("b", key: "k", uploadId: "u")
            XCTAssertEqual(parts.map(\.partNumber), [1])
        }
    }

    func testConnectionRefusedIsTransport() async throws {
        var cfg = S3ClientConfiguration(endpoint: try S3Endpoint(url: "http://127.0.0.1:1", region: "us-east-1"))
        cfg.retry = RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(1))
        let c = try S3Client(configuration: cfg, credentials: Credentials(accessKey: "a", secretKey: "s"))
        do {
            _ = try await c.listBuckets()
            XCTFail("connected to port 1")
        } catch let e as S3Error {
            guard case .transport = e else { return XCTFail("\(e)") }
        }
        try await c.shutdown()
    }
}
