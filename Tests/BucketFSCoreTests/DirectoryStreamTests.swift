import Logging
import NIOCore
import S3
import TestSupport
import XCTest
@testable import BucketFSCore

/// The core without a mount: listings page correctly, offsets stay valid across pages and after
/// a rewind, and lookups find files and directories, against real servers.
final class DirectoryStreamTests: XCTestCase {
    func testPagingOffsetsAndMerging() async throws {
        for server in try TestServer.all() {
            let c = try server.client()
            let bucket = uniqueBucket("stream")
            do {
                try await c.createBucket(bucket, locationConstraint: server.isSwift ? "KR1" : nil)
                var keys: [String] = []
                for i in 0..<23 { keys.append(String(format: "d/f%02d", i)) }
                keys += ["d/sub/x", "d/same", "d/same/y", "d/", "d/zz/"]
                for k in keys { try await c.putObject(bucket, key: k, body: ByteBuffer(string: "v")) }
                let own = OwnershipDefaults(uid: 0, gid: 0)
                var cfg = FileSystemConfig(bucket: bucket, ownership: own)
                cfg.listPageSize = 5
                // Only reads: no staging directory is made.
                cfg.readOnly = true
                let fs = try BucketFileSystem(client: c, config: cfg, logger: Logger(label: "t"))
                let dir = try await fs.lookup(parent: 1, name: "d")
                XCTAssertTrue(dir.isDirectory)
                let fh = try fs.openDirectory(dir.ino)
                var names: [String] = []
                var offset: Int64 = 0
                while true {
                    let batch = try await fs.readDirectory(fh, offset: offset, limit: 4, plus: true)
                    if batch.isEmpty { break }
                    names += batch.map(\.name)
                    offset = batch.last!.nextOffset
                }
                let expected = [".", ".."] + (0..<23).map { String(format: "f%02d", $0) } + ["same", "sub", "zz"]
                XCTAssertEqual(names.sorted(), expected.sorted(), server.name)
                // Offsets are stable: reading again from the middle gives the same tail.
                let again = try await fs.readDirectory(fh, offset: 10, limit: 3, plus: false)
                XCTAssertEqual(again.map(\.name), Array(names[10..<13]), server.name)
                let rewind = try await fs.readDirectory(fh, offset: 0, limit: 3, plus: false)
                XCTAssertEqual(rewind.map(\.name), Array(names[0..<3]))
                fs.releaseDirectory(fh)
                let same = try await fs.lookup(parent: dir.ino, name: "same")
                XCTAssertTrue(same.isDirectory)
                let f = try await fs.lookup(parent: dir.ino, name: "f03")
                XCTAssertEqual(f.attributes.size, 1)
                do {
                    _ = try await fs.lookup(parent: dir.ino, name: "missing")
                    XCTFail("found a missing name")
                } catch let e as FSError {
                    XCTAssertEqual(e.errno, ENOENT)
                }
                let opened = try await fs.open(f.ino, flags: O_RDONLY)
                let bytes = try await fs.read(opened.fh, offset: 0, size: 100)
                XCTAssertEqual(bytes.map { String(buffer: $0) }.joined(), "v")
                await fs.release(opened.fh)
            } catch {
                XCTFail("[\(server.name)] \(error)")
            }
            await destroyBucket(c, bucket)
            try await c.shutdown()
        }
    }

