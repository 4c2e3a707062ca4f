#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// No write pattern replaces a stored object with anything but a complete new version: `dd` and
/// `exec > file` (a dup2 then a close of the first descriptor) store nothing until the file is
/// finished, a writer killed mid-file stores nothing, and a write that failed (ENOSPC on a full
/// staging disk) is answered at close and never stored.
final class DurabilityTests: XCTestCase {
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func md5(_ bytes: [UInt8]) -> String { Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    /// The stored object's bytes, or nil if there is none.
    func stored(_ c: S3Client, _ bucket: String, _ key: String) async throws -> [UInt8]? {
        do {
            let o = try await c.getObject(bucket, key: key, maxBytes: 256 << 20)
            return o.body.map { Array($0.readableBytesView) } ?? []
        } catch let e as S3Error where e.errno == ENOENT {
            return nil
        }
    }

    func scratch(_ tag: String) throws -> String {
        let dir = MountFixture.runDir + "/\(tag)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A staging directory on a tmpfs of `size` (`24m`) inside `dir`; the caller unmounts it.
    func tmpfsStaging(_ dir: String, size: String) throws -> String {
        let staging = dir + "/staging"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        XCTAssertEqual(sh("mount -t tmpfs -o size=\(size) tmpfs \(shellQuote(staging))").status, 0)
        return staging
    }

    func killMount(_ m: MountFixture) {
        sh("pkill -KILL -f -- \(shellQuote("[ ]" + m.mountpoint + " "))")
        sh("fusermount3 -uz \(shellQuote(m.mountpoint))")
        m.mounted = false
    }

    /// `dd of=FILE` (and a shell's `exec > FILE`) over a stored 40 MiB object, with the mount
    /// killed once 22 MiB are written: the old version stays byte for byte.
    func testOverwriteByDupThenKilledMountKeepsOldVersion() async throws {
        try await forEachServerBucket("dd-kill") { server, c, bucket in
            let dir = try scratch("dd-kill")
            let old = testBytes(40 << 20, seed: 11)
            try await upload(c, bucket, "dd", old)
            try await upload(c, bucket, "exec", old)
            try Data(testBytes(30 << 20, seed: 12)).write(to: URL(fileURLWithPath: dir + "/new"))
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "logfile=\(dir)/log")
            defer { m.unmount() }
            // dd reads 22 MiB from a pipe that then stays open: dd is mid-write, its descriptor open.
            let dd = spawnBackground("(head -c 22M \(shellQuote(dir + "/new")); sleep 600) | dd of=\(shellQuote(m.path("dd"))) bs=1M iflag=fullblock 2>/dev/null")
            // A script whose stdout is the file: `head` writes into it and exits (closing its copy).
            let script = spawnBackground("exec /bin/bash -c \(shellQuote("exec > \(m.path("exec")); head -c 22M \(dir)/new; sleep 600"))")
            defer {
                sh("pkill -KILL -f 'sleep 600'")
                kill(dd, SIGKILL); kill(script, SIGKILL)
                _ = waitExit(dd, timeout: 5); _ = waitExit(script, timeout: 5)
            }
            let written = await waitFor(60) {
                sh("stat -c %s \(shellQuote(m.path("dd"))) \(shellQuote(m.path("exec")))").out == "\(22 << 20)\n\(22 << 20)\n"
            }
            XCTAssertTrue(written, "[\(server.name)] writers reached 22 MiB: \(sh("ls -l \(shellQuote(m.mountpoint))").out)")
            // Nothing was stored by the first descriptor's close, nor by head's exit.
            for key in ["dd", "exec"] {
                let head = try await c.headObject(bucket, key: key)
                XCTAssertEqual(head.size, Int64(old.count), "[\(server.name)] \(key) replaced while still being written")
            }
            killMount(m)
            for key in ["dd", "exec"] {
                let after = try await stored(c, bucket, key)
                XCTAssertEqual(after.map(md5), md5(old), "[\(server.name)] \(key): the old version is gone")
            }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// The same writers run to the end: the file is stored by the time they exit.
    func testDupWritersStoreWhenFinished() async throws {
        try await forEachServerBucket("dd-done") { server, c, bucket in
            let dir = try scratch("dd-done")
            try await upload(c, bucket, "dd", testBytes(3 << 20, seed: 1))
            let new = testBytes(9 << 20, seed: 13)
            try Data(new).write(to: URL(fileURLWithPath: dir + "/new"))
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "logfile=\(dir)/log")
            defer { m.unmount() }
            var r = sh("dd if=\(shellQuote(dir + "/new")) of=\(shellQuote(m.path("dd"))) bs=1M 2>&1")
            XCTAssertEqual(r.status, 0, r.out)
            // Stored when dd returned: no wait.
            let got1 = try await stored(c, bucket, "dd")
            XCTAssertEqual(got1.map(md5), md5(new), "[\(server.name)] dd")
            r = sh("/bin/bash -c \(shellQuote("exec > \(m.path("exec")); head -c 4M \(dir)/new; tail -c +4194305 \(dir)/new"))")
            XCTAssertEqual(r.status, 0, r.err)
            // The shell's descriptor is the last one: stored when the script ended.
            let got2 = try await stored(c, bucket, "exec")
            XCTAssertEqual(got2.map(md5), md5(new), "[\(server.name)] exec >")
            r = sh("printf abc | tee \(shellQuote(m.path("tee"))) >/dev/null; cat \(shellQuote(m.path("tee")))")
            XCTAssertEqual(r.out, "abc")
            let got3 = try await stored(c, bucket, "tee")
            XCTAssertEqual(got3, Array("abc".utf8), "[\(server.name)] tee")
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// A writer killed by a signal halfway stores nothing: the stored object stays, and what the
    /// writer wrote is set aside in staging/recovered.
    func testKilledWriterStoresNothing() async throws {
        try await forEachServerBucket("writer-kill") { server, c, bucket in
            let dir = try scratch("writer-kill")
            let old = testBytes(6 << 20, seed: 21)
            try await upload(c, bucket, "f", old)
            try Data(testBytes(16 << 20, seed: 22)).write(to: URL(fileURLWithPath: dir + "/new"))
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "logfile=\(dir)/log")
            defer { m.unmount() }
            let dd = spawnBackground("(head -c 10M \(shellQuote(dir + "/new")); sleep 600) | exec dd of=\(shellQuote(m.path("f"))) bs=1M iflag=fullblock 2>/dev/null")
            let written = await waitFor(60) { sh("stat -c %s \(shellQuote(m.path("f")))").out == "\(10 << 20)\n" }
            XCTAssertTrue(written, "[\(server.name)] writer reached 10 MiB")
            sh("pkill -KILL -x dd")
            sh("pkill -KILL -f 'sleep 600'")
            _ = waitExit(dd, timeout: 10)
            let setAside = await waitFor(20) { read(dir + "/log").contains("is not stored") }
            XCTAssertTrue(setAside, "[\(server.name)] \(read(dir + "/log"))")
            XCTAssertTrue(read(dir + "/log").contains("killed by signal 9"), read(dir + "/log"))
            let got4 = try await stored(c, bucket, "f")
            XCTAssertEqual(got4.map(md5), md5(old), "[\(server.name)] the old version is gone")
            XCTAssertEqual(sh("find \(shellQuote(m.stagingDir))/recovered -type f -name '*f.*' ! -name '*.json' -size 10240k | wc -l").out, "1\n",
                           sh("ls -lR \(shellQuote(m.stagingDir))").out)
            // The mount shows the stored object again.
            let back = await waitFor(70) { sh("stat -c %s \(shellQuote(m.path("f")))").out == "\(old.count)\n" }
            XCTAssertTrue(back, "[\(server.name)] \(sh("stat -c %s \(shellQuote(m.path("f")))").out)")
            XCTAssertEqual(sh("md5sum < \(shellQuote(m.path("f")))").out.prefix(32), Substring(md5(old)))
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// A 2 GiB file written in order through a staging directory on a 256 MiB tmpfs: the parts the
    /// server already has are dropped from the staged copy when the disk fills, and the object is
    /// stored byte for byte.
    func testSequentialWriteLargerThanTheStagingDisk() async throws {
        try await forEachServerBucket("big-stream") { server, c, bucket in
            let dir = try scratch("big-stream")
            let staging = try tmpfsStaging(dir, size: "256m")
            defer {
                sh("umount -l \(shellQuote(staging))")
                try? FileManager.default.removeItem(atPath: dir)
            }
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "logfile=\(dir)/log,staging_dir=\(staging)")
            defer { m.unmount() }
            // 2,048 blocks of 1 MiB, each a random block stamped with its number; prints the SHA-256.
            let writer = """
                import hashlib, os, sys
                block = bytearray(os.urandom(1 << 20)); h = hashlib.sha256()
                with open(sys.argv[1], "wb", buffering=0) as f:
                    for i in range(2048):
                        block[0:8] = i.to_bytes(8, "little"); f.write(block); h.update(block)
                print(h.hexdigest())
                """
            try writer.write(toFile: dir + "/writer.py", atomically: true, encoding: .utf8)
            let r = sh("/usr/bin/python3 \(shellQuote(dir + "/writer.py")) \(shellQuote(m.path("big")))", timeout: 600)
            XCTAssertEqual(r.status, 0, "[\(server.name)] \(r.err)")
            let want = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
            let head = try await c.headObject(bucket, key: "big")
            XCTAssertEqual(head.size, 2 << 30, "[\(server.name)]")
            XCTAssertTrue(read(dir + "/log").contains("staging disk full"), "[\(server.name)] \(read(dir + "/log"))")
            m.unmount()
            try m.mount(bucket, options: "logfile=\(dir)/log2,staging_dir=\(staging)")
            let got = sh("sha256sum < \(shellQuote(m.path("big")))", timeout: 600).out.prefix(64)
            XCTAssertEqual(String(got), want, "[\(server.name)] the stored object differs")
        }
    }

    /// ENOSPC from a staging directory on a 24 MiB tmpfs: the write fails, close answers the
    /// error, and the stored object stays the previous version (an append over a stored object,
    /// and a new file written out of order, which stays absent); the same bytes written in order
    /// stream through and are stored.
    func testFullStagingDiskStoresNothing() async throws {
        try await forEachServerBucket("enospc") { server, c, bucket in
            let dir = try scratch("enospc")
            let staging = try tmpfsStaging(dir, size: "24m")
            defer {
                sh("umount -l \(shellQuote(staging))")
                try? FileManager.default.removeItem(atPath: dir)
            }
            let old = testBytes(20 << 20, seed: 31)
            try await upload(c, bucket, "big", old)
            try Data(testBytes(30 << 20, seed: 32)).write(to: URL(fileURLWithPath: dir + "/more"))
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "logfile=\(dir)/log,staging_dir=\(staging)")
            defer { m.unmount() }
            // Written in order, the same 30 MiB streams through the 24 MiB disk and is stored.
            var r = sh("cp \(shellQuote(dir + "/more")) \(shellQuote(m.path("streamed")))")
            XCTAssertEqual(r.status, 0, "[\(server.name)] \(r.err)")
            let streamed = try await stored(c, bucket, "streamed")
            XCTAssertEqual(streamed.map(md5), md5(testBytes(30 << 20, seed: 32)), "[\(server.name)] streamed copy")
            r = sh("cat \(shellQuote(dir + "/more")) >> \(shellQuote(m.path("big")))")
            XCTAssertNotEqual(r.status, 0, "[\(server.name)] an append past the staging disk succeeded")
            XCTAssertTrue(r.err.contains("No space left on device"), "[\(server.name)] \(r.err)")
            let got5 = try await stored(c, bucket, "big")
            XCTAssertEqual(got5.map(md5), md5(old), "[\(server.name)] the failed append was stored")
            // A new file written out of order (last MiB first) is staged whole: it fails the same way.
            r = sh("/usr/bin/python3 -c \(shellQuote("""
                import os, sys
                src = open(sys.argv[1], "rb").read(); fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                for i in reversed(range(30)): os.pwrite(fd, src[i << 20:(i + 1) << 20], i << 20)
                os.close(fd)
                """)) \(shellQuote(dir + "/more")) \(shellQuote(m.path("new")))")
            XCTAssertNotEqual(r.status, 0, "[\(server.name)] an out-of-order write past the staging disk succeeded")
            let none = try await stored(c, bucket, "new")
            XCTAssertNil(none.map(\.count), "[\(server.name)] a partial new file was stored")
            let uploads = try await c.listAllMultipartUploads(bucket)
            XCTAssertTrue(uploads.isEmpty, "[\(server.name)] a streaming upload was left behind: \(uploads)")
        }
    }
}
