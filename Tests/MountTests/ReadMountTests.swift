import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// Real mounts driven with standard tools: what the bucket holds is what ls, stat, find, du,
/// cat, cmp, sha256sum and tar see; hostile keys are hidden; prefixes mount; caches behave.
final class ReadMountTests: XCTestCase {
    func local(_ data: [UInt8]) throws -> String {
        let p = "\(MountFixture.runDir)/local-\(UInt32.random(in: 0...UInt32.max))"
        try Data(data).write(to: URL(fileURLWithPath: p))
        return p
    }

    func testStandardToolsSeeTheBucket() async throws {
        try await forEachServerBucket("tools") { server, c, bucket in
            let big = testBytes(3 * (1 << 20) + 1)
            try await c.putObject(bucket, key: "hello.txt", body: ByteBuffer(string: "hello, world\n"))
            try await upload(c, bucket, "dir/a.bin", big)
            try await c.putObject(bucket, key: "dir/one", body: ByteBuffer(string: "1"))
            try await c.putObject(bucket, key: "dir/sub/empty", body: ByteBuffer())
            try await c.putObject(bucket, key: "marker/", body: ByteBuffer())
            // s3fs's metadata: a 0755 file owned by 1234:5678 with a fixed mtime; rclone's float mtime.
            try await c.putObject(bucket, key: "s3fs.txt", body: ByteBuffer(string: "x"),
                                  metadata: ["mode": "33261", "uid": "1234", "gid": "5678", "mtime": "1600000000"])
            try await c.putObject(bucket, key: "rclone.txt", body: ByteBuffer(string: "y"), metadata: ["mtime": "1600000000.5"])
            try await c.putObject(bucket, key: "link", body: ByteBuffer(string: "hello.txt"), metadata: ["mode": "41471"])
            try await c.putObject(bucket, key: "a name with spaces ü+%.txt", body: ByteBuffer(string: "z"))

            // Listing attributes only (the default): names, sizes and contents.
            let fast = MountFixture(server: server, name: "fast")
            try fast.mount(bucket)
            XCTAssertEqual(sh("stat -c '%s %a' \(fast.path("s3fs.txt"))").out, "1 755\n", "a lookup's HEAD brings the metadata")
            XCTAssertEqual(sh("ls -l \(fast.path("dir")) | grep -c a.bin").out, "1\n")
            fast.unmount()

            let m = MountFixture(server: server)
            try m.mount(bucket, options: "posix_metadata")
            defer { m.unmount() }
            let ls = sh("ls -1a \(m.path(""))")
            XCTAssertEqual(ls.out.split(separator: "\n").map(String.init),
                           [".", "..", "a name with spaces ü+%.txt", "dir", "hello.txt", "link", "marker", "rclone.txt", "s3fs.txt"], server.name)
            XCTAssertEqual(sh("cat \(m.path("hello.txt"))").out, "hello, world\n")
            let bigLocal = try local(big)
            XCTAssertEqual(sh("cmp \(bigLocal) \(m.path("dir/a.bin"))").status, 0, "cmp of a block-crossing object")
            XCTAssertEqual(sh("sha256sum < \(m.path("dir/a.bin"))").out, sh("sha256sum < \(bigLocal)").out)
            XCTAssertEqual(sh("stat -c %s \(m.path("dir/a.bin"))").out, "\(big.count)\n")
            XCTAssertEqual(sh("cat \(m.path("dir/one"))").out, "1")
            XCTAssertEqual(sh("stat -c '%s %F' \(m.path("dir/sub/empty"))").out, "0 regular empty file\n")
            XCTAssertEqual(sh("stat -c %F \(m.path("marker"))").out, "directory\n")
            // Metadata written by s3fs and rclone (lookup reads it).
            XCTAssertEqual(sh("stat -c '%a %u %g %Y' \(m.path("s3fs.txt"))").out, "755 1234 5678 1600000000\n")
            XCTAssertEqual(sh("stat -c '%.1Y' \(m.path("rclone.txt"))").out, "1600000000.5\n")
            XCTAssertEqual(sh("readlink \(m.path("link"))").out, "hello.txt\n")
            XCTAssertEqual(sh("cat \(m.path("link"))").out, "hello, world\n")
            XCTAssertEqual(sh("cat \(shellQuote(m.path("a name with spaces ü+%.txt")))").out, "z")
            let find = sh("cd \(m.path("")) && find . | sort").out.split(separator: "\n").map(String.init)
            XCTAssertEqual(find, [".", "./a name with spaces ü+%.txt", "./dir", "./dir/a.bin", "./dir/one", "./dir/sub",
                                  "./dir/sub/empty", "./hello.txt", "./link", "./marker", "./rclone.txt", "./s3fs.txt"])
            XCTAssertEqual(sh("du -sb --apparent-size \(m.path("dir")) | cut -f1").out, "\(big.count + 1)\n")
            let tar = sh("cd \(m.path("")) && tar cf - dir | tar tf - | sort").out
            XCTAssertEqual(tar, "dir/\ndir/a.bin\ndir/one\ndir/sub/\ndir/sub/empty\n")
            // Missing names are ENOENT; hard links have no place in a bucket.
            XCTAssertTrue(sh("cat \(m.path("nope"))").err.contains("No such file"))
            XCTAssertTrue(sh("ln \(m.path("hello.txt")) \(m.path("hard"))").err.contains("not permitted"))
            XCTAssertTrue(sh("df \(m.path(""))").out.contains("bucketfs"))
        }
    }

