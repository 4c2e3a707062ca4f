#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// Changes a caller asks `setattr` for; nil fields stay as they are.
public struct AttributeChanges: Sendable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: Int64?
    public var atime: Timestamp?
    public var mtime: Timestamp?
    public init(mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, size: Int64? = nil,
                atime: Timestamp? = nil, mtime: Timestamp? = nil) {
        self.mode = mode; self.uid = uid; self.gid = gid; self.size = size; self.atime = atime; self.mtime = mtime
    }

    var changesMetadata: Bool { mode != nil || uid != nil || gid != nil || atime != nil || mtime != nil }

    func apply(to a: inout NodeAttributes) {
        if let m = mode { a.mode = m & 0o7777 }
        if let u = uid { a.uid = u }
        if let g = gid { a.gid = g }
        if let t = atime { a.atime = t }
        if let t = mtime { a.mtime = t }
        a.ctime = .now()
    }
}

/// Who is asking: the caller's ids become the owner of what it creates.
public struct Caller: Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public init(uid: UInt32, gid: UInt32) { self.uid = uid; self.gid = gid }
}

/// Writes and namespace changes. Data goes through `StagedFile`s (one per inode being written);
/// close and fsync return once the object is stored. Metadata is stored the s3fs way.
extension BucketFileSystem {
    static let directoryContentType = "application/x-directory"

    func requireWritable() throws {
        if config.readOnly { throw FSError.readOnly }
    }

    func isStaged(_ ino: UInt64) -> Bool { staged.withLock { $0[ino] != nil } }
    func stagedFile(_ ino: UInt64) -> StagedFile? { staged.withLock { $0[ino] } }

    /// Mirrors a staged file's attributes into its node; they are not replaced from S3 while staged.
    func mirror(_ ino: UInt64, _ a: NodeAttributes) {
        inodes.update(ino) { n in
            let etag = n.attributes.etag
            n.attributes = a
            if a.etag == nil { n.attributes.etag = etag }
            n.validUntil = .max
        }
    }

    /// The inode's staged file, made from the stored object if there is none yet.
    func stage(_ n: Node) throws -> StagedFile {
        try staged.withLock { s in try stagedLocked(&s, n) }
    }

    private func stagedLocked(_ s: inout [UInt64: StagedFile], _ n: Node) throws -> StagedFile {
        guard let area = staging else { throw FSError.readOnly }
        if let f = s[n.ino] { return f }
        let base = n.attributes.etag.map { ObjectVersion(key: n.key, etag: $0, size: n.attributes.size) }
        let f = try StagedFile(area: area, client: client, bucket: bucket, key: n.key, base: base, attributes: n.attributes,
                               metadata: n.userMetadata ?? [:], contentType: n.contentType, settings: uploadSettings, logger: logger)
        s[n.ino] = f
        return f
    }

    /// Registers an open handle. With `stageFrom`, the inode's staged file is found or made in
    /// the same step (with `replacing`, a new one replaces any other), so the background
    /// retries never drop a staged file between its making and its first handle. The handle
    /// bypasses the page cache (`direct`) with `-o direct_io`, or if it `wantsDirect` and no
    /// other handle has the inode open.
    func addHandle(_ file: OpenFile, stageFrom n: Node? = nil, replacing: StagedFile? = nil, wantsDirect: Bool = false) throws -> AddedHandle {
        try handles.withLock { h in
            var file = file
            var made: StagedFile?
            var replaced: StagedFile?
            if let replacing {
                staged.withLock { s in
                    replaced = s[file.ino]
                    s[file.ino] = replacing
                }
                made = replacing
            } else if let n {
                made = try staged.withLock { s in try stagedLocked(&s, n) }
            }
            let fh = h.next
            h.next += 1
            let besideDirect = (h.directCount[file.ino] ?? 0) > 0
            file.direct = config.directIO || (wantsDirect && (h.openCount[file.ino] ?? 0) == 0)
            if file.direct { h.directCount[file.ino, default: 0] += 1 }
            h.files[fh] = file
            h.openCount[file.ino, default: 0] += 1
            return AddedHandle(fh: fh, staged: made, replaced: replaced, direct: file.direct, besideDirect: besideDirect)
        }
    }

