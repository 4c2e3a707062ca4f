#if canImport(Glibc)
import Glibc
#endif
import CLinuxShims
import NIOCore

/// An open local file used for staging: whole-range pread/pwrite that retry short transfers and
/// EINTR, and turn failures into `FSError`s with the file's errno (ENOSPC reaches the writer).
/// Positional I/O only, so one descriptor is safe to share between threads.
public struct LocalFile: Sendable {
    public let fd: Int32
    public let path: String
    /// Large aligned writes go past the page cache through this, when the filesystem allows.
    let direct: DirectWriter?

    public init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        self.direct = nil
    }

    private init(fd: Int32, path: String, direct: DirectWriter?) {
        self.fd = fd
        self.path = path
        self.direct = direct
    }

    /// Opens (or creates) `path`; with `direct`, whole aligned blocks of large writes bypass the page cache.
    public static func open(_ path: String, create: Bool, direct: Bool = false) throws -> LocalFile {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0o600)
        guard fd >= 0 else { throw FSError(errno, "cannot open staging file \(path): \(String(cString: strerror(errno)))") }
        return LocalFile(fd: fd, path: path, direct: direct ? DirectWriter(path: path) : nil)
    }

    /// Writes at least this much at once go through `direct`.
    static let directMinimum = 64 << 10

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        if let direct, bytes.count >= Self.directMinimum {
            let done = try direct.write(bytes, at: offset)
            if !done.isEmpty {
                try buffered(UnsafeRawBufferPointer(rebasing: bytes[..<done.lowerBound]), at: offset)
                try buffered(UnsafeRawBufferPointer(rebasing: bytes[done.upperBound...]), at: offset + Int64(done.upperBound))
                return
            }
        }
        try buffered(bytes, at: offset)
    }

    private func buffered(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, base + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FSError(errno, "writing staging file \(path): \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    public func write(_ buffer: ByteBuffer, at offset: Int64) throws {
        try buffer.withUnsafeReadableBytes { try write($0, at: offset) }
    }

    /// Reads `count` bytes at `offset`; bytes past the end of the file read as zeros.
    public func read(at offset: Int64, count: Int) throws -> ByteBuffer {
        var buf = ByteBufferAllocator().buffer(capacity: count)
        try buf.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { p in
            guard let base = p.baseAddress, count > 0 else { return 0 }
            var done = 0
            while done < count {
                let n = pread(fd, base + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FSError(errno, "reading staging file \(path): \(String(cString: strerror(errno)))")
                }
                if n == 0 {
                    (base + done).initializeMemory(as: UInt8.self, repeating: 0, count: count - done)
                    done = count
                    break
                }
                done += n
            }
            return done
        }
        return buf
    }

    public func truncate(_ size: Int64) throws {
        while ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR { throw FSError(errno, "truncating staging file \(path): \(String(cString: strerror(errno)))") }
        }
    }

    /// Gives the disk space of `range` back (FALLOC_FL_PUNCH_HOLE, keeping the size): it reads as zeros.
    public func punchHole(_ range: Range<Int64>) throws {
        while bucketfs_punch_hole(fd, off_t(range.lowerBound), off_t(range.count)) != 0 {
            if errno != EINTR { throw FSError(errno, "freeing space in staging file \(path): \(String(cString: strerror(errno)))") }
        }
    }

    public func sync() { _ = fdatasync(fd) }

    public func close() {
        direct?.close()
        _ = Glibc.close(fd)
    }
}
