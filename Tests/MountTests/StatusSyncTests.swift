#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// `bucketfs status` and `bucketfs sync` against a running mount, over its control socket: sync
/// returns once every closed file is stored, fails naming the file while the server is cut off
/// (the test proxy killed), and succeeds once it is back; status shows what is not stored.
final class StatusSyncTests: XCTestCase {
    func testSyncWaitsForClosedFilesAndNamesWhatCannotBeStored() async throws {
        guard let real = try TestServer.all().first(where: { !$0.isSwift }) else { return }
        let c = try real.client()
        let bucket = uniqueBucket("sync")
        try await c.createBucket(bucket)
        let proxy = TestProxy(real)
        XCTAssertTrue(proxy.start())
        let m = MountFixture(server: proxy.server)
        // Background retries only every 10 minutes: what stores the files here is sync.
        try m.mount(bucket, options: "upload_retry=600,retries=2")
        defer { m.unmount() }
        let cli = shellQuote(MountFixture.binary)

        XCTAssertEqual(sh("mkdir -p \(m.path("d")) && printf one > \(m.path("d/a")) && printf two > \(m.path("b"))").status, 0)
        var r = sh("\(cli) sync \(shellQuote(m.mountpoint))")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("every file closed before the sync is stored"), r.out)

        // The server is cut off: the close fails and the file waits; sync says which and fails.
        proxy.stop()
        r = sh("/usr/bin/python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT); os.write(fd, bytes(300000)); os.close(fd)' \(m.path("d/c"))")
        XCTAssertNotEqual(r.status, 0, "close reports the failed upload")
        r = sh("\(cli) status \(shellQuote(m.mountpoint)) --json")
        XCTAssertEqual(r.status, 0, r.err)
        let status = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any] ?? [:]
        XCTAssertEqual(status["bucket"] as? String, bucket)
        let unstored = status["unstored"] as? [[String: Any]] ?? []
        XCTAssertEqual(unstored.map { $0["key"] as? String }, ["d/c"], r.out)
        XCTAssertEqual((unstored.first?["size"] as? NSNumber)?.intValue, 300_000)
        XCTAssertTrue(((status["errors"] as? [[String: Any]]) ?? []).contains { ($0["message"] as? String)?.contains("upload of d/c failed") ?? false }, r.out)
        r = sh("\(cli) status \(shellQuote(m.mountpoint))")
        XCTAssertTrue(r.out.contains("not stored: 1 file(s)") && r.out.contains("d/c"), r.out)
        r = sh("\(cli) sync \(shellQuote(m.mountpoint))", timeout: 120)
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.err.contains("not stored: d/c"), r.err)
        XCTAssertTrue(r.out.contains("sync: 1 file(s)"), "plain progress lines when not on a terminal: \(r.out)")

        // The server is back: sync stores the file before it returns.
        XCTAssertTrue(proxy.start())
        r = sh("\(cli) sync \(shellQuote(m.mountpoint)) \(shellQuote(m.path("d")))", timeout: 120)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let stored = try await c.headObject(bucket, key: "d/c")
        XCTAssertEqual(stored.size, 300_000)
        r = sh("\(cli) status \(shellQuote(m.mountpoint))")
        XCTAssertTrue(r.out.contains("not stored: nothing"), r.out)

        // No mount there: one line, exit 3.
        r = sh("\(cli) status \(shellQuote(MountFixture.runDir))")
        XCTAssertEqual(r.status, 3, r.err)
        XCTAssertTrue(r.err.contains("no bucketfs mount"), r.err)
        m.unmount()
        await destroyBucket(c, bucket)
        try await c.shutdown()
    }
}
