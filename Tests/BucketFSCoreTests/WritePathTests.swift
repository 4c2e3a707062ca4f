import Glibc
import Logging
import NIOCore
import S3
import TestSupport
import XCTest
@testable import BucketFSCore

/// The write path's pieces without a mount: range sets, upload plans, metadata encoding, and a
/// staged file against the real servers (streamed upload, server-side copies, reads of ranges).
final class WritePathTests: XCTestCase {
    func testRangeSet() {
        var s = RangeSet()
        s.insert(10..<20)
        s.insert(30..<40)
        s.insert(20..<25)
        XCTAssertEqual(s.ranges, [10..<25, 30..<40])
        XCTAssertEqual(s.gaps(in: 0..<50), [0..<10, 25..<30, 40..<50])
        XCTAssertTrue(s.contains(12..<24))
        XCTAssertFalse(s.contains(24..<31))
        s.remove(15..<35)
        XCTAssertEqual(s.ranges, [10..<15, 35..<40])
        s.insert(0..<100)
        XCTAssertEqual(s.ranges, [0..<100])
        s.truncate(at: 60)
        XCTAssertEqual(s.ranges, [0..<60])
        XCTAssertEqual(s.totalBytes, 60)
        XCTAssertEqual(s.intersection(50..<70), [50..<60])
    }

    /// Every plan covers the file in order, respects the part-size limits and the part count,
    /// and copies only unchanged bytes.
    func checkPlan(size: Int64, copyable: RangeSet, maxParts: Int, file: StaticString = #filePath, line: UInt = #line) -> [PlannedPart] {
        let parts = UploadPlanner.plan(size: size, copyable: copyable, maxParts: maxParts)
        var cursor: Int64 = 0
        for (i, p) in parts.enumerated() {
            XCTAssertEqual(p.number, i + 1, file: file, line: line)
            XCTAssertEqual(p.range.lowerBound, cursor, file: file, line: line)
            if i < parts.count - 1 { XCTAssertGreaterThanOrEqual(p.range.count, 5 << 20, "part \(p.number)", file: file, line: line) }
            XCTAssertLessThanOrEqual(Int64(p.range.count), 5 << 30, file: file, line: line)
            if p.source == .copy { XCTAssertTrue(copyable.contains(p.range), "copy part \(p.range)", file: file, line: line) }
            cursor = p.range.upperBound
        }
        XCTAssertEqual(cursor, size, file: file, line: line)
        XCTAssertLessThanOrEqual(parts.count, maxParts, file: file, line: line)
        return parts
    }

    func testUploadPlans() {
        let gib: Int64 = 1 << 30, mib: Int64 = 1 << 20
        // An append of 1 MiB to 1 GiB: everything copied but the new MiB.
        let append = checkPlan(size: gib + mib, copyable: RangeSet(0..<gib), maxParts: 10_000)
        XCTAssertEqual(append.filter { $0.source == .local }.map(\.range), [gib..<(gib + mib)])
        // A small change in the middle: copies around it, the change padded to 5 MiB.
        var holes = RangeSet(0..<(100 * mib))
        holes.remove((50 * mib)..<(50 * mib + 10))
        let mid = checkPlan(size: 100 * mib, copyable: holes, maxParts: 10_000)
        let sentBytes = mid.filter { $0.source == .local }.reduce(Int64(0)) { $0 + Int64($1.range.count) }
        XCTAssertEqual(sentBytes, 5 * mib)
        // Many scattered changes with a small part limit: still within the limit.
        var scattered = RangeSet(0..<(4 * gib))
        for i in stride(from: Int64(0), to: 4 * gib, by: Int(20 * mib)) { scattered.remove(i..<(i + 1)) }
        _ = checkPlan(size: 4 * gib, copyable: scattered, maxParts: 100)
        // 5 TiB in 10,000 parts; a new file is all local.
        _ = checkPlan(size: 5 << 40, copyable: RangeSet(), maxParts: 10_000)
        XCTAssertTrue(checkPlan(size: 10, copyable: RangeSet(), maxParts: 1000).allSatisfy { $0.source == .local })
        // Streaming parts: boundaries follow the part plan.
        let plan = PartSizePlan(maxParts: 1000, targetObjectSize: 1000 << 30)
        XCTAssertEqual(MultipartWriter.boundary(plan, atMost: 20 * mib), 16 * mib)
        XCTAssertGreaterThanOrEqual(plan.capacity, 1000 << 30)
        XCTAssertEqual(plan.partSize(1), 8 * mib)
    }