    func testHostileKeysAreHidden() async throws {
        try await forEachServerBucket("hostile") { server, c, bucket in
            var keys = ["ok", "dir/fine"]
            if server.isSwift {
                // Components over 255 bytes (SeaweedFS refuses such keys).
                keys += [String(repeating: "n", count: 300), "d2/" + String(repeating: "l", count: 256)]
                // Swift s3api stores these as given; SeaweedFS rewrites or refuses them.
                keys += ["../escape", "a//b", "./dot", "x/.", "x/..", "dir/../../up", "back\\slash/../z"]
            }
            for k in keys { try await c.putObject(bucket, key: k, body: ByteBuffer(string: k)) }
            let m = MountFixture(server: server)
            try m.mount(bucket)
            defer { m.unmount() }
            let found = sh("cd \(m.path("")) && find . | sort").out.split(separator: "\n").map(String.init)
            for f in found {
                let name = f.split(separator: "/").last.map(String.init) ?? ""
                XCTAssertLessThanOrEqual(name.utf8.count, 255, "\(server.name): \(f)")
            }
            XCTAssertTrue(found.contains("./ok"))
            XCTAssertTrue(found.contains("./dir/fine"))
            XCTAssertFalse(found.contains { $0.contains("escape") || $0.contains("up") }, "\(server.name): \(found)")
            XCTAssertEqual(sh("cat \(m.path("ok"))").out, "ok")
            // Nothing appeared outside the mount.
            XCTAssertFalse(FileManager.default.fileExists(atPath: MountFixture.runDir + "/escape"))
            if server.isSwift {
                XCTAssertTrue(sh("stat \(m.path(String(repeating: "n", count: 300)))").err.contains("too long"))
            }
        }
    }

    func testPrefixMountAndSameNameFileAndDirectory() async throws {
        try await forEachServerBucket("prefix") { server, c, bucket in
            for k in ["base/x/1", "base/x/2", "base/top", "other/no", "same", "same/inner"] {
                try await c.putObject(bucket, key: k, body: ByteBuffer(string: k))
            }
            let m = MountFixture(server: server)
            try m.mount("\(bucket):/base")
            XCTAssertEqual(sh("cd \(m.path("")) && find . | sort").out, ".\n./top\n./x\n./x/1\n./x/2\n")
            XCTAssertEqual(sh("cat \(m.path("x/2"))").out, "base/x/2")
            m.unmount()
            let m2 = MountFixture(server: server)
            try m2.mount(bucket)
            defer { m2.unmount() }
            XCTAssertEqual(sh("ls -1 \(m2.path("")) | grep -c '^same$'").out, "1\n", "a file and a directory of one name show once")
            XCTAssertEqual(sh("stat -c %F \(m2.path("same"))").out, "directory\n")
            XCTAssertEqual(sh("cat \(m2.path("same/inner"))").out, "same/inner")
        }
    }

