#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3
import Synchronization

/// The filesystem: POSIX operations on a bucket (or a prefix of one), in terms of inode numbers
/// and handles, with no knowledge of FUSE. Every answer that needs S3 is async; nothing here
/// blocks a caller's thread on the network. Reads and listings are complete; operations that
/// would change the bucket answer EROFS.
public final class BucketFileSystem: Sendable {
    public let config: FileSystemConfig
    public let client: S3Client
    public let inodes: InodeTable
    public let reader: ObjectReader
    let negative: NegativeCache
    let logger: Logger

    /// When the mount started: the times of directories that have no marker object.
    let startTime = Timestamp.now()

    struct OpenFile {
        var ino: UInt64
        var object: ObjectVersion
        var prefetcher: Prefetcher
    }

    struct Handles {
        var files: [UInt64: OpenFile] = [:]
        var dirs: [UInt64: (ino: UInt64, stream: DirectoryStream)] = [:]
        var next: UInt64 = 1
    }

    private let handles = Mutex(Handles())

    public init(client: S3Client, config: FileSystemConfig, logger: Logger) throws {
        self.client = client
        self.config = config
        self.logger = logger
        let now = Timestamp.now()
        let root = NodeAttributes(kind: .directory, size: 0, mode: config.ownership.dirMode, uid: config.ownership.uid,
                                  gid: config.ownership.gid, mtime: now)
        inodes = InodeTable(rootKey: config.prefix, rootAttributes: root)
        negative = NegativeCache(ttl: config.negativeTTL)
        let disk = try config.diskCacheDirectory.map {
            try DiskCache(directory: $0, capacity: config.diskCacheBytes, bucket: config.bucket, blockSize: config.blockSize, logger: logger)
        }
        reader = ObjectReader(client: client, bucket: config.bucket, blockSize: config.blockSize, chunkSize: config.chunkSize,
                              memory: BlockCache(capacity: config.memoryCacheBytes), disk: disk,
                              maxPrefetchBytes: config.maxPrefetchInflight, logger: logger)
    }

    var bucket: String { config.bucket }

    /// Attributes from a listing entry (or, for a directory with no marker, from nothing).
    static func listingAttributes(_ object: ObjectSummary?, isDirectory: Bool, config: FileSystemConfig,
                                  startTime: Timestamp) -> NodeAttributes {
        MetadataCodec.attributes(size: object?.size ?? 0, etag: object?.etag, lastModified: object?.lastModified ?? startTime,
                                 metadata: [:], isDirectory: isDirectory, defaults: config.ownership)
    }

    func attributes(for object: ObjectSummary?, isDirectory: Bool) -> NodeAttributes {
        Self.listingAttributes(object, isDirectory: isDirectory, config: config, startTime: startTime)
    }

    func attributes(for info: ObjectInfo, isDirectory: Bool) -> NodeAttributes {
        MetadataCodec.attributes(size: info.size, etag: info.etag, lastModified: info.lastModified,
                                 metadata: info.metadata, isDirectory: isDirectory, defaults: config.ownership)
    }

    var ttlDeadline: UInt64 { MonotonicClock.deadline(after: config.metadataTTL) }

    func node(_ ino: UInt64) throws -> Node {
        guard let n = inodes.node(ino) else { throw FSError(ESTALE, "unknown inode \(ino)") }
        return n
    }

    // MARK: names

    /// Finds `name` in directory `parent`: one round trip of a HEAD and a one-key LIST at once.
    /// Adds one lookup to the node it answers.
    public func lookup(parent: UInt64, name: String) async throws -> Node {
        let dir = try node(parent)
        guard dir.isDirectory else { throw FSError(ENOTDIR) }
        guard name.utf8.count <= KeyNames.maxNameBytes else { throw FSError(ENAMETOOLONG) }
        guard KeyNames.isValidName(name) else { throw FSError.notFound }
        if let n = inodes.child(of: parent, named: name), n.validUntil > MonotonicClock.now() {
            inodes.addLookup(n.ino)
            return n
        }
        if negative.isMissing(parent: parent, name: name) { throw FSError.notFound }
        let key = dir.childPrefix + name
        async let head: ObjectInfo? = headIfExists(key)
        async let list = client.listObjects(bucket, ListObjectsRequest(prefix: key + "/", maxKeys: 1))
        let (info, page) = try await (head, list)
        if !page.objects.isEmpty || !page.commonPrefixes.isEmpty {
            if info != nil { logger.notice("key \"\(key)\" is hidden by the directory of the same name") }
            var attrs = attributes(for: nil, isDirectory: true)
            if let marker = page.objects.first, marker.key == key + "/" {
                attrs.mtime = marker.lastModified ?? attrs.mtime
                attrs.ctime = attrs.mtime
                attrs.atime = attrs.mtime
                // s3fs keeps a directory's mode and owner on its marker: one more HEAD, only when asked for.
                if config.posixMetadata, let m = try? await headIfExists(marker.key) { attrs = attributes(for: m, isDirectory: true) }
            }
            return inodes.upsert(parent: parent, name: name, key: key, attributes: attrs, validUntil: ttlDeadline)
        }
        if let info {
            return inodes.upsert(parent: parent, name: name, key: key, attributes: attributes(for: info, isDirectory: false),
                                 validUntil: ttlDeadline)
        }
        negative.insert(parent: parent, name: name)
        throw FSError.notFound
    }

