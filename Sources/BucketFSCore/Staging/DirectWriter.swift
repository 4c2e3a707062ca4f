#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Writes the aligned parts of a staged file's writes with O_DIRECT, past the page cache: a
/// large file being staged costs no page-cache memory and no second copy in the kernel (on a
/// machine whose memory is touched for the first time, filling the page cache costs more than
/// the upload). Whole 4 KiB blocks at 4 KiB offsets only, through a reused aligned buffer;
/// everything else is left to the caller's buffered descriptor.
final class DirectWriter: Sendable {
    static let alignment = 4096
    static let scratchSize = 1 << 20

    let fd: Int32

    /// Aligned scratch buffers, shared by every staged file: a write holds one only for its own
    /// (synchronous) duration, so there are never more than threads writing, and at most `pooled`
    /// are kept between writes.
    private struct Scratch: @unchecked Sendable { var free: [UnsafeMutableRawPointer] = [] }
    private static let scratch = Mutex(Scratch())
    static let pooled = 4

    /// Linux's O_DIRECT, which Glibc's module does not export (it needs _GNU_SOURCE).
    #if arch(arm64) || arch(arm)
    static let oDirect: Int32 = 0o200000
    #else
    static let oDirect: Int32 = 0o40000
    #endif

    /// nil where the filesystem refuses O_DIRECT (tmpfs, some FUSE filesystems).
    init?(path: String) {
        let fd = open(path, O_WRONLY | O_CLOEXEC | Self.oDirect)
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    /// Writes the whole aligned blocks of `bytes` (at `offset`) directly and answers the range of
    /// `bytes` it wrote (empty when nothing was aligned); the caller writes the rest buffered.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws -> Range<Int> {
        let a = Int64(Self.alignment)
        let firstBlock = (offset + a - 1) / a * a
        let skip = Int(firstBlock - offset)
        guard skip < bytes.count, let base = bytes.baseAddress else { return 0..<0 }
        let length = (bytes.count - skip) / Self.alignment * Self.alignment
        guard length > 0 else { return 0..<0 }
        let buffer = try Self.takeScratch()
        defer { Self.giveBack(buffer) }
        var done = 0
        while done < length {
            let n = min(Self.scratchSize, length - done)
            buffer.copyMemory(from: base + skip + done, byteCount: n)
            var written = 0
            while written < n {
                let w = pwrite(fd, buffer + written, n - written, off_t(firstBlock) + off_t(done + written))
                if w < 0 {
                    if errno == EINTR { continue }
                    throw FSError(errno, "writing staging file: \(String(cString: strerror(errno)))")
                }
                written += w
            }
            done += n
        }
        return skip..<(skip + length)
    }

    func close() { _ = Glibc.close(fd) }

    private static func takeScratch() throws -> UnsafeMutableRawPointer {
        if let p = scratch.withLock({ $0.free.popLast() }) { return p }
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, alignment, scratchSize) == 0, let p else {
            throw FSError(ENOMEM, "no memory for a staging buffer")
        }
        return p
    }

    private static func giveBack(_ p: UnsafeMutableRawPointer) {
        let kept = scratch.withLock { s -> Bool in
            guard s.free.count < pooled else { return false }
            s.free.append(p)
            return true
        }
        if !kept { free(p) }
    }
}