    /// The inode's staged file (made from `stagingFrom` if given and there is none), held like
    /// an open handle until `unpin`, so that a concurrent release cannot drop it meanwhile.
    func pin(_ ino: UInt64, stagingFrom n: Node? = nil) throws -> StagedFile? {
        try handles.withLock { h in
            let f: StagedFile? = try staged.withLock { s in
                if let f = s[ino] { return f }
                guard let n else { return nil }
                return try stagedLocked(&s, n)
            }
            if f != nil { h.openCount[ino, default: 0] += 1 }
            return f
        }
    }

    /// Lets go of a pinned staged file; the last holder drops it once it owes no upload.
    func unpin(_ ino: UInt64, _ file: StagedFile) async {
        let last = handles.withLock { h -> Bool in
            let c = (h.openCount[ino] ?? 1) - 1
            h.openCount[ino] = c > 0 ? c : nil
            return c <= 0
        }
        if last { await lastHandleGone(ino, file, store: false) }
    }

    func hasWriter(_ ino: UInt64) -> Bool {
        handles.withLock { h in h.files.values.contains { $0.ino == ino && $0.writable } }
    }

    func checkedName(_ name: String) throws {
        guard name.utf8.count <= KeyNames.maxNameBytes else { throw FSError(ENAMETOOLONG) }
        guard KeyNames.isValidName(name) else { throw FSError(EINVAL, "invalid name") }
    }

    func directory(_ parent: UInt64) throws -> Node {
        let dir = try node(parent)
        guard dir.isDirectory else { throw FSError(ENOTDIR) }
        return dir
    }

    // MARK: files

    /// create(2): a new, empty file, open. It reaches the bucket at its first flush (close).
    public func create(parent: UInt64, name: String, mode: UInt32, flags: Int32, caller: Caller) async throws -> (Node, Opened) {
        let (n, opened, replaced) = try createNow(parent: parent, name: name, mode: mode, flags: flags, caller: caller)
        if let replaced { await replaced.markUnlinked() }
        return (n, opened)
    }

    /// `create` without waiting (it touches only memory and the staging directory): answers the
    /// file a still-open earlier file of that name was replaced by, which the caller marks
    /// unlinked (`markUnlinked`) before answering the create.
    public func createNow(parent: UInt64, name: String, mode: UInt32, flags: Int32, caller: Caller) throws -> (Node, Opened, replaced: StagedFile?) {
        try requireWritable()
        try checkedName(name)
        let dir = try directory(parent)
        let key = dir.childPrefix + name
        let attrs = NodeAttributes(kind: .file, size: 0, mode: mode & 0o7777, uid: caller.uid, gid: caller.gid, mtime: .now())
        guard let area = staging else { throw FSError.readOnly }
        let file = try StagedFile(area: area, client: client, bucket: bucket, key: key, base: nil, attributes: attrs,
                                  metadata: [:], contentType: nil, settings: uploadSettings, logger: logger)
        let n = inodes.upsert(parent: parent, name: name, key: key, attributes: attrs, validUntil: .max)
        negative.remove(parent: parent, name: name)
        let open = OpenFile(ino: n.ino, object: ObjectVersion(key: key, etag: "", size: 0),
                            prefetcher: Prefetcher(blockSize: Int64(config.blockSize), maxWindow: Int64(config.maxPrefetchWindow), alignment: Int64(config.chunkSize)),
                            writable: true)
        let added = try addHandle(open, replacing: file, wantsDirect: wantsDirect(flags))
        if !added.direct { inodes.update(n.ino) { $0.pageCacheUsed = true } }
        return (n, Opened(fh: added.fh, keepCache: true, direct: added.direct), added.replaced)
    }

    public func write(_ fh: UInt64, offset: Int64, data: ByteBuffer) async throws -> Int {
        guard let f = handles.withLock({ $0.files[fh] }), f.writable else { throw FSError(EBADF) }
        guard let file = stagedFile(f.ino) else { throw FSError(EIO, "no staged file for an open writer") }
        mirror(f.ino, try await file.write(data, at: offset))
        return data.readableBytes
    }

    func isOpen(_ ino: UInt64) -> Bool { handles.withLock { ($0.openCount[ino] ?? 0) > 0 } }

    // MARK: attributes

