#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// Names made and removed: mkdir, mknod, symlink, unlink, rmdir.
extension BucketFileSystem {

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

}
