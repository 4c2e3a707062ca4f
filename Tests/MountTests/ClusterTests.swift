#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// The mount on a replicated SeaweedFS cluster (scripts/seaweedfs-cluster.sh: one master, three
/// volume servers with replication 001, a filer with S3) while one volume server is killed and
/// later started again: every read that succeeds returns the right bytes, every write that
/// succeeded is stored, and the errors a user saw are listed in the output.
final class ClusterTests: XCTestCase {
    func testVolumeServerDiesAndReturnsUnderTheMount() async throws {
        guard (try? TestServer.all().first) != nil else { return }
        let dir = MountFixture.runDir + "/cluster-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = shellQuote(MountFixture.packageRoot + "/scripts/seaweedfs-cluster.sh")
        let started = sh("bash \(script) start \(shellQuote(dir + "/cluster"))", timeout: 120)
        XCTAssertEqual(started.status, 0, started.err)
        defer {
            // Stopped before its directory (which holds the pid files) goes.
            sh("bash \(script) stop \(shellQuote(dir + "/cluster"))")
            try? FileManager.default.removeItem(atPath: dir)
        }
        guard started.status == 0, let port = Int((try? String(contentsOfFile: dir + "/cluster/s3port", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") else { return }
        let env = ProcessInfo.processInfo.environment
        let server = TestServer(name: "seaweedfs-cluster", endpoint: try S3Endpoint(url: "http://127.0.0.1:\(port)", region: "us-east-1"),
                                credentials: Credentials(accessKey: env["BUCKETFS_TEST_SEAWEEDFS_ACCESS"] ?? "bucketfs-test",
                                                         secretKey: env["BUCKETFS_TEST_SEAWEEDFS_SECRET"] ?? "bucketfs-test-secret"),
                                isSwift: false)
        let c = try server.client()
        let bucket = uniqueBucket("cluster")
        try await c.createBucket(bucket)

        // Sources: four files to write again and again, four stored ones to read (one multipart).
        let src = dir + "/src"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        for i in 0..<4 { try Data(testBytes((1 << 20) + i * 4099, seed: UInt64(40 + i))).write(to: URL(fileURLWithPath: "\(src)/w\(i)")) }
        for (i, size) in [3 << 20, 5 << 20, 700_001, 24 << 20].enumerated() {
            try Data(testBytes(size, seed: UInt64(50 + i))).write(to: URL(fileURLWithPath: "\(src)/r\(i)"))
        }
        let m = MountFixture(server: server)
        try m.mount(bucket, options: "logfile=\(dir)/log,retries=3,direct_io,mem_cache_size=16M,read_part_size=4M")
        defer { m.unmount() }
        for i in 0..<4 { XCTAssertEqual(sh("cp \(src)/r\(i) \(shellQuote(m.path("r\(i)")))").status, 0) }

        // A writer and a reader, for 16 s; volume server 2 dies at 4 s and comes back at 10 s.
        let workload = """
            cd \(shellQuote(dir)); end=$((SECONDS + 16)); i=0
            while [ $SECONDS -lt $end ]; do
              i=$((i + 1)); s=$((i % 4))
              if cp src/w$s \(shellQuote(m.mountpoint))/w$i 2>/dev/null; then echo "w$i w$s" >> written
              else echo "$(date +%T) write w$i failed" >> errors; fi
              for r in 0 1 2 3; do
                cmp -s src/r$r \(shellQuote(m.mountpoint))/r$r; rc=$?
                if [ $rc = 1 ]; then echo "$(date +%T) WRONG BYTES in r$r" >> errors
                elif [ $rc != 0 ]; then echo "$(date +%T) read r$r failed" >> errors; fi
              done
            done
            """
        try workload.write(toFile: dir + "/workload.sh", atomically: true, encoding: .utf8)
        let load = spawnBackground("exec /bin/bash \(shellQuote(dir + "/workload.sh"))")
        sleep(4)
        XCTAssertEqual(sh("bash \(script) kill-volume \(shellQuote(dir + "/cluster")) 2").status, 0)
        let killedAt = sh("date +%T").out.trimmingCharacters(in: .whitespacesAndNewlines)
        sleep(6)
        let back = sh("bash \(script) start-volume \(shellQuote(dir + "/cluster")) 2", timeout: 60)
        XCTAssertEqual(back.status, 0, back.err)
        let backAt = sh("date +%T").out.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(waitExit(load, timeout: 120), 0)

        let errors = (try? String(contentsOfFile: dir + "/errors", encoding: .utf8)) ?? ""
        let written = ((try? String(contentsOfFile: dir + "/written", encoding: .utf8)) ?? "").split(separator: "\n")
        let seen = errors.isEmpty ? "(none)" : errors
        print("cluster: volume server 2 killed at \(killedAt), back at \(backAt); \(written.count) writes succeeded; errors seen by the user:\n\(seen)")
        XCTAssertFalse(errors.contains("WRONG BYTES"), errors)
        XCTAssertGreaterThan(written.count, 10, "the writer made progress")
        // Every write that succeeded is stored, byte for byte, as the raw client reads it.
        for line in written {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { continue }
            let want = try Data(contentsOf: URL(fileURLWithPath: "\(src)/\(parts[1])"))
            let got = try await c.getObject(bucket, key: String(parts[0]), maxBytes: 8 << 20)
            XCTAssertEqual(got.body.map { Data($0.readableBytesView) }, want, "\(parts[0]) as stored")
        }
        // And the stored files read right through a fresh mount once the server is back.
        m.unmount()
        try m.mount(bucket, options: "logfile=\(dir)/log2")
        for i in 0..<4 { XCTAssertEqual(sh("cmp \(src)/r\(i) \(shellQuote(m.path("r\(i)")))").status, 0, "r\(i) after the return") }
        m.unmount()
        await destroyBucket(c, bucket)
        try await c.shutdown()
    }
}