    public func setattr(_ ino: UInt64, _ changes: AttributeChanges) async throws -> NodeAttributes {
        try requireWritable()
        var n = try node(ino)
        if let file = try pin(ino) {
            do {
                var a = await file.attributes
                if let size = changes.size { a = try await file.truncate(to: size) }
                if changes.changesMetadata { a = await file.setAttributes { changes.apply(to: &$0) } }
                mirror(ino, a)
                // Without a writer left, nothing else will store it: do it now.
                if !hasWriter(ino) { try await store(file, ino: ino) }
            } catch {
                await unpin(ino, file)
                throw error
            }
            await unpin(ino, file)
            return try node(ino).attributes
        }
        if n.isDirectory {
            if changes.size != nil { throw FSError(EISDIR) }
            var a = n.attributes
            changes.apply(to: &a)
            if !n.key.isEmpty {
                try await client.putObject(bucket, key: n.key + "/", body: ByteBuffer(), contentType: Self.directoryContentType,
                                           metadata: MetadataCodec.encode(a))
            }
            inodes.update(ino) { $0.attributes = a }
            remember(n.key, a)
            return a
        }
        if let size = changes.size {
            if n.validUntil <= MonotonicClock.now() { n = try await refresh(n) }
            guard let file = try pin(ino, stagingFrom: n) else { throw FSError(EIO) }
            do {
                var a = try await file.truncate(to: size)
                if changes.changesMetadata { a = await file.setAttributes { changes.apply(to: &$0) } }
                mirror(ino, a)
                try await store(file, ino: ino)
            } catch {
                await unpin(ino, file)
                throw error
            }
            await unpin(ino, file)
            return try node(ino).attributes
        }
        // Metadata only: one CopyObject onto itself with the new metadata.
        if n.userMetadata == nil || n.validUntil <= MonotonicClock.now() { n = try await refresh(n) }
        var a = n.attributes
        changes.apply(to: &a)
        let meta = (n.userMetadata ?? [:]).filter { !MetadataCodec.ownedNames.contains($0.key) }
            .merging(MetadataCodec.encode(a)) { _, new in new }
        let result = try await serverCopy.copy(n.key, to: n.key, size: n.attributes.size, etag: nil,
                                               replacing: ServerCopy.Replacement(metadata: meta, contentType: n.contentType))
        a.etag = result.etag.isEmpty ? a.etag : result.etag
        a.stored = result.stored
        remember(n.key, a)
        let deadline = ttlDeadline
        inodes.update(ino) { x in
            x.attributes = a
            x.userMetadata = meta
            x.validUntil = deadline
            if x.lastOpenedETag == n.attributes.etag { x.lastOpenedETag = a.etag }
        }
        return a
    }

    // MARK: names

    public func mkdir(parent: UInt64, name: String, mode: UInt32, caller: Caller) async throws -> Node {
        try requireWritable()
        try checkedName(name)
        let dir = try directory(parent)
        let key = dir.childPrefix + name
        let attrs = NodeAttributes(kind: .directory, size: 0, mode: mode & 0o7777, uid: caller.uid, gid: caller.gid, mtime: .now())
        try await client.putObject(bucket, key: key + "/", body: ByteBuffer(), contentType: Self.directoryContentType,
                                   metadata: MetadataCodec.encode(attrs))
        negative.remove(parent: parent, name: name)
        remember(key, attrs)
        let n = inodes.upsert(parent: parent, name: name, key: key, attributes: attrs, validUntil: ttlDeadline)
        // A new directory is empty: names looked up in it need no request for a while.
        inodes.markComplete(n.ino, until: ttlDeadline)
        return n
    }

    /// mknod(2) of a regular file: an empty object. Other kinds have no place in a bucket.
    public func mknod(parent: UInt64, name: String, mode: UInt32, caller: Caller) async throws -> Node {
        try requireWritable()
        guard mode & UInt32(S_IFMT) == UInt32(S_IFREG) || mode & UInt32(S_IFMT) == 0 else { throw FSError(EPERM) }
        try checkedName(name)
        let dir = try directory(parent)
        let key = dir.childPrefix + name
        var attrs = NodeAttributes(kind: .file, size: 0, mode: mode & 0o7777, uid: caller.uid, gid: caller.gid, mtime: .now())
        attrs.etag = try await client.putObject(bucket, key: key, body: ByteBuffer(), metadata: MetadataCodec.encode(attrs))
        negative.remove(parent: parent, name: name)
        remember(key, attrs)
        return inodes.upsert(parent: parent, name: name, key: key, attributes: attrs, validUntil: ttlDeadline)
    }

