#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3
import Synchronization

/// The filesystem: POSIX operations on a bucket (or a prefix of one), in terms of inode numbers
/// and handles, with no knowledge of FUSE. Every answer that needs S3 is async; nothing here
/// blocks a caller's thread on the network. Reads and listings are here; writes and namespace
/// changes are in the `BucketFileSystem+*` files (EROFS on a read-only mount).
public final class BucketFileSystem: Sendable {
    public let config: FileSystemConfig
    public let client: S3Client
    public let inodes: InodeTable
    public let reader: ObjectReader
    /// The one bound over the mount's buffers and memory cache.
    public let memory: MemoryBudget
    /// Background fetches of whole objects read at random.
    let fill: ObjectFill
    /// Read-ahead of the next files of a directory read in listing order.
    let nextFiles: NextFilesAhead
    let negative: NegativeCache
    let memo = MetadataMemo()
    /// The directories' metadata records (see `DirectoryRecord`).
    let records: DirectoryRecords
    let logger: Logger

    /// When the mount started: the times of directories that have no marker object.
    let startTime = Timestamp.now()

    struct OpenFile {
        var ino: UInt64
        var object: ObjectVersion
        var prefetcher: Prefetcher
        /// Writes go to the inode's staged file; close uploads it.
        var writable = false
        /// Opened past the kernel's page cache (FOPEN_DIRECT_IO).
        var direct = false
        /// Until when a read of this handle answers ETIMEDOUT at once: the kernel re-reads at
        /// once a range whose read-ahead failed, and that re-read would wait a second timeout.
        var timedOutUntil: UInt64 = 0
        /// A write through this handle clears the set-user-ID and set-group-ID bits (a writer
        /// without CAP_FSETID, as the kernel does for writes through the page cache).
        var clearsSetID = false
        /// The object whose background fill (`ObjectFill`) this handle joined; it leaves it on release.
        var filling: ObjectVersion?
    }

    struct Handles {
        var files: [UInt64: OpenFile] = [:]
        var dirs: [UInt64: (ino: UInt64, stream: DirectoryStream)] = [:]
        var next: UInt64 = 1
        /// Open file handles per inode.
        var openCount: [UInt64: Int] = [:]
        /// Open handles per inode that bypass the page cache: pages cached beside them are not
        /// kept by a later open.
        var directCount: [UInt64: Int] = [:]
    }

    /// What `addHandle` registered.
    struct AddedHandle {
        var fh: UInt64
        /// The inode's staged file, when staging was asked for.
        var staged: StagedFile?
        /// The staged file that `replacing` displaced.
        var replaced: StagedFile?
        /// This handle bypasses the page cache.
        var direct: Bool
        /// A handle that bypasses the page cache was open already: pages the kernel cached
        /// may be stale.
        var besideDirect: Bool
    }

    let handles = Mutex(Handles())
    /// Files being written (or owed an upload), by inode. Recovered files use inodes from `UInt64.max` down.
    let staged = Mutex<[UInt64: StagedFile]>([:])
    let staging: StagingArea?
    let uploadSettings: UploadSettings
    let stagingLock: Int32
    let retryTask = Mutex<Task<Void, Never>?>(nil)
    /// Tells what a close means (`close`); counts descriptors of this mount only once the
    /// mount is live (`mounted(as:)`).
    let census = CloseCensus()
    /// The last errors, for `bucketfs status`.
    public let recentErrors = RecentErrors()
    let mountID = Mutex<Int?>(nil)

    /// Has the kernel forget what it cached of a node (attributes and pages): set by the FUSE
    /// bridge, called when a node's content goes back to the stored object (a set-aside file).
    let forgetCached = Mutex<(@Sendable (UInt64) async -> Void)?>(nil)

    /// The mount is live as `info` (from /proc/self/mountinfo); `forget` drops what the kernel
    /// cached of a node.
    public func mounted(as info: MountInfo, forget: @escaping @Sendable (UInt64) async -> Void) {
        mountID.withLock { $0 = info.id }
        forgetCached.withLock { $0 = forget }
    }

