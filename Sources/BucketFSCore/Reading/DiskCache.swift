#if canImport(Glibc)
import Glibc
#endif
import Collections
import Crypto
import Logging
import NIOCore
import S3
import Synchronization

/// The optional disk tier (`-o cache_dir=DIR,cache_size=N`): one file per block under
/// `DIR/blocks/`, named by a hash of bucket, key, ETag, block size and index, so a changed object
/// never hits old blocks and a remount finds the blocks still valid (the index is rebuilt from
/// the files, oldest first). The byte cap is never exceeded: room is made before a block is written.
public final class DiskCache: Sendable {
    /// Files in the order they were written, with a second chance for those read since they
    /// last came to the front (an exact LRU would move an entry on every read, which costs a
    /// shift of the whole index: random 4 KiB reads of a filled object make that the hot path).
    struct State {
        var files: OrderedDictionary<String, Int> = [:]
        var referenced: Set<String> = []
        var used = 0

        /// Marks a cached file as used; answers its size, or nil if it is not cached.
        mutating func touch(_ name: String) -> Int? {
            guard let size = files[name] else { return nil }
            referenced.insert(name)
            return size
        }

        /// Removes files until `bytes` more fit under `capacity`; answers the names removed.
        mutating func evict(toFit bytes: Int, capacity: Int) -> [String] {
            var victims: [String] = []
            while used + bytes > capacity, let first = files.keys.first {
                let size = files.removeValue(forKey: first) ?? 0
                if referenced.remove(first) != nil {
                    files[first] = size
                    continue
                }
                used -= size
                victims.append(first)
            }
            return victims
        }

        mutating func forget(_ name: String) {
            referenced.remove(name)
            if let size = files.removeValue(forKey: name) { used -= size }
        }
    }

    public let directory: String
    public let capacity: Int
    let bucket: String
    let blockSize: Int
    let logger: Logger
    private let state = Mutex(State())

    public init(directory: String, capacity: Int, bucket: String, blockSize: Int, logger: Logger) throws {
        self.directory = directory + "/blocks"
        self.capacity = capacity
        self.bucket = bucket
        self.blockSize = blockSize
        self.logger = logger
        for d in [directory, self.directory] {
            if mkdir(d, 0o700) != 0 && errno != EEXIST {
                throw FSError(errno, "cannot create cache directory \(d): \(String(cString: strerror(errno)))")
            }
        }
        try rebuildIndex()
    }

    /// Scans existing block files (oldest first) and trims to the cap.
    private func rebuildIndex() throws {
        guard let dir = opendir(directory) else { throw FSError(errno, "cannot read \(directory)") }
        defer { closedir(dir) }
        var found: [(name: String, size: Int, mtime: Int)] = []
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            guard name.count == 64 else {
                if name.hasSuffix(".tmp") { unlink(directory + "/" + name) }
                continue
            }
            var st = stat()
            if stat(directory + "/" + name, &st) == 0 { found.append((name, Int(st.st_size), Int(st.st_mtim.tv_sec))) }
        }
        found.sort { $0.mtime < $1.mtime }
        state.withLock { s in
            for f in found { s.files[f.name] = f.size; s.used += f.size }
        }
        makeRoom(for: 0)
        logger.debug("disk cache: \(found.count) blocks, \(usedBytes) bytes in \(directory)")
    }

    func fileName(_ key: BlockKey) -> String {
        let id = "\(bucket)\u{0}\(key.object.key)\u{0}\(key.object.etag)\u{0}\(blockSize)\u{0}\(key.index)"
        return Array(SHA256.hash(data: Array(id.utf8))).hexString
    }

    public var usedBytes: Int { state.withLock { $0.used } }

    /// Evicts least-recently-used files until `bytes` more fit under the cap.
    private func makeRoom(for bytes: Int) {
        let victims = state.withLock { $0.evict(toFit: bytes, capacity: capacity) }
        for v in victims { unlink(directory + "/" + v) }
    }

    /// Whether the block is cached (without reading it).
    public func contains(_ key: BlockKey) -> Bool {
        let name = fileName(key)
        return state.withLock { $0.files[name] != nil }
    }

    /// The block, if cached with the expected length.
    public func get(_ key: BlockKey, expectedLength: Int) -> Block? {
        let name = fileName(key)
        guard state.withLock({ $0.touch(name) != nil }) else { return nil }
        guard let buf = readFile(name, 0..<expectedLength) else {
            logger.warning("disk cache: block \(name) has the wrong size; dropped")
            forgetFile(name)
            unlink(directory + "/" + name)
            return nil
        }
        return Block(buf)
    }

    /// Bytes `range` of the block, if cached (read alone: a random read of a few KiB does not
    /// read the whole block). Counts as a use for eviction.
    public func get(_ key: BlockKey, range: Range<Int>) -> ByteBuffer? {
        let name = fileName(key)
        guard state.withLock({ ($0.touch(name) ?? 0) >= range.upperBound }) else { return nil }
        return readFile(name, range)
    }

    /// Bytes `range` of a cached file, or nil if it cannot be opened (it is then forgotten) or
    /// is shorter.
    private func readFile(_ name: String, _ range: Range<Int>) -> ByteBuffer? {
        let fd = open(directory + "/" + name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { forgetFile(name); return nil }
        defer { close(fd) }
        let length = range.count
        var buf = ByteBufferAllocator().buffer(capacity: length)
        let n = buf.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { ptr in
            guard let base = ptr.baseAddress else { return 0 }
            var done = 0
            while done < length {
                let r = pread(fd, base + done, length - done, off_t(range.lowerBound + done))
                if r <= 0 { break }
                done += r
            }
            return done
        }
        return n == length ? buf : nil
    }

    private func forgetFile(_ name: String) {
        state.withLock { $0.forget(name) }
    }

    /// Writes a block (atomically: temp file, then rename). Room is reserved under the lock
    /// before writing, so concurrent writers never push the directory past the cap.
    /// Failures only cost the cache entry.
    public func put(_ key: BlockKey, _ block: Block) {
        let size = block.count
        guard size <= capacity else { return }
        let name = fileName(key)
        var victims: [String] = []
        let reserved = state.withLock { s -> Bool in
            if s.files[name] != nil { return false }
            victims = s.evict(toFit: size, capacity: capacity)
            s.used += size
            return true
        }
        for v in victims { unlink(directory + "/" + v) }
        guard reserved else { return }
        let tmp = directory + "/" + name + ".\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        var ok = fd >= 0
        if ok {
            for segment in block.segments where ok {
                ok = segment.withUnsafeReadableBytes { ptr -> Bool in
                    guard let base = ptr.baseAddress else { return ptr.isEmpty }
                    var done = 0
                    while done < ptr.count {
                        let w = write(fd, base + done, ptr.count - done)
                        if w <= 0 { return false }
                        done += w
                    }
                    return true
                }
            }
            close(fd)
            ok = ok && rename(tmp, directory + "/" + name) == 0
        }
        if !ok {
            unlink(tmp)
            state.withLock { $0.used -= size }
            return
        }
        state.withLock { $0.files[name] = size }
    }
}
