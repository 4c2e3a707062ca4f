#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// What happens to written data when the server goes away or bucketfs is killed: nothing a
/// program wrote and closed is lost, and no partial object ever appears.
final class WriteFailureTests: XCTestCase {
    /// A writer that writes `first` MiB (or units of `1 << unit` bytes), says so in `status`, waits
    /// for `go`, writes `second` more and closes; it records the outcome of close (or of the last
    /// write) in `status`.
    func writer(_ path: String, data: String, first: Int, second: Int, status: String, go: String, unit: Int = 20) -> pid_t {
        let program = """
            import errno, os, sys, time
            src = open(\(String(reflecting: data)), "rb").read()
            fd = os.open(\(String(reflecting: path)), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            out = open(\(String(reflecting: status)), "w")
            try:
                os.write(fd, src[:\(first) << \(unit)])
                out.write("written\\n"); out.flush()
                while not os.path.exists(\(String(reflecting: go))):
                    time.sleep(0.05)
                os.write(fd, src[\(first) << \(unit):(\(first + second)) << \(unit)])
                os.close(fd)
                out.write("closed ok\\n")
            except OSError as e:
                out.write("error " + errno.errorcode.get(e.errno, str(e.errno)) + "\\n")
            out.flush()
            """
        let script = status + ".py"
        try? program.write(toFile: script, atomically: true, encoding: .utf8)
        return spawnBackground("exec /usr/bin/python3 \(shellQuote(script))")
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func testServerStoppedDuringWriteThenBack() async throws {
        guard let real = try TestServer.all().first(where: { !$0.isSwift }) else { return }
        let c = try real.client()
        let bucket = uniqueBucket("outage")
        try await c.createBucket(bucket)
        let proxy = TestProxy(real)
        XCTAssertTrue(proxy.start(), "proxy listening")
        let proxied = proxy.server

        let dir = MountFixture.runDir + "/outage-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let data = testBytes(20 << 20, seed: 7)
        try Data(data).write(to: URL(fileURLWithPath: dir + "/data"))
        let m = MountFixture(server: proxied)
        try m.mount(bucket, options: "upload_retry=1,retries=2,logfile=\(dir)/log")
        defer { m.unmount() }

        let pid = writer(m.path("f"), data: dir + "/data", first: 12, second: 8, status: dir + "/status", go: dir + "/go")
        // A small file too: its bytes live in memory until close, and must reach the disk when
        // its upload fails.
        let smallPid = writer(m.path("small"), data: dir + "/data", first: 2, second: 3, status: dir + "/small-status",
                              go: dir + "/go", unit: 10)
        let half = await waitFor(60) { read(dir + "/status").contains("written") && read(dir + "/small-status").contains("written") }
        XCTAssertTrue(half, "writers started")
        // The server stops in the middle of the write.
        proxy.stop()
        FileManager.default.createFile(atPath: dir + "/go", contents: nil)
        XCTAssertEqual(waitExit(pid, timeout: 120), 0)
        let outcome = read(dir + "/status")
        XCTAssertTrue(outcome.contains("error"), "close reports the failed upload: \(outcome)")
        XCTAssertFalse(outcome.contains("closed ok"), outcome)
        // The data stays staged on disk...
        let staged = sh("find \(shellQuote(m.stagingDir)) -name '*.data' -size 20480k | wc -l").out
        XCTAssertEqual(staged, "1\n", "staged data survives: \(sh("ls -lR \(shellQuote(m.stagingDir))").out)")
        XCTAssertTrue(read(dir + "/log").contains("stays staged"), read(dir + "/log"))
        XCTAssertEqual(waitExit(smallPid, timeout: 60), 0)
        XCTAssertTrue(read(dir + "/small-status").contains("error"), "close of the small file reports the failure")
        XCTAssertEqual(sh("find \(shellQuote(m.stagingDir)) -name '*.data' -size 5120c | wc -l").out, "1\n",
                       "the small file's bytes went to disk: \(sh("ls -lR \(shellQuote(m.stagingDir))").out)")
        // ...and reaches the bucket once the server is back.
        proxy.start()
        let stored = try await waitFor(90) {
            do { return try await c.headObject(bucket, key: "f").size == Int64(data.count) } catch { return false }
        }
        XCTAssertTrue(stored, "uploaded after the server returned; log: \(read(dir + "/log"))")
        if stored {
            let got = try await c.getObject(bucket, key: "f", maxBytes: 64 << 20)
            XCTAssertEqual(got.body.map { Array($0.readableBytesView) }, data)
        }
        XCTAssertEqual(sh("cmp \(shellQuote(dir + "/data")) \(shellQuote(m.path("f")))").status, 0)
        let smallStored = try await waitFor(30) {
            do { return try await c.headObject(bucket, key: "small").size == 5120 } catch { return false }
        }
        XCTAssertTrue(smallStored, "the small file uploaded after the server returned")
        if smallStored {
            let got = try await c.getObject(bucket, key: "small")
            XCTAssertEqual(got.body.map { Array($0.readableBytesView) }, Array(data[0..<5120]))
        }
        m.unmount()
        await destroyBucket(c, bucket)
        try await c.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// An outage of 15 s in the middle of a streamed write: once the server is back, the file is
    /// stored within seconds (the retries connect again at once) and the upload whose abort failed
    /// during the outage is aborted; the same across an unmount made during the outage (the
    /// pending abort is kept in the staging directory and finished by the next mount).
    func testOutageRecoveryIsFastAndLeavesNoUpload() async throws {
        guard let real = try TestServer.all().first(where: { !$0.isSwift }) else { return }
        let c = try real.client()
        let bucket = uniqueBucket("recovery")
        try await c.createBucket(bucket)
        let proxy = TestProxy(real)
        XCTAssertTrue(proxy.start(), "proxy listening")
        let proxied = proxy.server
        let dir = MountFixture.runDir + "/recovery-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let data = testBytes(20 << 20, seed: 9)
        try Data(data).write(to: URL(fileURLWithPath: dir + "/data"))
        let m = MountFixture(server: proxied)
        try m.mount(bucket, options: "upload_retry=1,retries=2,logfile=\(dir)/log")
        defer { m.unmount() }

        /// Writes `key` with the server cut off after 12 MiB (its streamed upload has parts by then).
        func writeThroughOutage(_ key: String) async {
            let pid = writer(m.path(key), data: dir + "/data", first: 12, second: 8, status: dir + "/\(key).status", go: dir + "/\(key).go")
            let started = await waitFor(60) { read(dir + "/\(key).status").contains("written") }
            XCTAssertTrue(started, "writer of \(key) started")
            let streaming = (try? await waitFor(30) { try await c.listAllMultipartUploads(bucket).contains { $0.key == key } }) ?? false
            XCTAssertTrue(streaming, "\(key): streamed upload under way")
            proxy.stop()
            FileManager.default.createFile(atPath: dir + "/\(key).go", contents: nil)
            XCTAssertEqual(waitExit(pid, timeout: 120), 0)
            XCTAssertTrue(read(dir + "/\(key).status").contains("error"), "\(key): close reports the failed upload")
        }
        func storedAndClean(_ key: String) async throws -> Double? {
            let start = Date()
            let ok = try await waitFor(60) {
                let head = try? await c.headObject(bucket, key: key)
                let uploads = try await c.listAllMultipartUploads(bucket)
                return head?.size == Int64(data.count) && uploads.isEmpty
            }
            return ok ? Date().timeIntervalSince(start) : nil
        }

        await writeThroughOutage("f")
        try await Task.sleep(for: .seconds(15))
        XCTAssertTrue(proxy.start())
        let seconds = try await storedAndClean("f")
        print("recovery: \(seconds.map { String(format: "%.1f", $0) } ?? "never") s from the server's return to the object stored and no upload left")
        let left = try await c.listAllMultipartUploads(bucket)
        XCTAssertNotNil(seconds, "stored and cleaned after the outage; uploads: \(left); log: \(read(dir + "/log"))")
        XCTAssertLessThan(seconds ?? 99, 8, "recovery took too long")
        let got = try await c.getObject(bucket, key: "f", maxBytes: 64 << 20)
        XCTAssertEqual(got.body.map { Array($0.readableBytesView) }, data)

        // Across an unmount made during the outage.
        await writeThroughOutage("g")
        m.unmount()
        let ledger = sh("find \(shellQuote(m.stagingDir)) -name aborts.json | wc -l").out
        XCTAssertEqual(ledger, "1\n", "the failed abort is kept: \(sh("ls -lR \(shellQuote(m.stagingDir))").out)")
        XCTAssertTrue(proxy.start())
        try m.mount(bucket, options: "upload_retry=1,retries=2,logfile=\(dir)/log2")
        let seconds2 = try await storedAndClean("g")
        print("recovery after a remount: \(seconds2.map { String(format: "%.1f", $0) } ?? "never") s")
        XCTAssertNotNil(seconds2, "stored and cleaned by the next mount; log: \(read(dir + "/log2"))")
        XCTAssertTrue(read(dir + "/log2").contains("aborted the upload of g"), read(dir + "/log2"))
        m.unmount()
        await destroyBucket(c, bucket)
        try await c.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testKilledDuringWriteLeavesNoPartialObject() async throws {
        try await forEachServerBucket("killed") { server, c, bucket in
            let dir = MountFixture.runDir + "/killed-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data(testBytes(32 << 20, seed: 3)).write(to: URL(fileURLWithPath: dir + "/data"))
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "logfile=\(dir)/log")
            defer { m.unmount() }
            // Mounts on Swift s3api plan uploads for its 1,000-part limit without being told.
            XCTAssertEqual(read(dir + "/log").contains("OpenStack Swift s3api: uploads use at most 1000 parts"), server.isSwift,
                           "[\(server.name)] \(read(dir + "/log"))")
            let pid = writer(m.path("f"), data: dir + "/data", first: 24, second: 8, status: dir + "/status", go: dir + "/go")
            let written = await waitFor(60) { read(dir + "/status").contains("written") }
            XCTAssertTrue(written, "writer started")
            // Parts are streaming: the multipart upload exists.
            let streaming = try await waitFor(30) { try await c.listAllMultipartUploads(bucket).contains { $0.key == "f" } }
            XCTAssertTrue(streaming, "[\(server.name)] upload started while writing")
            XCTAssertEqual(sh("pkill -KILL -f -- \(shellQuote("[ ]" + m.mountpoint + " "))").status, 0)
            kill(pid, SIGKILL)
            _ = waitExit(pid, timeout: 10)
            sh("fusermount3 -uz \(shellQuote(m.mountpoint))")
            m.mounted = false

            // No partial object; the orphaned upload is listed and cleaned.
            do {
                _ = try await c.headObject(bucket, key: "f")
                XCTFail("[\(server.name)] a partial object is visible")
            } catch let e as S3Error where e.errno == ENOENT {}
            let cli = "\(m.environment) \(shellQuote(MountFixture.binary))"
            var r = sh("\(cli) uploads list \(bucket)")
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.out.contains(" f\n") || r.out.hasSuffix(" f") || r.out.contains("f"), "[\(server.name)] \(r.out)")
            r = sh("\(cli) uploads clean \(bucket) --older-than 0s")
            XCTAssertEqual(r.status, 0, r.err)
            let left = try await c.listAllMultipartUploads(bucket)
            XCTAssertTrue(left.isEmpty, "[\(server.name)] \(left)")

            // The next mount with the same staging directory keeps the unclosed data aside and says where.
            try m.mount(bucket, options: "logfile=\(dir)/log2")
            let log = read(dir + "/log2")
            XCTAssertTrue(log.contains("was being written when an earlier mount stopped; its data is kept in"), log)
            XCTAssertEqual(sh("find \(shellQuote(m.stagingDir))/recovered -type f -size 24576k | wc -l").out, "1\n")
            XCTAssertEqual(sh("ls \(shellQuote(m.path("")))").out, "", "nothing appears in the bucket")
            try? FileManager.default.removeItem(atPath: dir)
        }
    }
}
