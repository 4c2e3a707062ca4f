import Glibc
import NIOCore
import S3
import XCTest
@testable import BucketFSCore

final class CoreUnitTests: XCTestCase {
    let defaults = OwnershipDefaults(uid: 10, gid: 20, fileMode: 0o640, dirMode: 0o750)

    func testMetadataCodecReadsS3fsAndRclone() {
        let a = MetadataCodec.attributes(size: 5, etag: "e", lastModified: Timestamp(seconds: 100),
                                         metadata: ["mode": "33261", "uid": "1000", "gid": "1001", "mtime": "1600000000.250000000"],
                                         isDirectory: false, defaults: defaults)
        XCTAssertEqual(a.kind, .file)
        XCTAssertEqual(a.mode, 0o755)
        XCTAssertEqual(a.stMode, UInt32(S_IFREG) | 0o755)
        XCTAssertEqual(a.uid, 1000)
        XCTAssertEqual(a.mtime, Timestamp(seconds: 1_600_000_000, nanoseconds: 250_000_000))
        let link = MetadataCodec.attributes(size: 3, etag: nil, lastModified: nil, metadata: ["mode": "41471"], isDirectory: false, defaults: defaults)
        XCTAssertEqual(link.kind, .symlink)
        let plain = MetadataCodec.attributes(size: 1, etag: nil, lastModified: Timestamp(seconds: 7), metadata: ["mode": "garbage", "mtime": "x"],
                                             isDirectory: false, defaults: defaults)
        XCTAssertEqual(plain.mode, 0o640)
        XCTAssertEqual(plain.uid, 10)
        XCTAssertEqual(plain.mtime, Timestamp(seconds: 7))
        let dir = MetadataCodec.attributes(size: 0, etag: nil, lastModified: nil, metadata: [:], isDirectory: true, defaults: defaults)
        XCTAssertEqual(dir.stMode, UInt32(S_IFDIR) | 0o750)
        XCTAssertEqual(MetadataCodec.parseTime("1600000000.5"), Timestamp(seconds: 1_600_000_000, nanoseconds: 500_000_000))
    }

    /// A tree is deleted deepest first, each directory marker after everything below it.
    func testDeepestFirstWaves() {
        let keys = ["d/", "d/e/", "d/e/f", "d/small", "d/e/g/", "d/e/g/h", "d/x/"]
        let waves = DeepestFirstDelete.waves(keys).map { Set($0) }
        XCTAssertEqual(waves, [["d/e/g/h"], ["d/e/f", "d/e/g/"], ["d/e/", "d/small", "d/x/"], ["d/"]])
        XCTAssertEqual(DeepestFirstDelete.depth("a/b/"), 2)
        XCTAssertEqual(DeepestFirstDelete.depth("a/b"), 2)
    }

