#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// rename(2): server-side copies, then deletes of the old keys (deepest first).
extension BucketFileSystem {
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
            try await records.ensure(to.childPrefix)
            memo.move(prefix: src.key + "/", to: newKey + "/")
            try await renameDirectory(from: src.key, to: newKey)
        } else {
            try await records.ensure(to.childPrefix)
            try await renameFile(src, to: newKey)
        }
        if let dst, !dst.isDirectory, let f = stagedFile(dst.ino) {
            await f.markUnlinked()
            if !isOpen(dst.ino) { await dropStaged(dst.ino, f) }
        }
        await records.changed(KeyNames.parentPrefix(ofKey: src.key))
        await records.changed(to.childPrefix)
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
        var copies: [String: (etag: String, stored: Timestamp?)] = [:]
        // Records are not copied but written anew below, for the copies' versions.
        let recordKeys = keys.filter { $0.key.hasSuffix("/" + DirectoryRecord.objectName) }.map(\.key)
        let objects = keys.filter { !$0.key.hasSuffix("/" + DirectoryRecord.objectName) }
        try await forEachConcurrently(objects, limit: 16, { o in
            let target = newPrefix + o.key.dropFirst(prefix.count)
            return (target, try await self.copyObjectVersion(o.key, to: target, size: o.size))
        }, each: { (k: String, e: (etag: String, stored: Timestamp?)) in
            newETags[k] = e.etag
            copies[k] = e
        })
        for k in recordKeys {
            let dir = String(k.dropLast(DirectoryRecord.objectName.count))
            let newDir = newPrefix + dir.dropFirst(prefix.count)
            try await records.moved(from: dir, to: newDir, copies: copies)
        }
        for (k, c) in copies { if let stored = c.stored { memo.update(k, etag: nil) { $0.etag = c.etag; $0.stored = stored } } }
        try await DeepestFirstDelete(client: client, bucket: bucket).delete(keys.map(\.key))
        for (_, f) in files {
            let k = await f.key
            guard k.hasPrefix(prefix) else { continue }
            let target = newPrefix + k.dropFirst(prefix.count)
            let size = await f.attributes.size
            await f.rekey(to: target, stored: newETags[target].map { ObjectVersion(key: target, etag: $0, size: size) })
        }
    }
}