    /// symlink(2): an object whose body is the target, with S_IFLNK in its mode (as s3fs stores it).
    public func symlink(target: String, parent: UInt64, name: String, caller: Caller) async throws -> Node {
        try requireWritable()
        try checkedName(name)
        guard !target.isEmpty, target.utf8.count < 4096 else { throw FSError(ENAMETOOLONG) }
        let dir = try directory(parent)
        let key = dir.childPrefix + name
        var attrs = NodeAttributes(kind: .symlink, size: Int64(target.utf8.count), mode: 0o777, uid: caller.uid,
                                   gid: caller.gid, mtime: .now())
        attrs.etag = try await client.putObject(bucket, key: key, body: ByteBuffer(string: target), metadata: MetadataCodec.encode(attrs))
        negative.remove(parent: parent, name: name)
        remember(key, attrs)
        return inodes.upsert(parent: parent, name: name, key: key, attributes: attrs, validUntil: ttlDeadline)
    }

    /// The node `parent/name`, from the table or from S3.
    func existing(parent: UInt64, name: String) async throws -> Node? {
        if let n = inodes.child(of: parent, named: name) { return n }
        do {
            let n = try await lookup(parent: parent, name: name)
            inodes.forget(n.ino, 1)
            return n
        } catch let e as FSError where e.errno == ENOENT {
            return nil
        }
    }

    /// Whether anything is stored (or being written) below directory key `key`.
    func hasChildren(_ key: String) async throws -> Bool {
        let prefix = key + "/"
        let page = try await client.listObjects(bucket, ListObjectsRequest(prefix: prefix, maxKeys: 2))
        if page.objects.contains(where: { $0.key != prefix }) || !page.commonPrefixes.isEmpty { return true }
        let files = staged.withLock { Array($0.values) }
        for f in files {
            let (k, gone) = (await f.key, await f.unlinked)
            if k.hasPrefix(prefix) && !gone { return true }
        }
        return false
    }

    public func rmdir(parent: UInt64, name: String) async throws {
        try requireWritable()
        let dir = try directory(parent)
        let key = dir.childPrefix + name
        if try await hasChildren(key) { throw FSError(ENOTEMPTY) }
        try await client.deleteObject(bucket, key: key + "/")
        inodes.unlinkName(parent: parent, name: name)
        negative.insert(parent: parent, name: name)
    }

    public func unlink(parent: UInt64, name: String) async throws {
        try requireWritable()
        let dir = try directory(parent)
        let key = dir.childPrefix + name
        var storedInBucket = true
        if let n = inodes.child(of: parent, named: name) {
            if n.isDirectory { throw FSError(EISDIR) }
            // Open files stay readable after unlink: they keep a local copy until the last close.
            let keepLocal = isOpen(n.ino)
            if let file = try pin(n.ino, stagingFrom: keepLocal ? n : nil) {
                do {
                    storedInBucket = await file.isStored
                    if keepLocal { try await file.materialize() }
                    await file.markUnlinked()
                } catch {
                    await unpin(n.ino, file)
                    throw error
                }
                await unpin(n.ino, file)
            }
        }
        if storedInBucket { try await client.deleteObject(bucket, key: key) }
        inodes.unlinkName(parent: parent, name: name)
        negative.insert(parent: parent, name: name)
    }

    /// rename(2), with RENAME_NOREPLACE (flag 1). A file is copied, then the old name deleted,
    /// so one of the two names always exists; a directory is copied key by key, then the old
    /// keys are deleted (not atomic).
    public func rename(parent: UInt64, name: String, newParent: UInt64, newName: String, flags: UInt32) async throws {
        try requireWritable()
        guard flags & ~UInt32(1) == 0 else { throw FSError(EINVAL) }
        try checkedName(newName)
        _ = try directory(parent)
        let to = try directory(newParent)
        guard let src = try await existing(parent: parent, name: name) else { throw FSError.notFound }
        let dst = try await existing(parent: newParent, name: newName)
        let newKey = to.childPrefix + newName
        if let dst {
            if flags & 1 != 0 { throw FSError(EEXIST) }
            if dst.ino == src.ino { return }
            if src.isDirectory {
                guard dst.isDirectory else { throw FSError(ENOTDIR) }
                if try await hasChildren(dst.key) { throw FSError(ENOTEMPTY) }
                try await client.deleteObject(bucket, key: dst.key + "/")
            } else if dst.isDirectory {
                throw FSError(EISDIR)
            }
        }
        if src.isDirectory {
            guard !(newKey + "/").hasPrefix(src.key + "/") else { throw FSError(EINVAL) }
            try await renameDirectory(from: src.key, to: newKey)
            memo.move(prefix: src.key + "/", to: newKey + "/")
        } else {
            try await renameFile(src, to: newKey)
        }
        if let dst, !dst.isDirectory, let f = stagedFile(dst.ino) {
            await f.markUnlinked()
            if !isOpen(dst.ino) { await dropStaged(dst.ino, f) }
        }
        inodes.move(src.ino, to: newParent, name: newName, key: newKey)
        negative.remove(parent: newParent, name: newName)
        negative.insert(parent: parent, name: name)
    }