    /// A close's meaning from /proc: another writable descriptor of the file with the closer or
    /// its parent means the file is not finished; a read-only one, or one elsewhere, does not.
    func testCloseCensusCountsWritableDescriptors() throws {
        let dir = NSTemporaryDirectory() + "census-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/f"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        var st = stat()
        XCTAssertEqual(stat(file, &st), 0)
        let ino = UInt64(st.st_ino)
        func spawn(_ script: String) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", script]
            try p.run()
            return p
        }
        func child(of p: Process) -> Int32? {
            for _ in 0..<100 {
                if let text = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/task/\(p.processIdentifier)/children", encoding: .utf8),
                   let pid = text.split(separator: " ").first.flatMap({ Int32($0) }) { return pid }
                usleep(20_000)
            }
            return nil
        }
        let census = CloseCensus()
        // The shell holds the file for writing (fd 3); its child `sleep` has no copy of it.
        let writer = try spawn("exec 3>>'\(file)'; sleep 30 3>&-; :")
        defer { writer.terminate() }
        let sleeper = try XCTUnwrap(child(of: writer))
        XCTAssertEqual(census.meaning(pid: writer.processIdentifier, ino: ino, mountID: nil), .stillOpen)
        XCTAssertEqual(census.meaning(pid: sleeper, ino: ino, mountID: nil), .stillOpen, "the parent's descriptor counts")
        XCTAssertEqual(census.meaning(pid: writer.processIdentifier, ino: ino &+ 1, mountID: nil), .last)
        XCTAssertEqual(census.meaning(pid: writer.processIdentifier, ino: ino, mountID: -5), .last, "another mount's descriptor")
        // A reader's descriptor does not keep the file unfinished.
        let reader = try spawn("exec 3<'\(file)'; sleep 30; :")
        defer { reader.terminate() }
        usleep(200_000)
        XCTAssertEqual(census.meaning(pid: reader.processIdentifier, ino: ino, mountID: nil), .last)
        XCTAssertEqual(census.meaning(pid: getpid(), ino: ino, mountID: nil), .last, "the mount's own descriptors never count")
        XCTAssertEqual(census.meaning(pid: 0, ino: ino, mountID: nil), .last)
    }

    func testUmask() {
        var d = defaults
        d.apply(umask: 0o027)
        XCTAssertEqual(d.fileMode, 0o640)
        XCTAssertEqual(d.dirMode, 0o750)
    }

    func testKeyNames() {
        for bad in ["", ".", "..", String(repeating: "x", count: 256), "a/b", "nul\u{0}x"] {
            XCTAssertFalse(KeyNames.isValidName(bad), bad.debugDescription)
        }
        for good in ["a", "...", ".hidden", String(repeating: "x", count: 255), "ü 한글 %+?#"] {
            XCTAssertTrue(KeyNames.isValidName(good), good)
        }
        XCTAssertEqual(KeyNames.normalizePrefix("/some/prefix/"), "some/prefix")
        XCTAssertEqual(KeyNames.normalizePrefix(""), "")
        XCTAssertNil(KeyNames.normalizePrefix("a/../b"))
    }

    func testPrefetcherGrowsOnSequentialAndResetsOnSeek() {
        let mib: Int64 = 1 << 20
        var p = Prefetcher(blockSize: mib, maxWindow: 8 * mib)
        var r = p.onRead(offset: 0, length: 128 << 10, objectSize: 100 * mib)
        XCTAssertEqual(r?.lowerBound, 0)
        XCTAssertLessThanOrEqual(r?.upperBound ?? 0, 2 * mib, "a first read fetches about one block ahead")
        var off: Int64 = 128 << 10
        var last: Range<Int64>?
        for _ in 0..<40 {
            if let x = p.onRead(offset: off, length: 128 << 10, objectSize: 100 * mib) { last = x }
            off += 128 << 10
        }
        XCTAssertEqual(p.window, 8 * mib, "window reaches its maximum")
        XCTAssertNotNil(last)
        XCTAssertLessThanOrEqual(last!.upperBound, off + 8 * mib + mib)
        // A seek far away: nothing is fetched ahead.
        r = p.onRead(offset: 60 * mib, length: 4096, objectSize: 100 * mib)
        XCTAssertNil(r)
        XCTAssertEqual(p.window, 0)
        // Near the end of the object the range stops at the size.
        var q = Prefetcher(blockSize: mib, maxWindow: 8 * mib)
        r = q.onRead(offset: 0, length: 100, objectSize: 1000)
        XCTAssertEqual(r, 0..<1000)
    }

    func testPrefetcherAsksForWholeAlignedChunks() {
        let mib: Int64 = 1 << 20
        var p = Prefetcher(blockSize: mib, maxWindow: 32 * mib, alignment: 8 * mib)
        var ranges: [Range<Int64>] = []
        var off: Int64 = 0
        while off < 200 * mib {
            if let r = p.onRead(offset: off, length: mib, objectSize: 1000 * mib) { ranges.append(r) }
            off += mib
        }
        // Once the window is a chunk or more, every range ends on a chunk boundary, so the
        // reader's GETs are whole 8 MiB chunks (no one-block remnants).
        let late = ranges.filter { $0.lowerBound >= 16 * mib }
        XCTAssertFalse(late.isEmpty)
        for r in late {
            XCTAssertEqual(r.upperBound % (8 * mib), 0, "\(r) ends off a chunk boundary")
            XCTAssertEqual(r.lowerBound % (8 * mib), 0, "\(r) starts off a chunk boundary")
        }
        // Contiguous: each range starts where the previous ended.
        for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
    }

    func testBlockSlicesAcrossSegments() {
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        // Segments of uneven sizes, as a body arrives from the network.
        var segments: [ByteBuffer] = []
        var at = 0
        for n in [1, 99, 300, 0, 250, 350] {
            segments.append(ByteBuffer(bytes: bytes[at..<(at + n)]))
            at += n
        }
        let block = Block(segments: segments)
        XCTAssertEqual(block.count, 1000)
        for (from, to) in [(0, 1000), (0, 1), (1, 100), (50, 450), (399, 401), (999, 1000), (650, 2000), (500, 500)] {
            let got = block.slices(from..<to).flatMap { Array($0.readableBytesView) }
            XCTAssertEqual(got, Array(bytes[min(from, 1000)..<min(to, 1000)]), "\(from)..<\(to)")
        }
        let inner = block.block(100..<700)
        XCTAssertEqual(inner.count, 600)
        XCTAssertEqual(Array(inner.contiguous.readableBytesView), Array(bytes[100..<700]))
    }

    func testBlockAssemblyCutsBodyPartsIntoBlocks() {
        let bytes = (0..<1100).map { UInt8($0 % 253) }
        var a = BlockAssembly(lengths: [400, 400, 300])
        var got: [(Int, [UInt8])] = []
        var at = 0
        // Parts that end inside, exactly on and across block boundaries.
        for n in [150, 250, 1, 548, 1, 150] {
            let done = a.add(ByteBuffer(bytes: bytes[at..<(at + n)]), at: at)
            at += n
            got += done.map { ($0.0, Array($0.1.contiguous.readableBytesView)) }
            // A block is handed out as soon as its last byte has arrived, not later.
            XCTAssertEqual(a.next, [0, 400, 800, 1100].lastIndex { $0 <= at } ?? 0, "after \(at) bytes")
        }
        XCTAssertEqual(got.map(\.0), [0, 1, 2])
        XCTAssertEqual(got.map(\.1), [Array(bytes[0..<400]), Array(bytes[400..<800]), Array(bytes[800..<1100])])
        // A retry starts the body over: the assembly starts over with it.
        var b = BlockAssembly(lengths: [400, 400])
        _ = b.add(ByteBuffer(bytes: bytes[0..<500]), at: 0)
        XCTAssertEqual(b.next, 1)
        let again = b.add(ByteBuffer(bytes: bytes[0..<400]), at: 0)
        XCTAssertEqual(again.map(\.0), [0])
        XCTAssertEqual(again.first.map { Array($0.1.contiguous.readableBytesView) }, Array(bytes[0..<400]))
    }

    func testBlockFeedHandsOutBlocksAsTheyArrive() async throws {
        struct Broken: Error {}
        let feed = BlockFeed()
        let waiting = Task { try await feed.block(1) }
        try await Task.sleep(for: .milliseconds(20))
        feed.deliver(1, Block(ByteBuffer(bytes: [1, 2, 3])))
        let first = try await waiting.value
        XCTAssertEqual(Array(first.contiguous.readableBytesView), [1, 2, 3])
        // Delivered once: a second delivery (a retried body) does not replace it.
        feed.deliver(1, Block(ByteBuffer(bytes: [9])))
        let kept = try await feed.block(1)
        XCTAssertEqual(kept.count, 3)
        // After a failure, blocks not delivered fail, for those waiting and those coming later;
        // the ones delivered stay.
        let stuck = Task { try await feed.block(2) }
        try await Task.sleep(for: .milliseconds(20))
        feed.fail(Broken())
        do {
            _ = try await stuck.value
            XCTFail("a block never delivered was answered")
        } catch is Broken {}
        do {
            _ = try await feed.block(3)
            XCTFail("a block never delivered was answered")
        } catch is Broken {}
        let stays = try await feed.block(1)
        XCTAssertEqual(stays.count, 3)
    }

    func testBlockCacheNeverExceedsItsCap() {
        let cache = BlockCache(capacity: 3000)
        let obj = ObjectVersion(key: "k", etag: "e", size: 10_000)
        for i in 0..<10 {
            cache.insert(BlockKey(object: obj, index: Int64(i)), Block(ByteBuffer(bytes: [UInt8](repeating: UInt8(i), count: 1000))))
            XCTAssertLessThanOrEqual(cache.usedBytes, 3000)
        }
        XCTAssertNil(cache.get(BlockKey(object: obj, index: 0)), "oldest evicted")
        XCTAssertEqual(cache.get(BlockKey(object: obj, index: 9))?.contiguous.readableBytesView.first, 9)
        cache.insert(BlockKey(object: obj, index: 99), Block(ByteBuffer(bytes: [UInt8](repeating: 0, count: 5000))))
        XCTAssertNil(cache.get(BlockKey(object: obj, index: 99)), "a block larger than the cache is not kept")
        let other = ObjectVersion(key: "k", etag: "changed", size: 10_000)
        XCTAssertNil(cache.get(BlockKey(object: other, index: 9)), "another ETag never hits")
    }

    func testInodeTableFollowsLookups() {
        let root = NodeAttributes(kind: .directory, size: 0, mode: 0o755, uid: 0, gid: 0, mtime: Timestamp(seconds: 0))
        let t = InodeTable(rootKey: "", rootAttributes: root)
        let file = NodeAttributes(kind: .file, size: 1, mode: 0o644, uid: 0, gid: 0, mtime: Timestamp(seconds: 0))
        let a = t.upsert(parent: 1, name: "a", key: "a", attributes: file, validUntil: .max)
        let again = t.upsert(parent: 1, name: "a", key: "a", attributes: file, validUntil: .max)
        XCTAssertEqual(a.ino, again.ino, "stable while held")
        XCTAssertEqual(t.count, 2)
        t.forget(a.ino, 1)
        XCTAssertNotNil(t.node(a.ino))
        t.forget(a.ino, 1)
        XCTAssertNil(t.node(a.ino), "dropped at zero")
        XCTAssertEqual(t.count, 1)
        t.forget(1, 100)
        XCTAssertNotNil(t.node(1), "the root stays")
        // A name that became a directory gets a new number.
        let f = t.upsert(parent: 1, name: "b", key: "b", attributes: file, validUntil: .max)
        var dir = file
        dir.kind = .directory
        let d = t.upsert(parent: 1, name: "b", key: "b", attributes: dir, validUntil: .max)
        XCTAssertNotEqual(f.ino, d.ino)
    }

    func testNegativeCacheExpiresAndIsBounded() {
        let n = NegativeCache(ttl: 0.2, capacity: 10)
        n.insert(parent: 1, name: "x")
        XCTAssertTrue(n.isMissing(parent: 1, name: "x"))
        usleep(300_000)
        XCTAssertFalse(n.isMissing(parent: 1, name: "x"))
        for i in 0..<100 { n.insert(parent: 1, name: "n\(i)") }
        XCTAssertTrue(n.isMissing(parent: 1, name: "n99"))
    }

    func testDiskCacheCapAndReopen() throws {
        let dir = NSTemporaryDirectory() + "bfs-disk-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let logger = Logger(label: "test")
        let obj = ObjectVersion(key: "k", etag: "e", size: 100_000)
        do {
            let d = try DiskCache(directory: dir, capacity: 25_000, bucket: "b", blockSize: 10_000, logger: logger)
            for i in 0..<5 { d.put(BlockKey(object: obj, index: Int64(i)), Block(ByteBuffer(bytes: [UInt8](repeating: UInt8(i), count: 10_000)))) }
            XCTAssertLessThanOrEqual(d.usedBytes, 25_000)
            XCTAssertNil(d.get(BlockKey(object: obj, index: 0), expectedLength: 10_000))
            XCTAssertEqual(d.get(BlockKey(object: obj, index: 4), expectedLength: 10_000)?.contiguous.readableBytesView.first, 4)
        }
        let again = try DiskCache(directory: dir, capacity: 25_000, bucket: "b", blockSize: 10_000, logger: logger)
        XCTAssertEqual(again.get(BlockKey(object: obj, index: 4), expectedLength: 10_000)?.count, 10_000, "survives a reopen")
        let smaller = try DiskCache(directory: dir, capacity: 10_000, bucket: "b", blockSize: 10_000, logger: logger)
        XCTAssertLessThanOrEqual(smaller.usedBytes, 10_000, "a smaller cap trims at start")
    }

    /// A block read since it was written gets a second chance: the next unread one goes first.
    /// A range read returns just the asked bytes.
    func testDiskCacheKeepsWhatIsReadAndReadsRanges() throws {
        let dir = NSTemporaryDirectory() + "bfs-disk-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let obj = ObjectVersion(key: "k", etag: "e", size: 100_000)
        let d = try DiskCache(directory: dir, capacity: 30_000, bucket: "b", blockSize: 10_000, logger: Logger(label: "test"))
        func key(_ i: Int) -> BlockKey { BlockKey(object: obj, index: Int64(i)) }
        for i in 0..<3 { d.put(key(i), Block(ByteBuffer(bytes: (0..<10_000).map { UInt8(truncatingIfNeeded: $0 + i) }))) }
        XCTAssertEqual(d.get(key(0), range: 100..<104).map { Array($0.readableBytesView) }, [100, 101, 102, 103])
        d.put(key(3), Block(ByteBuffer(bytes: [UInt8](repeating: 3, count: 10_000))))
        XCTAssertTrue(d.contains(key(0)), "read since written: kept")
        XCTAssertFalse(d.contains(key(1)), "the oldest unread block went")
        XCTAssertTrue(d.contains(key(2)) && d.contains(key(3)))
        XCTAssertNil(d.get(key(2), range: 9_999..<10_001), "a range past the block's end")
        XCTAssertLessThanOrEqual(d.usedBytes, 30_000)
    }
}

import Foundation
import Logging