    func headIfExists(_ key: String) async throws -> ObjectInfo? {
        do {
            return try await client.headObject(bucket, key: key)
        } catch let e as S3Error where e.errno == ENOENT {
            return nil
        }
    }

    public func forget(_ ino: UInt64, _ n: UInt64) { inodes.forget(ino, n) }

    public func addLookup(_ ino: UInt64) { inodes.addLookup(ino) }

    /// Attributes, refreshed from S3 when their TTL has passed.
    public func getattr(_ ino: UInt64) async throws -> NodeAttributes {
        let n = try node(ino)
        if n.validUntil > MonotonicClock.now() || n.isDirectory { return n.attributes }
        return try await refresh(n).attributes
    }

    func refresh(_ n: Node) async throws -> Node {
        guard let info = try await headIfExists(n.key) else {
            inodes.unlinkName(parent: n.parent, name: n.name)
            throw FSError.notFound
        }
        let attrs = attributes(for: info, isDirectory: false)
        let deadline = ttlDeadline
        inodes.update(n.ino) { $0.attributes = attrs; $0.validUntil = deadline }
        var m = n
        m.attributes = attrs
        m.validUntil = deadline
        return m
    }

    public func readlink(_ ino: UInt64) async throws -> String {
        let n = try node(ino)
        guard n.attributes.kind == .symlink else { throw FSError(EINVAL) }
        let out = try await client.getObject(bucket, key: n.key, maxBytes: 4096)
        guard let body = out.body else { throw FSError(EIO) }
        return String(decoding: body.readableBytesView, as: UTF8.self)
    }

    // MARK: directories

    public func openDirectory(_ ino: UInt64) throws -> UInt64 {
        let n = try node(ino)
        guard n.isDirectory else { throw FSError(ENOTDIR) }
        let stream = DirectoryStream(client: client, bucket: bucket, prefix: n.childPrefix, pageSize: config.listPageSize,
                                     logger: logger) { [config, startTime] object, isDir in
            Self.listingAttributes(object, isDirectory: isDir, config: config, startTime: startTime)
        }
        return handles.withLock { h in
            let fh = h.next
            h.next += 1
            h.dirs[fh] = (ino, stream)
            return fh
        }
    }

    public func releaseDirectory(_ fh: UInt64) { handles.withLock { _ = $0.dirs.removeValue(forKey: fh) } }

    /// One directory entry as readdir hands it out; `ino` is set by `readDirectory(plus: true)`.
    public struct ListedEntry: Sendable {
        public var name: String
        public var ino: UInt64
        public var attributes: NodeAttributes
        public var nextOffset: Int64
    }

    /// Entries from `offset` (0 is the start; offsets 1 and 2 follow "." and ".."). With `plus`,
    /// each entry gets a node (lookup count not yet raised: call `addLookup` for each entry the
    /// kernel is actually given, except "." and "..").
    public func readDirectory(_ fh: UInt64, offset: Int64, limit: Int, plus: Bool) async throws -> [ListedEntry] {
        guard let (ino, stream) = handles.withLock({ $0.dirs[fh] }) else { throw FSError(EBADF) }
        let dir = try node(ino)
        var out: [ListedEntry] = []
        if offset == 0 { out.append(ListedEntry(name: ".", ino: ino, attributes: dir.attributes, nextOffset: 1)) }
        if offset <= 1 {
            let parent = inodes.node(dir.parent) ?? dir
            out.append(ListedEntry(name: "..", ino: parent.ino, attributes: parent.attributes, nextOffset: 2))
        }
        var entries = try await stream.entries(from: max(0, offset - 2), limit: max(1, limit - out.count))
        if config.posixMetadata { entries = try await withPosixMetadata(entries, dir: dir) }
        for e in entries {
            var listed = ListedEntry(name: e.name, ino: 0, attributes: e.attributes, nextOffset: e.nextOffset + 2)
            if plus {
                let key = dir.childPrefix + e.name
                // A fresher node (from lookup or HEAD) keeps its attributes.
                if let existing = inodes.child(of: ino, named: e.name), existing.attributes.kind == e.attributes.kind,
                   existing.validUntil > MonotonicClock.now() {
                    listed.ino = existing.ino
                    listed.attributes = existing.attributes
                } else {
                    listed.ino = inodes.upsert(parent: ino, name: e.name, key: key, attributes: e.attributes,
                                               validUntil: ttlDeadline, lookups: 0).ino
                }
                negative.remove(parent: ino, name: e.name)
            }
            out.append(listed)
        }
        return out
    }