    public init(client: S3Client, config: FileSystemConfig, logger: Logger) throws {
        self.client = client
        // Read-ahead lands in the memory cache: a window larger than the cache leaves room for
        // (minus one GET) would evict blocks before they are read and fetch them again.
        var config = config
        let room = max(config.blockSize, config.memoryCacheBytes - max(config.chunkSize, config.blockSize))
        if config.maxPrefetchWindow > room || config.maxPrefetchInflight > room {
            logger.notice("read-ahead limited to \(room >> 20) MiB by mem_cache_size")
            config.maxPrefetchWindow = min(config.maxPrefetchWindow, room)
            config.maxPrefetchInflight = min(config.maxPrefetchInflight, room)
        }
        self.config = config
        self.logger = logger
        let now = Timestamp.now()
        let root = NodeAttributes(kind: .directory, size: 0, mode: config.ownership.dirMode, uid: config.ownership.uid,
                                  gid: config.ownership.gid, mtime: now)
        inodes = InodeTable(rootKey: config.prefix, rootAttributes: root)
        records = DirectoryRecords(client: client, bucket: config.bucket, memo: memo, readOnly: config.readOnly,
                                   logger: logger) { [config, now] isDir in
            Self.listingAttributes(nil, isDirectory: isDir, config: config, startTime: now)
        }
        negative = NegativeCache(ttl: config.negativeTTL)
        let disk = try config.diskCacheDirectory.map {
            try DiskCache(directory: $0, capacity: config.diskCacheBytes, bucket: config.bucket, blockSize: config.blockSize, logger: logger)
        }
        let cache = BlockCache(capacity: config.memoryCacheBytes)
        let memory = MemoryBudget(capacity: config.memoryLimit, cacheFloor: config.memoryCacheFloor,
                                  readReserve: max(config.chunkSize, config.blockSize), cache: cache)
        self.memory = memory
        reader = ObjectReader(client: client, bucket: config.bucket, blockSize: config.blockSize, chunkSize: config.chunkSize,
                              memory: cache, disk: disk, maxPrefetchBytes: config.maxPrefetchInflight, shared: memory, logger: logger)
        fill = ObjectFill(reader: reader, maxObjectBytes: Int64(config.fillLimit))
        nextFiles = NextFilesAhead(maxFiles: config.filesAhead, maxBytes: Int64(config.filesAheadBytes))
        // 5 TiB in 10,000 parts; with fewer parts (1,000 on Swift s3api, where 1,000 parts of at
        // most 5 GiB cannot reach 5 TiB anyway) 1 GiB a part on average, so parts grow slowly.
        let target = min(Int64(5) << 40, Int64(config.maxParts) << 30)
        // A streaming writer's bytes in memory: up to `maxAhead` not yet handed to parts, the part
        // being written (and one write past its end), and the parts in flight. Kept inside the
        // upload budget, so a lone writer's parts are all sent from memory, never read back from
        // disk. At the defaults: 8 MiB ahead + 8 being written + 4 x 8 in flight, in 56 MiB.
        let inParts = Int64(config.uploadConcurrency + 2) * Int64(config.partSize)
        let maxAhead = max(Int64(config.partSize), Int64(config.uploadBufferBytes) - inParts)
        uploadSettings = UploadSettings(plan: PartSizePlan(maxParts: config.maxParts, minPartSize: Int64(config.partSize),
                                                           targetObjectSize: target),
                                        concurrency: config.uploadConcurrency, maxAhead: maxAhead,
                                        budget: ByteBudget(capacity: config.uploadBufferBytes, shared: memory),
                                        smallFileBudget: config.smallFileMemory > 0 ? ByteBudget(capacity: config.smallFileMemory, shared: memory) : nil,
                                        aborts: config.readOnly ? nil : AbortLedger(client: client, bucket: config.bucket,
                                            path: config.stagingDirectory + "/" + config.bucket + "/aborts.json", logger: logger))
        if config.readOnly {
            staging = nil
            stagingLock = -1
        } else {
            let area = try StagingArea(root: config.stagingDirectory, bucket: config.bucket, logger: logger)
            staging = area
            stagingLock = Glibc.open(area.directory + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if stagingLock >= 0 && flock(stagingLock, LOCK_EX | LOCK_NB) == 0 {
                recoverStaged(area)
            } else {
                logger.notice("staging directory \(area.directory) is in use by another mount: its files are left to it")
            }
            startRetries()
        }
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

    /// Remembers attributes read from or written to S3 for later listings: a file's by key and
    /// ETag, a directory's by its marker key.
    func remember(_ key: String, _ a: NodeAttributes) {
        if a.kind == .directory {
            var d = a
            d.etag = nil
            memo.remember(key + "/", d)
        } else if a.etag != nil {
            memo.remember(key, a)
        }
    }

    func node(_ ino: UInt64) throws -> Node {
        guard let n = inodes.node(ino) else { throw FSError(ESTALE, "unknown inode \(ino)") }
        return n
    }

    // MARK: names

    /// Finds `name` in directory `parent`: one round trip of a HEAD and a one-key LIST at once.
    /// Adds one lookup to the node it answers.
    /// A lookup answered from memory: the node, or `FSError` (ENOENT for a name known to be
    /// missing); nil when it needs the network (then call `lookup`). Never waits.
    public func lookupCached(parent: UInt64, name: String) throws -> Node? {
        let dir = try node(parent)
        guard dir.isDirectory else { throw FSError(ENOTDIR) }
        guard name.utf8.count <= KeyNames.maxNameBytes else { throw FSError(ENAMETOOLONG) }
        guard KeyNames.isValidName(name), name != DirectoryRecord.objectName else { throw FSError.notFound }
        if let n = inodes.child(of: parent, named: name), n.validUntil > MonotonicClock.now() {
            inodes.addLookup(n.ino)
            return n
        }
        if negative.isMissing(parent: parent, name: name) || inodes.isComplete(parent) { throw FSError.notFound }
        return nil
    }

    public func lookup(parent: UInt64, name: String) async throws -> Node {
        if let n = try lookupCached(parent: parent, name: name) { return n }
        let dir = try node(parent)
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
                // The marker holds the directory's mode, owner and times (s3fs's convention; also
                // what chmod and utimens here store): one more HEAD, for directories that have one.
                if let m = try? await headIfExists(marker.key) {
                    attrs = attributes(for: m, isDirectory: true)
                    // A marker without metadata (SeaweedFS keeps none): the parent's record.
                    if !attrs.hasMetadata, let a = await records.current(dir.childPrefix)?.directories[name] { attrs = a }
                    remember(key, attrs)
                }
            }
            return inodes.upsert(parent: parent, name: name, key: key, attributes: attrs, validUntil: ttlDeadline)
        }
        if let info {
            let attrs = attributes(for: info, isDirectory: false)
            remember(key, attrs)
            var n = inodes.upsert(parent: parent, name: name, key: key, attributes: attrs, validUntil: ttlDeadline)
            inodes.update(n.ino) { $0.userMetadata = info.metadata; $0.contentType = info.contentType; $0.headChecked = true }
            n.headChecked = true
            n.userMetadata = info.metadata
            n.contentType = info.contentType
            return n
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
    /// Attributes answered from memory, or nil when they need a HEAD (then call `getattr`).
    public func getattrCached(_ ino: UInt64) throws -> NodeAttributes? {
        let n = try node(ino)
        return n.validUntil > MonotonicClock.now() || n.isDirectory ? n.attributes : nil
    }

    public func getattr(_ ino: UInt64) async throws -> NodeAttributes {
        if let a = try getattrCached(ino) { return a }
        return try await refresh(try node(ino)).attributes
    }

    func refresh(_ n: Node) async throws -> Node {
        guard let info = try await headIfExists(n.key) else {
            inodes.unlinkName(parent: n.parent, name: n.name)
            throw FSError.notFound
        }
        let attrs = attributes(for: info, isDirectory: false)
        remember(n.key, attrs)
        let deadline = ttlDeadline
        inodes.update(n.ino) {
            $0.attributes = attrs; $0.validUntil = deadline; $0.userMetadata = info.metadata; $0.contentType = info.contentType
            $0.headChecked = true
            $0.checkedAt = MonotonicClock.now()
        }
        var m = n
        m.headChecked = true
        m.attributes = attrs
        m.validUntil = deadline
        m.userMetadata = info.metadata
        m.contentType = info.contentType
        return m
    }

    /// A symlink's target known without a request (made here, or vouched for by a record).
    public func readlinkCached(_ ino: UInt64) throws -> String? {
        let n = try node(ino)
        guard n.attributes.kind == .symlink else { throw FSError(EINVAL) }
        return n.attributes.linkTarget
    }

    public func readlink(_ ino: UInt64) async throws -> String {
        if let t = try readlinkCached(ino) { return t }
        let n = try node(ino)
        let out = try await client.getObject(bucket, key: n.key, maxBytes: 4096)
        guard let body = out.body else { throw FSError(EIO) }
        let target = String(decoding: body.readableBytesView, as: UTF8.self)
        inodes.update(ino) { if $0.attributes.etag == out.info.etag { $0.attributes.linkTarget = target } }
        var a = n.attributes
        a.linkTarget = target
        if a.etag == out.info.etag { memo.update(n.key, etag: out.info.etag) { $0.linkTarget = target } }
        return target
    }

    // MARK: directories

    public func openDirectory(_ ino: UInt64) throws -> UInt64 {
        let n = try node(ino)
        guard n.isDirectory else { throw FSError(ENOTDIR) }
        let prefix = n.childPrefix
        let stream = DirectoryStream(client: client, bucket: bucket, prefix: prefix, pageSize: config.listPageSize,
                                     logger: logger, recordLoader: { [records] summary, settled in
            settled ? await records.listed(prefix, record: summary) : await records.read(prefix)
        }) { [config, startTime] object, isDir in
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
        let entries = try await resolved(try await stream.entries(from: max(0, offset - 2), limit: max(1, limit - out.count)),
                                         record: await stream.record, dir: dir)
        if let first = entries.first { nextFiles.listed(ino, names: entries.map(\.name), at: Int(first.nextOffset - 1)) }
        for e in entries {
            var listed = ListedEntry(name: e.name, ino: 0, attributes: e.attributes, nextOffset: e.nextOffset + 2)
            if plus {
                let key = dir.childPrefix + e.name
                if let existing = inodes.child(of: ino, named: e.name), existing.attributes == e.attributes {
                    listed.ino = existing.ino
                } else {
                    listed.ino = inodes.upsert(parent: ino, name: e.name, key: key, attributes: listed.attributes,
                                               validUntil: ttlDeadline, lookups: 0).ino
                }
                negative.remove(parent: ino, name: e.name)
            }
            out.append(listed)
        }
        return out
    }

    /// The attributes listed entries show: a node's fresher ones, or what this mount remembers
    /// of the listed version, or what the directory's record vouches for; with a record (or
    /// `-o posix_metadata`), a HEAD of each entry none of those covers (of a subdirectory's
    /// marker, for subdirectories the record names).
    func resolved(_ entries: [DirectoryEntry], record: DirectoryRecord?, dir: Node) async throws -> [DirectoryEntry] {
        var out = entries
        var unknown: [Int] = []
        let now = MonotonicClock.now()
        let plainFile = attributes(for: nil, isDirectory: false)
        for (i, e) in entries.enumerated() {
            let key = dir.childPrefix + e.name
            if let n = inodes.child(of: dir.ino, named: e.name), Self.listingAgrees(n, e.attributes),
               n.validUntil > now || (n.attributes.kind != .file && n.attributes.kind != .directory
                                      && n.attributes.etag != nil && n.attributes.etag == e.attributes.etag) {
                // A fresher node (from lookup or HEAD) keeps its attributes; so does a known
                // symlink or special file whose object is unchanged.
                out[i].attributes = n.attributes
            } else if let known = recall(key, e.attributes) {
                out[i].attributes = known
            } else if e.attributes.kind == .directory {
                if config.posixMetadata || record?.directories[e.name] != nil { unknown.append(i) }
            } else if let vouched = record?.attributes(of: e.name, listed: e.attributes, defaults: plainFile) {
                out[i].attributes = vouched
                memo.remember(key, vouched)
            } else if config.posixMetadata || record != nil {
                unknown.append(i)
            }
        }
        guard !unknown.isEmpty else { return out }
        let prefix = dir.childPrefix
        try await forEachConcurrently(unknown, limit: config.metadataConcurrency, { i in
            // A directory's metadata is on its marker, if it has one.
            (i, try await self.headIfExists(prefix + entries[i].name + (entries[i].attributes.kind == .directory ? "/" : "")))
        }, each: { (i: Int, info: ObjectInfo?) in
            let isDir = entries[i].attributes.kind == .directory
            // A marker without metadata (SeaweedFS keeps none): the record's attributes.
            if isDir, info.map({ !attributes(for: $0, isDirectory: true).hasMetadata }) ?? true,
               let a = record?.directories[entries[i].name] {
                out[i].attributes = a
                return
            }
            guard let info else { return }
            var attrs = attributes(for: info, isDirectory: isDir)
            if attrs.kind != .directory {
                // Kept under the listed version, which is what later listings and the record compare.
                attrs = attrs.refreshed(etag: entries[i].attributes.etag ?? info.etag, size: entries[i].attributes.size,
                                        stored: entries[i].attributes.stored ?? info.lastModified ?? .now())
            }
            remember(prefix + entries[i].name, attrs)
            out[i].attributes = attrs
        })
        if record != nil { await records.changed(prefix) }
        return out
    }

    /// Attributes this mount read or wrote earlier for the listed object, if it is unchanged.
    func recall(_ key: String, _ listed: NodeAttributes) -> NodeAttributes? {
        if listed.kind == .directory { return memo.recall(key + "/", etag: nil) }
        guard listed.etag != nil else { return nil }
        guard var a = memo.recall(key, etag: listed.etag, size: listed.size, stored: listed.stored) else { return nil }
        a.size = listed.size
        a.stored = listed.stored
        return a
    }

    /// Whether a listing entry can be node `n`: same kind, or a symlink listed as a file.
    static func listingAgrees(_ n: Node, _ listed: NodeAttributes) -> Bool {
        n.attributes.kind == listed.kind || (n.attributes.kind == .symlink && listed.kind == .file)
    }

    // MARK: files

    public struct Opened: Sendable {
        public var fh: UInt64
        public var keepCache: Bool
        /// Bypass the kernel's page cache for this handle.
        public var direct: Bool

        public init(fh: UInt64, keepCache: Bool, direct: Bool) {
            self.fh = fh
            self.keepCache = keepCache
            self.direct = direct
        }
    }

    /// Whether a handle opened with `flags` should bypass the page cache if it is the only one
    /// open: a write-only handle gains nothing from the cache (the kernel would keep a copy of
    /// every byte written, in memory allocated fresh, and copy each byte once more).
    func wantsDirect(_ flags: Int32) -> Bool {
        !config.cachedWrites && flags & O_ACCMODE == O_WRONLY
    }

    /// For a write through `fh`: the inode whose cached pages the kernel must drop, because
    /// `fh` bypasses the page cache and the kernel may hold pages of the inode (a handle that
    /// uses them is open, or was, and a mapping may remain). Recent kernels drop them before
    /// the write themselves; this also covers older ones, and a page read back in meanwhile.
    public func pageCacheToInvalidate(after fh: UInt64) -> UInt64? {
        // A handle that uses the page cache marks the node before its open is answered, so
        // before the kernel can cache a page through it.
        guard let f = handles.withLock({ $0.files[fh] }), f.direct, inodes.node(f.ino)?.pageCacheUsed == true else { return nil }
        return f.ino
    }

    /// `caller` nil: a process allowed to keep set-user-ID bits on write (CAP_FSETID).
    public func open(_ ino: UInt64, flags: Int32, caller: Caller? = nil) async throws -> Opened {
        var n = try node(ino)
        guard !n.isDirectory else { throw FSError(EISDIR) }
        let writable = flags & O_ACCMODE != O_RDONLY
        let truncate = flags & O_TRUNC != 0
        if (writable || truncate) && config.readOnly { throw FSError.readOnly }
        let staged = stagedFile(ino) != nil
        // A writer starts from what HEAD says (If-Match and copy sources use HEAD's ETag). On a
        // read-write mount, an open sees what another client stored before it (close-to-open):
        // attributes older than `closeToOpenSeconds` are checked with a HEAD.
        let now = MonotonicClock.now()
        let closeToOpen = !config.readOnly && now > n.checkedAt &+ UInt64(config.closeToOpenSeconds * 1e9)
        if !staged && (n.validUntil <= now || closeToOpen || ((writable || truncate) && n.attributes.etag != nil && !n.headChecked)) {
            let before = n.attributes.etag
            n = try await refresh(n)
            // Another version: the kernel's cached size and pages of the old one go.
            if before != nil, n.attributes.etag != before, let forget = forgetCached.withLock({ $0 }) { await forget(ino) }
        }
        let etag = n.attributes.etag ?? ""
        let object = ObjectVersion(key: n.key, etag: etag, size: n.attributes.size)
        var file = OpenFile(ino: ino, object: object,
                            prefetcher: Prefetcher(blockSize: Int64(config.blockSize), maxWindow: Int64(config.maxPrefetchWindow), alignment: Int64(config.chunkSize)),
                            writable: writable)
        file.clearsSetID = writable && (caller.map { $0.uid != 0 } ?? false)
        let added = try addHandle(file, stageFrom: writable || truncate ? n : nil, wantsDirect: wantsDirect(flags))
        let (fh, stagedFile, direct) = (added.fh, added.staged, added.direct)
        var keep = false
        inodes.update(ino) { x in
            // Pages cached before a direct writer wrote are not kept.
            keep = x.lastOpenedETag == etag && !etag.isEmpty && !x.pageCacheStale && !added.besideDirect
            x.lastOpenedETag = etag
            if !direct {
                x.pageCacheStale = false
                x.pageCacheUsed = true
            }
        }
        if !writable && !truncate && stagedFile == nil { fetchNextFiles(after: n) }
        if let stagedFile, truncate {
            do {
                if await stagedFile.attributes.size > 0 { mirror(ino, try await stagedFile.truncate(to: 0)) }
            } catch {
                await release(fh)
                throw error
            }
            keep = false
        }
        return Opened(fh: fh, keepCache: truncate ? false : keep, direct: direct)
    }

    /// `n` was opened for reading: if it follows the one opened before in its directory's listing
    /// order, the next small files start coming (`NextFilesAhead`), whole, into the memory cache.
    private func fetchNextFiles(after n: Node) {
        var nodes: [String: Node] = [:]
        let names = nextFiles.opened(n.parent, n.name) { name in
            // A stored file not being written, and not read before in this version: the kernel's
            // page cache may hold it still (unless the mount bypasses it).
            guard let c = inodes.child(of: n.parent, named: name), c.attributes.kind == .file,
                  let etag = c.attributes.etag, !etag.isEmpty, c.attributes.size > 0,
                  c.lastOpenedETag != etag || config.directIO, stagedFile(c.ino) == nil else { return nil }
            nodes[name] = c
            return c.attributes.size
        }
        for name in names {
            guard let c = nodes[name], let etag = c.attributes.etag else { continue }
            reader.prefetch(ObjectVersion(key: c.key, etag: etag, size: c.attributes.size), range: 0..<c.attributes.size)
        }
        if !names.isEmpty { ReaderMetrics.filesAhead.increment(by: names.count) }
    }

    /// Records the read for read-ahead, starts any read-ahead, and answers the bytes if they are
    /// all in memory already (nil otherwise: call `read`). Never waits on the network. A read that
    /// continues a sequential stream drops the blocks it used from memory (see `ObjectReader`).
    public func readCached(_ fh: UInt64, offset: Int64, size: Int) -> [ByteBuffer]? {
        guard let (object, ahead, sequential, random) = handles.withLock({ h -> (ObjectVersion, Range<Int64>?, Bool, Bool)? in
            guard var f = h.files[fh], !isStaged(f.ino) else { return nil }
            let r = f.prefetcher.onRead(offset: offset, length: Int64(size), objectSize: f.object.size)
            h.files[fh] = f
            return (f.object, r, f.prefetcher.isSequential, f.prefetcher.isRandom)
        }) else { return nil }
        if let ahead { reader.prefetch(object, range: ahead) }
        // A random read of what the disk cache holds (a filled object) is answered here too.
        guard let hit = random ? reader.localRead(object, offset: offset, length: size)
                : reader.cachedRead(object, offset: offset, length: size, dropBehind: sequential) else { return nil }
        ReaderMetrics.bytesRead.increment(by: hit.reduce(0) { $0 + $1.readableBytes })
        return hit
    }

    /// The read `readCached` could not answer from memory (it has recorded it already).
    public func read(_ fh: UInt64, offset: Int64, size: Int) async throws -> [ByteBuffer] {
        guard let (object, ino, sequential, random, timedOut) = handles.withLock({ h in
            h.files[fh].map { ($0.object, $0.ino, $0.prefetcher.isSequential, $0.prefetcher.isRandom, $0.timedOutUntil > MonotonicClock.now()) }
        }) else {
            throw FSError(EBADF)
        }
        if timedOut { throw FSError(ETIMEDOUT, "\(object.key): the server did not answer a read a moment ago") }
        if let file = stagedFile(ino) { return [try await file.read(at: offset, count: size)] }
        if random { joinFill(fh, object) }
        do {
            let got = random ? try await reader.readRange(object, offset: offset, length: size)
                : try await reader.read(object, offset: offset, length: size, dropBehind: sequential)
            ReaderMetrics.bytesRead.increment(by: got.reduce(0) { $0 + $1.readableBytes })
            return got
        } catch where FSError.from(error).errno == ETIMEDOUT {
            handles.withLock { $0.files[fh]?.timedOutUntil = MonotonicClock.deadline(after: 1) }
            throw error
        } catch let e as S3Error where e.httpStatus == 412 {
            // Unchanged after all (same size, same LastModified) but known under another ETag:
            // carry on under the one HEAD shows.
            if let stored = inodes.node(ino)?.attributes.stored, let now = try? await client.headObject(bucket, key: object.key),
               now.size == object.size, now.lastModified?.seconds == stored.seconds, now.etag != object.etag {
                let renewed = ObjectVersion(key: object.key, etag: now.etag, size: now.size)
                handles.withLock { $0.files[fh]?.object = renewed }
                inodes.update(ino) { $0.attributes.etag = now.etag; $0.lastOpenedETag = now.etag }
                return try await reader.read(renewed, offset: offset, length: size, dropBehind: sequential)
            }
            // The object changed since open: forget the old attributes so the next open sees the new one.
            if let ino = handles.withLock({ $0.files[fh]?.ino }) { inodes.update(ino) { $0.validUntil = 0 } }
            throw FSError(ESTALE, "\(object.key) changed while open")
        }
    }


    /// A handle read at random joins the fill of its object, once, if the object qualifies.
    private func joinFill(_ fh: UInt64, _ object: ObjectVersion) {
        guard fill.qualifies(object) else { return }
        let join = handles.withLock { h -> Bool in
            guard let f = h.files[fh], f.filling == nil else { return false }
            h.files[fh]?.filling = object
            return true
        }
        if join, !fill.join(object) { handles.withLock { $0.files[fh]?.filling = nil } }
    }

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
