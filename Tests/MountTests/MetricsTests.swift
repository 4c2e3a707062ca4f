#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// `-o metrics=HOST:PORT`: `/metrics` in Prometheus text format, scraped around a read, a second
/// read, a write and a listing; the counters move by the right amounts.
final class MetricsTests: XCTestCase {
    /// Every sample of a scrape, `name{labels}` to value.
    func scrape(_ port: Int) -> [String: Double] {
        let text = sh("curl -s http://127.0.0.1:\(port)/metrics").out
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    func testCountersMoveWithReadsWritesAndListings() async throws {
        guard let server = try TestServer.all().first(where: { !$0.isSwift }) else { return }
        let c = try server.client()
        let bucket = uniqueBucket("metrics")
        try await c.createBucket(bucket)
        let data = testBytes(2 << 20, seed: 77)
        try await c.putObject(bucket, key: "d/f", body: ByteBuffer(bytes: data))
        let port = freePort()
        let m = MountFixture(server: server)
        // direct_io: every read reaches the mount (the page cache would answer the second one).
        try m.mount(bucket, options: "metrics=127.0.0.1:\(port),direct_io")
        defer { m.unmount() }
        let get = "bucketfs_s3_requests_total{operation=\"GetObject\",outcome=\"206\"}"
        let put = "bucketfs_s3_requests_total{operation=\"PutObject\",outcome=\"200\"}"
        let list = "bucketfs_s3_requests_total{operation=\"ListObjectsV2\",outcome=\"200\"}"
        let received = "bucketfs_s3_bytes_received_total", sent = "bucketfs_s3_bytes_sent_total"
        let hits = "bucketfs_cache_hits_total", reads = "bucketfs_fuse_operations_total{operation=\"read\"}"

        let s0 = scrape(port)
        XCTAssertNotNil(s0["bucketfs_memory_cache_capacity_bytes"], "gauges are there from the start: \(s0.keys.sorted())")
        XCTAssertEqual(sh("cat \(shellQuote(m.path("d/f"))) | md5sum").status, 0)
        let s1 = scrape(port)
        XCTAssertGreaterThanOrEqual((s1[get] ?? 0) - (s0[get] ?? 0), 1, "a GET for the read")
        XCTAssertGreaterThanOrEqual((s1[received] ?? 0) - (s0[received] ?? 0), Double(data.count), "the object's bytes received")
        XCTAssertGreaterThan((s1[reads] ?? 0) - (s0[reads] ?? 0), 0, "FUSE reads counted")
        XCTAssertEqual(s1["bucketfs_bytes_read_total"].map { $0 >= Double(data.count) }, true)

        // The second read is served by the memory cache: hits, and no GET.
        XCTAssertEqual(sh("cat \(shellQuote(m.path("d/f"))) > /dev/null").status, 0)
        let s2 = scrape(port)
        XCTAssertEqual(s2[get], s1[get], "no GET for a cached read")
        XCTAssertGreaterThan((s2[hits] ?? 0) - (s1[hits] ?? 0), 0, "cache hits counted")

        // A 1 MiB write: its PutObject, and the directory's first (empty) metadata record, which
        // goes before anything with metadata is stored in a directory without one; its bytes sent.
        XCTAssertEqual(sh("head -c 1048576 /dev/urandom > \(shellQuote(m.path("d/new")))").status, 0)
        let s3 = scrape(port)
        XCTAssertEqual((s3[put] ?? 0) - (s2[put] ?? 0), 2)
        XCTAssertGreaterThanOrEqual((s3[sent] ?? 0) - (s2[sent] ?? 0), 1_048_576)
        XCTAssertEqual(s3["bucketfs_unstored_files"], 0, "nothing left to store")

        // A listing of a directory not listed before: at least one ListObjectsV2.
        XCTAssertEqual(sh("ls \(shellQuote(m.path("d")))").out, "f\nnew\n")
        let s4 = scrape(port)
        XCTAssertGreaterThanOrEqual((s4[list] ?? 0) - (s3[list] ?? 0), 1)
        XCTAssertNotNil(s4["bucketfs_s3_request_duration_seconds_count{operation=\"GetObject\"}"], "latency histograms: \(s4.keys.filter { $0.contains("duration") })")
        XCTAssertEqual(sh("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\(port)/other").out, "404")
        m.unmount()
        await destroyBucket(c, bucket)
        try await c.shutdown()
    }
}