    /// A sequential reader drops the blocks it has used from the memory tier; random reads keep
    /// theirs. Bytes are checked against the object's either way.
    func testSequentialReadsDropBehindRandomReadsFetchWhatTheyAsk() async throws {
        for server in try TestServer.all() {
            let c = try server.client()
            let bucket = uniqueBucket("drop")
            do {
                try await c.createBucket(bucket, locationConstraint: server.isSwift ? "KR1" : nil)
                let mib = 1 << 20
                var data = [UInt8](repeating: 0, count: 6 * mib + 12345)
                for i in data.indices { data[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 7) }
                try await c.putObject(bucket, key: "f", body: ByteBuffer(bytes: data))
                var cfg = FileSystemConfig(bucket: bucket, ownership: OwnershipDefaults(uid: 0, gid: 0))
                cfg.readOnly = true
                cfg.chunkSize = 2 * mib
                cfg.maxPrefetchWindow = 4 * mib
                // No fill here (the object fits a quarter of the memory cache): see below.
                cfg.fillMaxBytes = 0
                let fs = try BucketFileSystem(client: c, config: cfg, logger: Logger(label: "t"))
                let f = try await fs.lookup(parent: 1, name: "f")
                // As the FUSE bridge reads: from memory if there, else from S3.
                func read(_ fh: UInt64, _ offset: Int, _ size: Int) async throws -> [UInt8] {
                    if let hit = fs.readCached(fh, offset: Int64(offset), size: size) { return hit.flatMap { Array($0.readableBytesView) } }
                    return try await fs.read(fh, offset: Int64(offset), size: size).flatMap { Array($0.readableBytesView) }
                }
                let seq = try await fs.open(f.ino, flags: O_RDONLY)
                var offset = 0
                while offset < data.count {
                    let got = try await read(seq.fh, offset, mib)
                    XCTAssertEqual(got, Array(data[offset..<min(data.count, offset + mib)]), "\(server.name) at \(offset)")
                    offset += mib
                }
                await fs.release(seq.fh)
                // Every block was read whole by one read (the last, short one too): none stays.
                XCTAssertEqual(fs.reader.memory.usedBytes, 0, "\(server.name): blocks behind a sequential reader stay in memory")
                // Random reads (a seek each time): the first jump still reads a whole block; from
                // the second in a row each read fetches exactly what it asks, and keeps nothing.
                let rnd = try await fs.open(f.ino, flags: O_RDONLY)
                for at in [5 * mib + 17, 1 * mib + 3, 3 * mib + 100, 1 * mib + 3] {
                    let got = try await read(rnd.fh, at, 4096)
                    XCTAssertEqual(got, Array(data[at..<(at + 4096)]), server.name)
                }
                XCTAssertEqual(fs.reader.memory.usedBytes, mib, "\(server.name): only the first jump's block is held")
                XCTAssertNil(fs.readCached(rnd.fh, offset: Int64(mib + 3), size: 4096), "\(server.name): a random read keeps no block")
                await fs.release(rnd.fh)
                // With the fill at its default, the object (within a quarter of the memory cache)
                // comes whole into memory in the background, and random reads are answered from it.
                cfg.fillMaxBytes = nil
                let filled = try BucketFileSystem(client: c, config: cfg, logger: Logger(label: "t"))
                let g = try await filled.lookup(parent: 1, name: "f")
                let h = try await filled.open(g.ino, flags: O_RDONLY)
                for at in [5 * mib + 17, 1 * mib + 3, 3 * mib + 100] {
                    if let hit = filled.readCached(h.fh, offset: Int64(at), size: 4096) {
                        XCTAssertEqual(hit.flatMap { Array($0.readableBytesView) }, Array(data[at..<(at + 4096)]))
                    } else {
                        let got = try await filled.read(h.fh, offset: Int64(at), size: 4096).flatMap { Array($0.readableBytesView) }
                        XCTAssertEqual(got, Array(data[at..<(at + 4096)]), server.name)
                    }
                }
                let whole = await waitForCondition(10) { filled.reader.memory.usedBytes == data.count }
                XCTAssertTrue(whole, "\(server.name): the object was fetched whole (\(filled.reader.memory.usedBytes) bytes)")
                let local = filled.readCached(h.fh, offset: Int64(2 * mib + 5), size: 4096)
                XCTAssertEqual(local?.flatMap { Array($0.readableBytesView) }, Array(data[(2 * mib + 5)..<(2 * mib + 5 + 4096)]))
                await filled.release(h.fh)
            } catch {
                XCTFail("[\(server.name)] \(error)")
            }
            await destroyBucket(c, bucket)
            try await c.shutdown()
        }
    }
}

/// Polls `condition` every 50 ms for up to `seconds`; answers whether it came true.
func waitForCondition(_ seconds: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}