    func testMetadataEncodingRoundTrips() {
        let a = NodeAttributes(kind: .file, size: 3, mode: 0o640, uid: 7, gid: 8, mtime: Timestamp(seconds: 1_500_000_000, nanoseconds: 5))
        let m = MetadataCodec.encode(a)
        XCTAssertEqual(m["mode"], String(0o100640))
        XCTAssertEqual(m["mtime"], "1500000000.000000005")
        XCTAssertEqual(MetadataCodec.formatTime(Timestamp(seconds: 7, nanoseconds: 123_456_789)), "7.123456789")
        XCTAssertEqual(MetadataCodec.formatTime(Timestamp(seconds: 7)), "7")
        let back = MetadataCodec.attributes(size: 3, etag: nil, lastModified: nil, metadata: m, isDirectory: false,
                                            defaults: OwnershipDefaults(uid: 0, gid: 0))
        XCTAssertEqual(back.mode, 0o640)
        XCTAssertEqual(back.mtime, a.mtime)
        XCTAssertEqual(MetadataCodec.encode(NodeAttributes(kind: .symlink, size: 1, mode: 0o777, uid: 0, gid: 0, mtime: Timestamp(seconds: 1)))["mode"],
                       String(0o120777))
    }

    func testMetadataMemoIsBoundedAndFollowsETags() {
        let memo = MetadataMemo(capacity: 2)
        let a = NodeAttributes(kind: .file, size: 1, mode: 0o600, uid: 1, gid: 1, mtime: Timestamp(seconds: 5), etag: "e1")
        memo.remember("a", a)
        XCTAssertEqual(memo.recall("a", etag: "e1")?.mode, 0o600)
        XCTAssertNil(memo.recall("a", etag: "e2"), "a changed object is not described by old metadata")
        memo.remember("b", a)
        memo.remember("c", a)
        XCTAssertEqual(memo.count, 2)
        memo.move(prefix: "c", to: "d")
        XCTAssertNotNil(memo.recall("d", etag: "e1"))
    }

