#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// A server that accepts connections and never answers (the test proxy swallows every request):
/// each operation fails with ETIMEDOUT after one `request_timeout` (20 s by default), a stat never
/// waits behind a hanging listing of its directory, and what is cached is still served.
final class SilentServerTests: XCTestCase {
    func timed(_ command: String) -> (seconds: Double, status: Int32, out: String, err: String) {
        let start = Date()
        let r = sh(command, timeout: 120)
        return (Date().timeIntervalSince(start), r.status, r.out, r.err)
    }

    func testSilentServerCostsOneTimeoutAndCachedDataIsServed() async throws {
        guard let real = try TestServer.all().first(where: { !$0.isSwift }) else { return }
        let c = try real.client()
        let bucket = uniqueBucket("silent")
        try await c.createBucket(bucket)
        for key in ["d/cached", "d/other", "d2/a", "d2/b"] {
            try await c.putObject(bucket, key: key, body: ByteBuffer(string: "content of \(key)"))
        }
        let dir = MountFixture.runDir + "/silent-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let silent = dir + "/silent"
        let proxy = TestProxy(real, environment: "SILENT_WHEN=\(shellQuote(silent))")
        XCTAssertTrue(proxy.start())
        let m = MountFixture(server: proxy.server)
        try m.mount(bucket, options: "ro,logfile=\(dir)/log")
        defer {
            unlink(silent)
            m.unmount()
        }
        XCTAssertEqual(sh("cat \(shellQuote(m.path("d/cached")))").out, "content of d/cached")
        XCTAssertEqual(sh("ls \(shellQuote(m.path("d")))").out, "cached\nother\n")
        XCTAssertEqual(sh("stat \(shellQuote(m.path("d2")))").status, 0)

        // The server goes silent.
        FileManager.default.createFile(atPath: silent, contents: nil)
        let lsStart = Date()
        let ls = spawnBackground("s=$(date +%s.%N); ls \(shellQuote(m.path("d2"))) > \(shellQuote(dir + "/ls.out")) 2> \(shellQuote(dir + "/ls.err")); rc=$?; "
            + "echo \"$s $(date +%s.%N)\" > \(shellQuote(dir + "/ls.time")); exit $rc")
        sleep(1)
        // Cached names and bytes are served at once, while the listing hangs.
        let cached = timed("stat -c %s \(shellQuote(m.path("d/cached"))) && cat \(shellQuote(m.path("d/cached")))")
        XCTAssertEqual(cached.status, 0, cached.err)
        XCTAssertEqual(cached.out, "\("content of d/cached".utf8.count)\ncontent of d/cached")
        XCTAssertLessThan(cached.seconds, 2, "cached data waited for the silent server")
        // An uncached name in the directory being listed sends its own request: one timeout.
        let stat = timed("stat \(shellQuote(m.path("d2/not-cached")))")
        XCTAssertNotEqual(stat.status, 0)
        XCTAssertTrue(stat.err.contains("timed out"), stat.err)
        XCTAssertEqual(waitExit(ls, timeout: 90), 2, "ls fails")
        let times = ((try? String(contentsOfFile: dir + "/ls.time", encoding: .utf8)) ?? "").split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let lsSeconds = times.count == 2 ? times[1] - times[0] : Date().timeIntervalSince(lsStart)
        XCTAssertTrue((try? String(contentsOfFile: dir + "/ls.err", encoding: .utf8))?.contains("timed out") ?? false)
        // A read of a listed but never read file: one timeout too.
        let read = timed("cat \(shellQuote(m.path("d/other")))")
        XCTAssertNotEqual(read.status, 0)
        XCTAssertTrue(read.err.contains("timed out"), read.err)
        print(String(format: "silent server: stat %.1f s, listing %.1f s, read %.1f s to ETIMEDOUT; cached stat and read %.2f s",
                     stat.seconds, lsSeconds, read.seconds, cached.seconds))
        for (what, s) in [("stat", stat.seconds), ("listing", lsSeconds), ("read", read.seconds)] {
            XCTAssertGreaterThan(s, 15, "\(what) gave up before request_timeout")
            XCTAssertLessThan(s, 26, "\(what) took more than one request_timeout (or waited behind another request)")
        }
        await destroyBucket(c, bucket)
        try await c.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }
}
