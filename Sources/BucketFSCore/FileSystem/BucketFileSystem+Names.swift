#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// Names made and removed: mkdir, mknod, symlink, unlink, rmdir.
extension BucketFileSystem {

    public func mkdir(parent: UInt64, name: String, mode: UInt32, caller: Caller) async throws -> Node {
        let (dir, key) = try newName(parent, name)
        let attrs = NodeAttributes(kind: .directory, size: 0, mode: mode & 0o7777, uid: caller.uid, gid: caller.gid, mtime: .now())
        try await records.ensure(dir.childPrefix)
        try await client.putObject(bucket, key: key + "/", body: ByteBuffer(), contentType: Self.directoryContentType,
                                   metadata: MetadataCodec.encode(attrs))
        await records.changed(dir.childPrefix)
        negative.remove(parent: parent, name: name)
        remember(key, attrs)
        let n = inodes.upsert(parent: parent, name: name, key: key, attributes: attrs, validUntil: ttlDeadline)
        // A new directory is empty: names looked up in it need no request for a while.
        inodes.markComplete(n.ino, until: ttlDeadline)
        return n
    }

    /// mknod(2): an empty object whose `mode` metadata carries the file type, and a device's
    /// number in `rdev` (as s3fs stores them). A fifo, socket or device is opened by the kernel
    /// itself; the object only keeps the node.
    public func mknod(parent: UInt64, name: String, mode: UInt32, rdev: UInt64 = 0, caller: Caller) async throws -> Node {
        let kind = mode & UInt32(S_IFMT) == 0 ? NodeKind.file : NodeKind(mode: mode)
        guard let kind, kind != .directory, kind != .symlink else { throw FSError(EINVAL) }
        var attrs = NodeAttributes(kind: kind, size: 0, mode: mode & 0o7777, uid: caller.uid, gid: caller.gid, mtime: .now())
        if kind == .characterDevice || kind == .blockDevice { attrs.rdev = rdev }
        return try await storeEmpty(parent: parent, name: name, attrs, body: ByteBuffer())
    }

    /// symlink(2): an object whose body is the target, with S_IFLNK in its mode (as s3fs stores it).
    public func symlink(target: String, parent: UInt64, name: String, caller: Caller) async throws -> Node {
        guard !target.isEmpty, target.utf8.count < 4096 else { throw FSError(ENAMETOOLONG) }
        var attrs = NodeAttributes(kind: .symlink, size: Int64(target.utf8.count), mode: 0o777, uid: caller.uid,
                                   gid: caller.gid, mtime: .now())
        attrs.linkTarget = target
        return try await storeEmpty(parent: parent, name: name, attrs, body: ByteBuffer(string: target))
    }

    /// The directory and key of a name about to be made: EEXIST if it is known to exist.
    func newName(_ parent: UInt64, _ name: String) throws -> (Node, String) {
        try requireWritable()
        try checkedName(name)
        let dir = try directory(parent)
        if inodes.child(of: parent, named: name) != nil { throw FSError(EEXIST) }
        return (dir, dir.childPrefix + name)
    }

    /// Stores a node that is one small object written at once (symlink, fifo, socket, device,
    /// empty file from mknod).
    private func storeEmpty(parent: UInt64, name: String, _ attributes: NodeAttributes, body: ByteBuffer) async throws -> Node {
        let (dir, key) = try newName(parent, name)
        var attrs = attributes
        try await records.ensure(dir.childPrefix)
        attrs.etag = try await client.putObject(bucket, key: key, body: body, metadata: MetadataCodec.encode(attrs))
        await records.changed(dir.childPrefix)
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
        let page = try await client.listObjects(bucket, ListObjectsRequest(prefix: prefix, maxKeys: 3))
        if page.objects.contains(where: { $0.key != prefix && $0.key != DirectoryRecords.key(prefix) }) || !page.commonPrefixes.isEmpty { return true }
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
        // The record first, the marker last: the directory never vanishes while it holds something.
        try await client.deleteObject(bucket, key: DirectoryRecords.key(key + "/"))
        await records.removed(key + "/")
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