    /// A new file's bytes stay in memory up to the limit, move to disk when the file grows past
    /// it or is persisted, read back the same either way, and give their room back.
    func testStagedDataMovesToDisk() throws {
        let dir = NSTemporaryDirectory() + "bfs-data-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let budget = ByteBudget(capacity: 3000)
        var model = [UInt8]()
        func check(_ d: StagedData, _ line: UInt = #line) throws {
            let got = try d.read(at: 0, count: model.count + 10)
            XCTAssertEqual(Array(got.readableBytesView), model + [UInt8](repeating: 0, count: 10), line: line)
            XCTAssertEqual(Array(try d.read(at: 5, count: 3).readableBytesView), Array((model + [0, 0, 0, 0, 0, 0, 0, 0])[5..<8]), line: line)
        }
        let a = try StagedData.create(path: dir + "/a", memoryLimit: 1000, budget: budget)
        XCTAssertFalse(a.isOnDisk)
        XCTAssertFalse(budget.tryAcquire(2001), "room taken for the file in memory")
        try a.write(ByteBuffer(bytes: [1, 2, 3]), at: 0)
        try a.write(ByteBuffer(bytes: [9, 9]), at: 10)  // a hole reads as zeros
        model = [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 9, 9]
        try check(a)
        try a.truncate(4)
        model = [1, 2, 3, 0]
        try check(a)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a"), "nothing on disk yet")
        try a.write(ByteBuffer(bytes: [UInt8](repeating: 7, count: 1200)), at: 4)  // past the limit
        model += [UInt8](repeating: 7, count: 1200)
        XCTAssertTrue(a.isOnDisk)
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: dir + "/a"))[.size] as? Int, 1204)
        try check(a)
        XCTAssertTrue(budget.tryAcquire(3000), "room given back when the bytes moved")
        budget.release(3000)
        let b = try StagedData.create(path: dir + "/b", memoryLimit: 1000, budget: budget)
        model = [5, 6, 7, 8, 9, 10, 11, 12]
        try b.write(ByteBuffer(bytes: model), at: 0)
        try b.persist()
        XCTAssertTrue(b.isOnDisk)
        try check(b)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/b").map { Array($0) }, model)
        // No room in the budget: straight to disk.
        XCTAssertTrue(budget.tryAcquire(3000))
        let c = try StagedData.create(path: dir + "/c", memoryLimit: 1000, budget: budget)
        XCTAssertTrue(c.isOnDisk)
        budget.release(3000)
        let d = try StagedData.create(path: dir + "/d", memoryLimit: 1000, budget: budget)
        d.close()
        XCTAssertTrue(budget.tryAcquire(3000), "closing gives the room back")
        for f in [a, b, c] { f.close() }
    }

    /// Large writes at any offset through a staging file with O_DIRECT: the aligned middle goes
    /// past the page cache, the unaligned ends are written normally, and the bytes read back.
    func testDirectWritesReadBack() throws {
        let dir = NSTemporaryDirectory() + "bfs-direct-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try LocalFile.open(dir + "/f", create: true, direct: true)
        defer { f.close() }
        var model = [UInt8](repeating: 0, count: 3 << 20)
        var x: UInt32 = 7
        for (offset, count) in [(0, 1 << 20), (1000, 200_000), (4096, 65_536), ((1 << 20) + 5, (2 << 20) - 100), (12_288, 100)] {
            let bytes = (0..<count).map { _ -> UInt8 in x = x &* 1_103_515_245 &+ 12345; return UInt8(truncatingIfNeeded: x >> 16) }
            try f.write(ByteBuffer(bytes: bytes), at: Int64(offset))
            model.replaceSubrange(offset..<(offset + count), with: bytes)
        }
        let end = (1 << 20) + 5 + (2 << 20) - 100
        XCTAssertEqual(Array(try f.read(at: 0, count: end).readableBytesView), Array(model[0..<end]))
    }

    /// A new, empty staged file for `key` in a staging area under `dir`: 8 MiB parts (within
    /// the server's part limit), 2 in flight, a writer at most one part ahead.
    func newStagedFile(_ server: TestServer, _ c: S3Client, _ bucket: String, key: String, dir: String,
                       budget: ByteBudget, streamedParts: ByteBudget = ByteBudget(capacity: 8)) throws -> (StagedFile, StagingArea) {
        let logger = Logger(label: "test")
        let area = try StagingArea(root: dir, bucket: bucket, logger: logger)
        let settings = UploadSettings(plan: PartSizePlan(maxParts: server.isSwift ? 1000 : 10_000, targetObjectSize: 1 << 40),
                                      concurrency: 2, maxAhead: 8 << 20, budget: budget, streamedParts: streamedParts)
        let attrs = NodeAttributes(kind: .file, size: 0, mode: 0o644, uid: 0, gid: 0, mtime: .now())
        let f = try StagedFile(area: area, client: c, bucket: bucket, key: key, base: nil, attributes: attrs, metadata: [:],
                               contentType: nil, settings: settings, logger: logger)
        return (f, area)
    }

    /// A staged file against each server: a streamed new file, then an append and an overwrite
    /// that are stored with server-side copies of the unchanged ranges.
    func testStagedFileStreamsAndCopies() async throws {
        try await forEachServerBucket("staged") { server, c, bucket in
            let dir = NSTemporaryDirectory() + "bfs-staging-\(UInt32.random(in: 0...UInt32.max))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            // The budget the mount gives a lone writer: its parts in flight, the part being
            // written and the bytes it may be ahead of them.
            let (f, area) = try newStagedFile(server, c, bucket, key: "s", dir: dir, budget: ByteBudget(capacity: 40 << 20))
            var model = [UInt8]()
            var x: UInt64 = 12345
            for _ in 0..<40 {  // 40 MiB, written in order: streamed
                var chunk = [UInt8](repeating: 0, count: 1 << 20)
                for i in stride(from: 0, to: chunk.count, by: 8) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; chunk[i] = UInt8(truncatingIfNeeded: x) }
                _ = try await f.write(ByteBuffer(bytes: chunk), at: Int64(model.count))
                model += chunk
            }
            let first = try await f.flush()
            XCTAssertEqual(first?.size, Int64(model.count))
            XCTAssertTrue(first?.etag.contains("-") ?? false, "a multipart upload")
            let readBack = await f.partsReadBack
            XCTAssertEqual(readBack, 0, "every part of an in-order write is sent from memory")
            // Append and overwrite near the start: most of the object is copied on the server.
            _ = try await f.write(ByteBuffer(string: "tail"), at: Int64(model.count))
            model += Array("tail".utf8)
            _ = try await f.write(ByteBuffer(string: "HEAD"), at: 100)
            model.replaceSubrange(100..<104, with: Array("HEAD".utf8))
            let sentBefore = await f.bytesSent
            _ = try await f.flush()
            let sent = await f.bytesSent - sentBefore
            XCTAssertLessThanOrEqual(sent, 6 << 20, "only the changed parts travel (\(sent) bytes)")
            let stored = try await c.getObject(bucket, key: "s", maxBytes: 64 << 20)
            XCTAssertEqual(stored.body.map { Array($0.readableBytesView) }, model)
            // Reads of the staged file: local bytes and past the end.
            let r = try await f.read(at: 98, count: 8)
            XCTAssertEqual(Array(r.readableBytesView), Array(model[98..<106]))
            let past = try await f.read(at: Int64(model.count) + 10, count: 5)
            XCTAssertEqual(past.readableBytes, 0)
            _ = try await f.truncate(to: 10)
            _ = try await f.flush()
            let small = try await c.getObject(bucket, key: "s")
            XCTAssertEqual(small.body.map { Array($0.readableBytesView) }, Array(model[0..<10]))
            await f.discard()
            XCTAssertTrue(area.scan().isEmpty, "nothing left staged")
        }
    }

    /// With the upload pool held elsewhere (slow writers' unfinished parts), a streamed file's
    /// parts are read back from disk in chunks instead of waiting for room: the upload finishes.
    func testUploadDoesNotWaitForAFullPool() async throws {
        try await forEachServerBucket("fullpool") { server, c, bucket in
            let dir = NSTemporaryDirectory() + "bfs-staging-\(UInt32.random(in: 0...UInt32.max))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let budget = ByteBudget(capacity: 16 << 20)
            XCTAssertTrue(budget.tryAcquire(16 << 20), "the whole pool taken")
            // One streamed part at a time for the whole mount: the parts take turns.
            let turns = ByteBudget(capacity: 1)
            let (f, _) = try newStagedFile(server, c, bucket, key: "p", dir: dir, budget: budget, streamedParts: turns)
            var model = [UInt8]()
            for i in 0..<24 {
                let chunk = [UInt8](repeating: UInt8(i), count: 1 << 20)
                _ = try await f.write(ByteBuffer(bytes: chunk), at: Int64(model.count))
                model += chunk
            }
            let stored = try await f.flush()
            XCTAssertEqual(stored?.size, Int64(model.count))
            let readBack = await f.partsReadBack
            XCTAssertEqual(readBack, 3, "every part read back from disk")
            XCTAssertEqual(turns.inUse, 0)
            let got = try await c.getObject(bucket, key: "p", maxBytes: 32 << 20)
            XCTAssertEqual(got.body.map { Array($0.readableBytesView) }, model)
            await f.discard()
            budget.release(16 << 20)
        }
    }

    /// Whole-object copies: one CopyObject, or copied parts above the single-copy limit (lowered
    /// here so a small object takes that path); metadata kept or replaced; a stale ETag refused.
    func testServerCopyOfAnySize() async throws {
        try await forEachServerBucket("copy") { server, c, bucket in
            let data = (0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 13) }
            let etag = try await c.putObject(bucket, key: "src", body: ByteBuffer(bytes: data), contentType: "text/x-test",
                                             metadata: ["mode": "33188", "keep": "yes"])
            let single = ServerCopy(client: c, bucket: bucket, maxParts: 1000)
            var parts = single
            parts.singleCopyLimit = 5 << 20
            let replaced = ServerCopy.Replacement(metadata: ["mode": "33152"], contentType: "text/x-new")
            _ = try await single.copy("src", to: "kept", size: Int64(data.count), etag: nil)
            _ = try await parts.copy("src", to: "kept-parts", size: Int64(data.count), etag: etag)
            _ = try await single.copy("src", to: "new", size: Int64(data.count), etag: etag, replacing: replaced)
            _ = try await parts.copy("src", to: "new-parts", size: Int64(data.count), etag: nil, replacing: replaced)
            for key in ["kept", "kept-parts", "new", "new-parts"] {
                let got = try await c.getObject(bucket, key: key, maxBytes: 16 << 20)
                XCTAssertEqual(got.body.map { Array($0.readableBytesView) }, data, "[\(server.name)] \(key)")
                let info = try await c.headObject(bucket, key: key)
                let kept = key.hasPrefix("kept")
                XCTAssertEqual(info.metadata["mode"], kept ? "33188" : "33152", "[\(server.name)] \(key)")
                XCTAssertEqual(info.metadata["keep"], kept ? "yes" : nil, "[\(server.name)] \(key)")
                XCTAssertEqual(info.contentType, kept ? "text/x-test" : "text/x-new", "[\(server.name)] \(key)")
            }
            // A source that changed since its ETag was learnt is not copied.
            _ = try await c.putObject(bucket, key: "src", body: ByteBuffer(string: "changed"))
            for copier in [single, parts] {
                do {
                    _ = try await copier.copy("src", to: "stale", size: Int64(data.count), etag: etag)
                    XCTFail("[\(server.name)] a copy of a changed object")
                } catch let e as S3Error {
                    XCTAssertEqual(e.httpStatus, 412, "[\(server.name)] \(e)")
                }
            }
        }
    }

    /// Which handles bypass the page cache: a write-only one opened alone; never one opened
    /// beside others, and never a reader. A write through a direct handle asks for the pages of
    /// cached handles to be dropped; an open after a direct writer does not keep cached pages.
    func testWriteOnlyHandlesBypassThePageCacheAlone() async throws {
        try await forEachServerBucket("direct") { server, c, bucket in
            let dir = NSTemporaryDirectory() + "bfs-staging-\(UInt32.random(in: 0...UInt32.max))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var cfg = FileSystemConfig(bucket: bucket, ownership: OwnershipDefaults(uid: 0, gid: 0))
            cfg.stagingDirectory = dir
            let fs = try BucketFileSystem(client: c, config: cfg, logger: Logger(label: "t"))
            let caller = Caller(uid: 0, gid: 0)
            let (n, w, _) = try fs.createNow(parent: 1, name: "f", mode: 0o644, flags: O_WRONLY | O_CREAT, caller: caller)
            XCTAssertTrue(w.direct, "a write-only create, alone")
            XCTAssertNil(fs.pageCacheToInvalidate(after: w.fh), "nothing has cached pages of a new file")
            let r = try await fs.open(n.ino, flags: O_RDONLY)
            XCTAssertFalse(r.direct, "readers keep the page cache")
            XCTAssertFalse(r.keepCache, "pages beside a direct writer are not kept")
            _ = try await fs.write(w.fh, offset: 0, data: ByteBuffer(string: "hello"))
            XCTAssertEqual(fs.pageCacheToInvalidate(after: w.fh), n.ino, "a reader caches pages: they are dropped")
            XCTAssertNil(fs.pageCacheToInvalidate(after: r.fh))
            let w2 = try await fs.open(n.ino, flags: O_WRONLY)
            XCTAssertFalse(w2.direct, "a writer beside other handles goes through the page cache")
            try await fs.fsync(w.fh)
            await fs.release(r.fh)
            await fs.release(w2.fh)
            XCTAssertEqual(fs.pageCacheToInvalidate(after: w.fh), n.ino, "a mapping may outlive the reader's handle")
            await fs.release(w.fh)
            let again = try await fs.open(n.ino, flags: O_RDONLY)
            XCTAssertFalse(again.keepCache, "pages cached before the direct writes are dropped")
            let data = try await fs.read(again.fh, offset: 0, size: 10)
            XCTAssertEqual(data.reduce("") { $0 + String(buffer: $1) }, "hello", server.name)
            await fs.release(again.fh)
            let kept = try await fs.open(n.ino, flags: O_RDONLY)
            XCTAssertTrue(kept.keepCache, "then the cache is kept while the object is unchanged")
            await fs.release(kept.fh)
            let rw = try await fs.open(n.ino, flags: O_RDWR)
            XCTAssertFalse(rw.direct, "read-write handles keep the page cache")
            await fs.release(rw.fh)
            var cached = cfg
            cached.cachedWrites = true
            cached.stagingDirectory = dir + "-2"
            defer { try? FileManager.default.removeItem(atPath: cached.stagingDirectory) }
            let fs2 = try BucketFileSystem(client: c, config: cached, logger: Logger(label: "t"))
            let (_, w3, _) = try fs2.createNow(parent: 1, name: "g", mode: 0o644, flags: O_WRONLY | O_CREAT, caller: caller)
            XCTAssertFalse(w3.direct, "-o cached_writes")
            try await fs2.fsync(w3.fh)
            await fs2.release(w3.fh)
            await fs.shutdown()
            await fs2.shutdown()
        }
    }
}

import Foundation
