#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// Writes and namespace changes go through `StagedFile`s (one per inode being written) held
/// here with the open handles; close and fsync return once the object is stored. The other
/// `BucketFileSystem+*` files hold one operation family each.
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
        guard name != DirectoryRecord.objectName else { throw FSError(EPERM, "\(name) is reserved for directories' metadata records") }
    }

    func directory(_ parent: UInt64) throws -> Node {
        let dir = try node(parent)
        guard dir.isDirectory else { throw FSError(ENOTDIR) }
        return dir
    }

    func isOpen(_ ino: UInt64) -> Bool { handles.withLock { ($0.openCount[ino] ?? 0) > 0 } }
}
