#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization

/// The bytes of one staged file. A new file starts in memory (up to `memoryLimit` bytes, the
/// room taken from a mount-wide budget) and moves to its file at `path` when it grows past that,
/// when `persist` is called (a failed upload, an unmount that still owes it) or when the budget
/// has no room; a file opened over a stored object starts on disk. Once on disk it stays there.
/// Thread-safe: memory is read and written under a lock; disk I/O is positional, outside it.
public final class StagedData: Sendable {
    public let path: String
    let memoryLimit: Int
    let budget: ByteBudget?

    private enum Backing {
        case memory(ByteBuffer)
        case disk(LocalFile)
        case closed
    }
    private let backing: Mutex<Backing>

    private init(path: String, backing: Backing, memoryLimit: Int, budget: ByteBudget?) {
        self.path = path
        self.backing = Mutex(backing)
        self.memoryLimit = memoryLimit
        self.budget = budget
    }

    /// A new, empty file: in memory when `budget` has `memoryLimit` bytes of room, else created on disk.
    public static func create(path: String, memoryLimit: Int, budget: ByteBudget?) throws -> StagedData {
        if let budget, memoryLimit > 0, budget.tryAcquire(memoryLimit) {
            return StagedData(path: path, backing: .memory(ByteBuffer()), memoryLimit: memoryLimit, budget: budget)
        }
        return StagedData(path: path, backing: .disk(try LocalFile.open(path, create: true, direct: true)), memoryLimit: 0, budget: nil)
    }

    /// The file at `path`, which exists already (a recovered file).
    public static func open(path: String) throws -> StagedData {
        StagedData(path: path, backing: .disk(try LocalFile.open(path, create: false, direct: true)), memoryLimit: 0, budget: nil)
    }

    public var isOnDisk: Bool { backing.withLock { if case .disk = $0 { return true } else { return false } } }

    /// The disk file, after moving the bytes there if they are in memory and `moveIf` says so.
    private func disk(moveIf: (Int) -> Bool) throws -> LocalFile? {
        try backing.withLock { b -> LocalFile? in
            switch b {
            case .disk(let f): return f
            case .closed: throw FSError(EBADF, "staging file \(path) is closed")
            case .memory(let m):
                guard moveIf(m.readableBytes) else { return nil }
                let f = try LocalFile.open(path, create: true, direct: true)
                do {
                    try m.withUnsafeReadableBytes { try f.write($0, at: 0) }
                } catch {
                    f.close()
                    unlink(path)
                    throw error
                }
                b = .disk(f)
                budget?.release(memoryLimit)
                return f
            }
        }
    }

    /// Gives back the disk space of `range` (a file in memory has none to give).
    public func punchHole(_ range: Range<Int64>) throws { try disk { _ in false }?.punchHole(range) }

    /// Moves the bytes to disk (they must survive this process).
    public func persist() throws { _ = try disk { _ in true } }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        let end = offset + Int64(bytes.count)
        if let f = try disk(moveIf: { _ in end > Int64(memoryLimit) }) { return try f.write(bytes, at: offset) }
        try backing.withLock { b in
            guard case .memory(var m) = b else { throw FSError(EBADF, "staging file \(path) changed backing") }
            b = .closed  // m is uniquely referenced while it is written
            let start = Int(offset), stop = Int(end)
            if stop > m.readableBytes { m.writeRepeatingByte(0, count: stop - m.readableBytes) }
            if let base = bytes.baseAddress, !bytes.isEmpty {
                m.withUnsafeMutableReadableBytes { dest in dest.baseAddress.map { ($0 + start).copyMemory(from: base, byteCount: bytes.count) } }
            }
            b = .memory(m)
        }
    }

    public func write(_ buffer: ByteBuffer, at offset: Int64) throws {
        try buffer.withUnsafeReadableBytes { try write($0, at: offset) }
    }

    /// Reads `count` bytes at `offset`; bytes past the end read as zeros.
    public func read(at offset: Int64, count: Int) throws -> ByteBuffer {
        if let f = try disk(moveIf: { _ in false }) { return try f.read(at: offset, count: count) }
        return try backing.withLock { b in
            guard case .memory(let m) = b else { throw FSError(EBADF, "staging file \(path) changed backing") }
            var out = ByteBufferAllocator().buffer(capacity: count)
            let start = min(Int(offset), m.readableBytes)
            let have = min(count, m.readableBytes - start)
            if have > 0, let s = m.getSlice(at: m.readerIndex + start, length: have) { out.writeImmutableBuffer(s) }
            if have < count { out.writeRepeatingByte(0, count: count - max(have, 0)) }
            return out
        }
    }

    public func truncate(_ size: Int64) throws {
        if let f = try disk(moveIf: { _ in size > Int64(memoryLimit) }) { return try f.truncate(size) }
        try backing.withLock { b in
            guard case .memory(var m) = b else { throw FSError(EBADF, "staging file \(path) changed backing") }
            b = .closed
            let n = Int(size)
            if n < m.readableBytes { m.moveWriterIndex(to: m.readerIndex + n) } else { m.writeRepeatingByte(0, count: n - m.readableBytes) }
            b = .memory(m)
        }
    }

    /// Closes the file (the bytes in memory are dropped). The disk file, if any, stays.
    public func close() {
        let old = backing.withLock { b -> Backing in
            defer { b = .closed }
            return b
        }
        switch old {
        case .disk(let f): f.close()
        case .memory: budget?.release(memoryLimit)
        case .closed: break
        }
    }
}