    func renameFile(_ src: Node, to newKey: String) async throws {
        let file = try pin(src.ino)
        do {
            try await renameFile(src, to: newKey, staged: file)
        } catch {
            if let file { await unpin(src.ino, file) }
            throw error
        }
        if let file { await unpin(src.ino, file) }
    }

    private func renameFile(_ src: Node, to newKey: String, staged file: StagedFile?) async throws {
        if let file {
            if !(await file.isStored) {
                // Never stored: only the name changes, the upload at close goes to the new key.
                await file.rekey(to: newKey, stored: nil)
                return
            }
            try await store(file, ino: src.ino)
        }
        let n = try node(src.ino)
        let (etag, copied) = try await copyObjectVersion(n.key, to: newKey, size: n.attributes.size)
        try await client.deleteObject(bucket, key: n.key)
        inodes.update(src.ino) { $0.attributes.etag = etag; $0.attributes.stored = copied; $0.headChecked = true }
        memo.forget(n.key)
        var moved = n.attributes
        moved.etag = etag
        moved.stored = copied
        remember(newKey, moved)
        if let file {
            await file.rekey(to: newKey, stored: ObjectVersion(key: newKey, etag: etag, size: n.attributes.size))
        }
    }

    /// The ETag of the copy (see `copyObjectVersion`).
    func copyObject(_ key: String, to newKey: String, size: Int64) async throws -> String {
        try await copyObjectVersion(key, to: newKey, size: size).etag
    }

    /// Server-side copy; above 5 GiB as a multipart upload of copied parts. Returns the new ETag
    /// and, when the server says, the copy's LastModified.
    func copyObjectVersion(_ key: String, to newKey: String, size: Int64) async throws -> (etag: String, stored: Timestamp?) {
        if key.hasSuffix("/") && size == 0 {
            // A directory marker: written anew with its metadata (SeaweedFS cannot copy one).
            let info = try await client.headObject(bucket, key: key)
            return (try await client.putObject(bucket, key: newKey, body: ByteBuffer(), contentType: info.contentType ?? Self.directoryContentType,
                                               metadata: info.metadata), nil)
        }
        return try await serverCopy.copy(key, to: newKey, size: size, etag: nil)
    }

    var serverCopy: ServerCopy { ServerCopy(client: client, bucket: bucket, maxParts: config.maxParts, aborts: uploadSettings.aborts) }

    func renameDirectory(from key: String, to newKey: String) async throws {
        let prefix = key + "/", newPrefix = newKey + "/"
        // Files being written below: stored ones are stored first; new ones just change key.
        var files: [(UInt64, StagedFile)] = []
        for ino in staged.withLock({ Array($0.keys) }) {
            guard let f = try pin(ino) else { continue }
            if await f.key.hasPrefix(prefix) { files.append((ino, f)) } else { await unpin(ino, f) }
        }
        defer {
            let pinned = files
            Task { for (ino, f) in pinned { await self.unpin(ino, f) } }
        }
        for (ino, f) in files where await f.isStored { try await store(f, ino: ino) }
        var keys: [ObjectSummary] = []
        var token: String?
        repeat {
            var req = ListObjectsRequest(prefix: prefix, maxKeys: 1000)
            req.continuationToken = token
            let page = try await client.listObjects(bucket, req)
            keys += page.objects
            token = page.nextToken
        } while token != nil
        var newETags: [String: String] = [:]
        try await forEachConcurrently(keys, limit: 16, { o in
            let target = newPrefix + o.key.dropFirst(prefix.count)
            return (target, try await self.copyObject(o.key, to: target, size: o.size))
        }, each: { (k: String, e: String) in newETags[k] = e })
        try await DeepestFirstDelete(client: client, bucket: bucket).delete(keys.map(\.key))
        for (_, f) in files {
            let k = await f.key
            guard k.hasPrefix(prefix) else { continue }
            let target = newPrefix + k.dropFirst(prefix.count)
            let size = await f.attributes.size
            await f.rekey(to: target, stored: newETags[target].map { ObjectVersion(key: target, etag: $0, size: size) })
        }
    }