    func testRandomAndParallelReads() async throws {
        try await forEachServerBucket("random") { server, c, bucket in
            let data = testBytes(5 << 20, seed: 42)
            try await upload(c, bucket, "r.bin", data)
            let m = MountFixture(server: server)
            try m.mount(bucket)
            defer { m.unmount() }
            guard let fh = FileHandle(forReadingAtPath: m.path("r.bin")) else { return XCTFail("open") }
            var rng = SystemRandomNumberGenerator()
            for _ in 0..<200 {
                let off = Int.random(in: 0..<data.count, using: &rng)
                let len = Int.random(in: 1...300_000, using: &rng)
                try fh.seek(toOffset: UInt64(off))
                let got = fh.readData(ofLength: len)
                XCTAssertEqual([UInt8](got), Array(data[off..<min(data.count, off + len)]), "read at \(off)+\(len)")
            }
            try fh.close()
            let localPath = try local(data)
            let r = sh("for i in 1 2 3 4; do cmp \(localPath) \(m.path("r.bin")) & done; wait; echo done")
            XCTAssertEqual(r.out, "done\n")
            XCTAssertEqual(r.err, "", "parallel readers see the same bytes")
        }
    }

    /// An object that fits a quarter of the disk cache and is read at random is fetched whole in
    /// the background: after one pass its reads are answered with the server gone. A larger
    /// object keeps the small-GET path (only the first jump's block is cached).
    func testRandomReaderMakesAFittingObjectLocal() async throws {
        guard let real = try TestServer.all().first else { return }
        let c = try real.client()
        do { try await randomReaderFill(real, c) } catch { XCTFail("\(error)") }
        try await c.shutdown()
    }

    func randomReaderFill(_ real: TestServer, _ c: S3Client) async throws {
        let bucket = uniqueBucket("fill")
        try await c.createBucket(bucket)
        let proxy = TestProxy(real)
        XCTAssertTrue(proxy.start(), "proxy listening")
        let small = testBytes(12 << 20, seed: 11), large = testBytes(24 << 20, seed: 12)
        try await upload(c, bucket, "small.bin", small)
        try await upload(c, bucket, "large.bin", large)
        let smallPath = try local(small), largePath = try local(large)
        let cache = "\(MountFixture.runDir)/fillcache-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let m = MountFixture(server: proxy.server)
        try m.mount(bucket, options: "ro,cache_dir=\(cache),cache_size=64M,retries=1,request_timeout=5")
        defer { m.unmount() }
        let program = """
            import os, random, subprocess, sys, time
            def cached():
                return int(subprocess.run(["du", "-sb", \(String(reflecting: cache + "/blocks"))], capture_output=True, text=True).stdout.split()[0])
            def jumps(path, want, n, rng):
                fd = os.open(path, os.O_RDONLY)
                for _ in range(n):
                    off = rng.randrange(0, len(want) // 4096) * 4096
                    if os.pread(fd, 4096, off) != want[off:off + 4096]:
                        print("wrong bytes at", off); sys.exit(1)
                return fd
            rng = random.Random(7)
            large = open(\(String(reflecting: largePath)), "rb").read()
            small = open(\(String(reflecting: smallPath)), "rb").read()
            fd = jumps(\(String(reflecting: m.path("large.bin"))), large, 40, rng)
            time.sleep(1)
            print("large-cached-mib", cached() >> 20)
            os.close(fd)
            fd = jumps(\(String(reflecting: m.path("small.bin"))), small, 20, rng)
            deadline = time.time() + 60
            while cached() < len(small) and time.time() < deadline:
                time.sleep(0.1)
            print("small-local", cached() >= len(small))
            os.kill(\(proxy.pid), 9)
            # The server is gone: every read of the small object is local now.
            for _ in range(300):
                off = rng.randrange(0, len(small) - 5000)
                if os.pread(fd, 5000, off) != small[off:off + 5000]:
                    print("wrong bytes at", off); sys.exit(1)
            print("offline-reads ok")
            """
        let r = sh("/usr/bin/python3 - <<'PY'\n\(program)\nPY", timeout: 180)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let lines = r.out.split(separator: "\n")
        let largeCached = lines.first { $0.hasPrefix("large-cached-mib") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 99
        XCTAssertLessThanOrEqual(largeCached, 2, "an object over the fill limit is not fetched whole: \(r.out)")
        XCTAssertTrue(r.out.contains("small-local True\noffline-reads ok"), r.out + r.err)
    }

    func testChangedObjectIsSeenAfterTTL() async throws {
        try await forEachServerBucket("ttl") { server, c, bucket in
            try await c.putObject(bucket, key: "f", body: ByteBuffer(string: "version one"))
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "metadata_ttl=1,negative_ttl=1")
            defer { m.unmount() }
            XCTAssertEqual(sh("cat \(m.path("f"))").out, "version one")
            try await c.putObject(bucket, key: "f", body: ByteBuffer(string: "version two, longer"))
            try await c.putObject(bucket, key: "g", body: ByteBuffer(string: "new"))
            try await Task.sleep(for: .seconds(2.5))
            XCTAssertEqual(sh("cat \(m.path("f"))").out, "version two, longer")
            XCTAssertEqual(sh("cat \(m.path("g"))").out, "new")
        }
    }

