#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// Files: create(2) and write(2), into the inode's staged file.
extension BucketFileSystem {

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
        if f.clearsSetID {
            handles.withLock { $0.files[fh]?.clearsSetID = false }
            let mode = await file.attributes.mode
            let cleared = mode & ~UInt32(S_ISUID) & ~(mode & UInt32(S_IXGRP) != 0 ? UInt32(S_ISGID) : 0)
            if cleared != mode { mirror(f.ino, await file.setAttributes { $0.mode = cleared; $0.ctime = .now() }) }
        }
        mirror(f.ino, try await file.write(data, at: offset))
        return data.readableBytes
    }
}