    // MARK: background uploads

    /// Staged files an earlier mount left: closed ones are uploaded, the others set aside.
    func recoverStaged(_ area: StagingArea) {
        var synthetic = UInt64.max
        for (id, m) in area.scan() where m.bucket == bucket {
            switch m.state {
            case .pending:
                do {
                    let f = try StagedFile(recovering: id, m, area: area, client: client, settings: uploadSettings,
                                           defaults: config.ownership, logger: logger)
                    staged.withLock { $0[synthetic] = f }
                    synthetic -= 1
                    logger.notice("staging: \(m.key) was closed but not uploaded by an earlier mount; uploading it")
                } catch {
                    logger.error("staging: cannot reopen \(area.dataPath(id)) for \(m.key): \(error)")
                }
            case .open:
                let path = area.keepAside(id, m)
                logger.warning("staging: \(m.key) was being written when an earlier mount stopped; its data is kept in \(path)")
            }
        }
        for path in area.keepAsideUnnamed() {
            logger.warning("staging: a small file was being written when an earlier mount stopped; its data is kept in \(path)")
        }
    }

    func startRetries() {
        let interval = config.uploadRetryInterval
        let task = Task { [weak self] in
            var first = true
            while !Task.isCancelled {
                if !first { try? await Task.sleep(for: .seconds(interval)) }
                first = false
                guard let self else { return }
                await self.retryPending()
            }
        }
        retryTask.withLock { $0 = task }
    }

    /// Uploads staged files that no program holds open and that are still owed an upload.
    func retryPending() async {
        await uploadSettings.aborts?.retry()
        let files = staged.withLock { Array($0) }
        for (ino, f) in files where !isOpen(ino) {
            guard !Task.isCancelled, await f.needsUpload, await f.abandoned == nil else { continue }
            do {
                try await store(f, ino: ino)
                let key = await f.key
                logger.notice("staging: \(key) uploaded")
                await dropStaged(ino, f)
            } catch {
                // Logged by store; tried again later.
            }
        }
    }

    /// At unmount: files still owed an upload stay on disk for the next mount.
    public func shutdown() async {
        // The retries end first (an upload they started is cancelled and keeps its data), so
        // none is still using a staged file when it is closed below.
        let retries = retryTask.withLock { t -> Task<Void, Never>? in
            defer { t = nil }
            return t
        }
        retries?.cancel()
        await retries?.value
        // Closed files not stored yet get one more try, for at most `unmountSyncSeconds`; what is
        // left stays staged for the next mount.
        if !(staged.withLock { $0.isEmpty }) {
            let attempt = Task { await self.sync() }
            let limit = config.unmountSyncSeconds
            let timer = Task {
                try? await Task.sleep(for: .seconds(limit))
                attempt.cancel()
            }
            let failed = await attempt.value
            timer.cancel()
            for f in failed { logger.warning("at unmount: \(f.key) is not stored: \(f.error)") }
        }
        let files = staged.withLock { Array($0.values) }
        for f in files {
            if let why = await f.abandoned {
                let key = await f.key
                let path = await f.setAside()
                logger.warning("\(key) is not stored (\(why)); the written data is kept in \(path)")
            } else if await f.needsUpload {
                let key = await f.key
                await f.closeKeeping()
                logger.warning("\(key) is not uploaded yet; it stays in \(staging?.directory ?? "") and the next mount uploads it")
            } else {
                await f.discard()
            }
        }
        if stagingLock >= 0 { Glibc.close(stagingLock) }
    }

    /// Bytes sent in request bodies by uploads of the staged file of `ino` (for diagnostics).
    public func bytesSent(_ ino: UInt64) async -> Int64 { await stagedFile(ino)?.bytesSent ?? 0 }
}