    func testDiskCacheCapHoldsAndSurvivesRemount() async throws {
        try await forEachServerBucket("disk") { server, c, bucket in
            let data = testBytes(8 << 20, seed: 7)
            try await upload(c, bucket, "f.bin", data)
            let cache = "\(MountFixture.runDir)/cache-\(UInt32.random(in: 0...UInt32.max))"
            let localPath = try local(data)
            for round in 0..<2 {
                let m = MountFixture(server: server)
                try m.mount(bucket, options: "cache_dir=\(cache),cache_size=3M,mem_cache_size=1M")
                XCTAssertEqual(sh("cmp \(localPath) \(m.path("f.bin"))").status, 0, "round \(round)")
                m.unmount()
                let used = Int(sh("du -sb \(cache)/blocks | cut -f1").out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
                XCTAssertGreaterThan(used, 0)
                XCTAssertLessThanOrEqual(used, (3 << 20) + 4096, "disk cache over its cap")
            }
            try? FileManager.default.removeItem(atPath: cache)
        }
    }

    func testLargeDirectoryPagesAndReadOnlyMount() async throws {
        try await forEachServerBucket("many") { server, c, bucket in
            guard !server.isSwift else { return }   // 2,500 PUTs: SeaweedFS is quick enough
            try await withThrowingTaskGroup(of: Void.self) { g in
                for chunk in 0..<25 {
                    g.addTask {
                        for i in 0..<100 {
                            let n = chunk * 100 + i
                            try await c.putObject(bucket, key: String(format: "big/f%05d", n), body: ByteBuffer(string: "\(n)"))
                        }
                    }
                }
                try await g.waitForAll()
            }
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "ro")
            defer { m.unmount() }
            XCTAssertEqual(sh("ls -f \(m.path("big")) | grep -c '^f'").out, "2500\n")
            XCTAssertEqual(sh("ls -l \(m.path("big")) | grep -c ' f'").out, "2500\n")
            XCTAssertEqual(sh("cat \(m.path("big/f02499"))").out, "2499")
            XCTAssertTrue(sh("touch \(m.path("x"))").err.contains("Read-only file system"))
        }
    }

    func testOneGiBSequentialRead() async throws {
        try await forEachServerBucket("gib") { server, c, bucket in
            guard !server.isSwift else { return }
            let data = testBytes(1 << 30, seed: 99)
            try await upload(c, bucket, "gib.bin", data)
            let localPath = try local(data)
            let m = MountFixture(server: server)
            try m.mount(bucket)
            defer { m.unmount() }
            let got = sh("sha256sum < \(m.path("gib.bin"))", timeout: 300)
            XCTAssertEqual(got.out, sh("sha256sum < \(localPath)").out)
            try? FileManager.default.removeItem(atPath: localPath)
        }
    }
}