    /// HEADs the files of a listing page (at most `metadataConcurrency` at once) for POSIX metadata.
    func withPosixMetadata(_ entries: [DirectoryEntry], dir: Node) async throws -> [DirectoryEntry] {
        var out = entries
        let now = MonotonicClock.now()
        let todo = entries.indices.filter { i in
            guard entries[i].attributes.kind != .directory else { return false }
            if let n = inodes.child(of: dir.ino, named: entries[i].name), n.validUntil > now { return false }
            return true
        }
        let limit = max(1, config.metadataConcurrency)
        try await withThrowingTaskGroup(of: (Int, ObjectInfo?).self) { group in
            var next = 0
            func launch() {
                guard next < todo.count else { return }
                let i = todo[next]
                next += 1
                let key = dir.childPrefix + entries[i].name
                group.addTask { (i, try await self.headIfExists(key)) }
            }
            for _ in 0..<limit { launch() }
            while let (i, info) = try await group.next() {
                if let info {
                    var attrs = attributes(for: info, isDirectory: false)
                    attrs.size = entries[i].attributes.size
                    out[i].attributes = attrs
                }
                launch()
            }
        }
        for i in out.indices {
            if let n = inodes.child(of: dir.ino, named: out[i].name), n.validUntil > now, n.attributes.kind == out[i].attributes.kind {
                out[i].attributes = n.attributes
            }
        }
        return out
    }

    // MARK: files

    public struct Opened: Sendable {
        public var fh: UInt64
        public var keepCache: Bool
    }

    public func open(_ ino: UInt64, flags: Int32) async throws -> Opened {
        var n = try node(ino)
        guard !n.isDirectory else { throw FSError(EISDIR) }
        if flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0 { throw FSError.readOnly }
        if n.validUntil <= MonotonicClock.now() { n = try await refresh(n) }
        let etag = n.attributes.etag ?? ""
        let keep = n.lastOpenedETag == etag && !etag.isEmpty
        inodes.update(ino) { $0.lastOpenedETag = etag }
        let object = ObjectVersion(key: n.key, etag: etag, size: n.attributes.size)
        let file = OpenFile(ino: ino, object: object,
                            prefetcher: Prefetcher(blockSize: Int64(config.blockSize), maxWindow: Int64(config.maxPrefetchWindow)))
        let fh = handles.withLock { h in
            let fh = h.next
            h.next += 1
            h.files[fh] = file
            return fh
        }
        return Opened(fh: fh, keepCache: keep)
    }

    /// Records the read for read-ahead, starts any read-ahead, and answers the bytes if they are
    /// all in memory already (nil otherwise: call `read`). Never waits on the network.
    public func readCached(_ fh: UInt64, offset: Int64, size: Int) -> [ByteBuffer]? {
        guard let (object, ahead) = handles.withLock({ h -> (ObjectVersion, Range<Int64>?)? in
            guard var f = h.files[fh] else { return nil }
            let r = f.prefetcher.onRead(offset: offset, length: Int64(size), objectSize: f.object.size)
            h.files[fh] = f
            return (f.object, r)
        }) else { return nil }
        if let ahead { reader.prefetch(object, range: ahead) }
        return reader.cachedRead(object, offset: offset, length: size)
    }

    public func read(_ fh: UInt64, offset: Int64, size: Int) async throws -> [ByteBuffer] {
        guard let object = handles.withLock({ $0.files[fh]?.object }) else { throw FSError(EBADF) }
        do {
            return try await reader.read(object, offset: offset, length: size)
        } catch let e as S3Error where e.httpStatus == 412 {
            // The object changed since open: forget the old attributes so the next open sees the new one.
            if let ino = handles.withLock({ $0.files[fh]?.ino }) { inodes.update(ino) { $0.validUntil = 0 } }
            throw FSError(ESTALE, "\(object.key) changed while open")
        }
    }

    public func release(_ fh: UInt64) { handles.withLock { _ = $0.files.removeValue(forKey: fh) } }

    public var openHandleCount: Int { handles.withLock { $0.files.count + $0.dirs.count } }

    // MARK: filesystem

    public struct Statistics: Sendable {
        public var blockSize: UInt64
        public var blocks: UInt64
        public var blocksFree: UInt64
        public var files: UInt64
        public var filesFree: UInt64
        public var nameMax: UInt64
    }

    /// Object storage has no fixed size: `df` shows a large, mostly free filesystem (1 PiB).
    public func statfs() -> Statistics {
        let bs = UInt64(4096)
        let blocks = (UInt64(1) << 50) / bs
        return Statistics(blockSize: bs, blocks: blocks, blocksFree: blocks, files: UInt64(1) << 32,
                          filesFree: UInt64(1) << 32, nameMax: UInt64(KeyNames.maxNameBytes))
    }
}
