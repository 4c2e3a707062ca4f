#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// chmod, chown, utimens and truncate: a staged file changes in place; a stored one is
/// copied onto itself with the new metadata; a directory's marker is written anew.
extension BucketFileSystem {

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
                let parentRecord = ino == InodeTable.rootIno ? nil : KeyNames.parentPrefix(ofKey: n.key)
                if let parentRecord { try await records.ensure(parentRecord) }
                try await client.putObject(bucket, key: n.key + "/", body: ByteBuffer(), contentType: Self.directoryContentType,
                                           metadata: MetadataCodec.encode(a))
                if let parentRecord { await records.changed(parentRecord) }
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
        try await records.ensure(KeyNames.parentPrefix(ofKey: n.key))
        let result = try await serverCopy.copy(n.key, to: n.key, size: n.attributes.size, etag: nil,
                                               replacing: ServerCopy.Replacement(metadata: meta, contentType: n.contentType))
        await records.changed(KeyNames.parentPrefix(ofKey: n.key))
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
}
