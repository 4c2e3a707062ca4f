#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// Programs that read a directory's files one after another in listing order get the next ones
/// fetched ahead; any other order gets nothing ahead. The bytes are right either way.
final class ScanTests: XCTestCase {
    func counter(_ port: Int, _ name: String) -> Double {
        let text = sh("curl -s http://127.0.0.1:\(port)/metrics").out
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }

    func testFilesReadInListingOrderComeAhead() async throws {
        guard let server = try TestServer.all().first else { return }
        let c = try server.client()
        let bucket = uniqueBucket("scan")
        try await c.createBucket(bucket)
        let local = "\(MountFixture.runDir)/scan-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: local) }
        // 3 directories of 40 files, 512 B to 300 KiB.
        var files: [(String, [UInt8])] = []
        for d in 0..<3 {
            for f in 0..<40 {
                let size = 512 + (d * 40 + f) * 7919 % (300 << 10)
                files.append((String(format: "d%d/f%03d", d, f), testBytes(size, seed: UInt64(d * 100 + f))))
            }
        }
        for (name, data) in files {
            try await upload(c, bucket, name, data)
            let path = local + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(data).write(to: URL(fileURLWithPath: path))
        }
        let expected = sh("cd \(shellQuote(local)) && find . -type f | LC_ALL=C sort | xargs cat | md5sum").out
        for (order, sortFlags, wantAhead) in [("listing", "", true), ("reverse", "-r", false)] {
            let port = freePort()
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "ro,metrics=127.0.0.1:\(port)")
            let got = sh("cd \(shellQuote(m.mountpoint)) && find . -type f | LC_ALL=C sort \(sortFlags) | xargs cat | md5sum").out
            let want = order == "listing" ? expected
                : sh("cd \(shellQuote(local)) && find . -type f | LC_ALL=C sort -r | xargs cat | md5sum").out
            XCTAssertEqual(got, want, "[\(server.name)] \(order) order reads the right bytes")
            let ahead = counter(port, "bucketfs_files_fetched_ahead_total")
            if wantAhead {
                // All but the first two files of each directory can come ahead.
                XCTAssertGreaterThanOrEqual(ahead, 100, "[\(server.name)] files fetched ahead in listing order")
            } else {
                XCTAssertEqual(ahead, 0, "[\(server.name)] nothing fetched ahead in another order")
            }
            m.unmount()
        }
        await destroyBucket(c, bucket)
        try await c.shutdown()
    }
}
