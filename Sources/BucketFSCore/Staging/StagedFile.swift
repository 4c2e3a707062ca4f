#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// How staged files upload: shared by every staged file of a mount.
public struct UploadSettings: Sendable {
    public var plan: PartSizePlan
    /// Parts in flight per file.
    public var concurrency: Int
    /// Bytes a streaming writer may be ahead of its parts before it waits.
    public var maxAhead: Int64
    /// Buffers of parts in flight, for the whole mount.
    public var budget: ByteBudget
    /// Bytes per GET when a staged file needs ranges of the stored object.
    public var fetchChunk: Int
    /// Room for new files' first MiB in memory, for the whole mount (nil: always on disk).
    public var smallFileBudget: ByteBudget?
    /// Parts streamed back from staged files in flight at once, for the whole mount (each holds
    /// a chunk or two of 1 MiB while it is sent).
    public var streamedParts: ByteBudget
    /// Where aborts of abandoned uploads go (retried until they succeed); nil: aborted once.
    public var aborts: AbortLedger?

    public init(plan: PartSizePlan, concurrency: Int = 4, maxAhead: Int64 = 64 << 20, budget: ByteBudget, fetchChunk: Int = 8 << 20,
                smallFileBudget: ByteBudget? = nil, streamedParts: ByteBudget = ByteBudget(capacity: 8), aborts: AbortLedger? = nil) {
        self.plan = plan; self.concurrency = concurrency; self.maxAhead = maxAhead; self.budget = budget; self.fetchChunk = fetchChunk
        self.smallFileBudget = smallFileBudget
        self.streamedParts = streamedParts
        self.aborts = aborts
    }

    /// Aborts an upload: through the ledger (retried until gone), or once.
    func abort(_ client: S3Client, bucket: String, key: String, uploadId: String, logger: Logger) async {
        if let aborts { return await aborts.abort(key: key, uploadId: uploadId) }
        do { try await client.abortMultipartUpload(bucket, key: key, uploadId: uploadId) } catch {
            logger.warning("could not abort upload of \(key): \(error); `bucketfs uploads clean` removes it")
        }
    }
}

/// The stored result of an upload, with what the file was stored as.
public struct StoredObject: Sendable {
    public var etag: String
    public var size: Int64
    public var key: String
    public var attributes: NodeAttributes
    public var metadata: [String: String]
    public var contentType: String?
}

/// A file being written, staged (`StagedData`: a new file's first MiB in memory, everything else
/// in a local file under the staging directory), and uploaded on flush. Guarantees:
/// - every byte a program wrote is staged before the write returns, and on local disk once the
///   file holds more than 1 MiB, was opened over a stored object, or failed to upload: nothing
///   closed is ever held only in memory;
/// - bytes of the stored object are fetched only where a read or an upload needs them, with
///   If-Match, so two versions never mix;
/// - a file written from offset 0 onwards streams into a multipart upload while it is written
///   (`MultipartWriter`); any other change falls back to one upload at flush in which unchanged
///   ranges of a large object are server-side copies (`UploadPlanner`);
/// - a flush that fails leaves everything staged and says so in the manifest (state `pending`),
///   so a later flush, or a later mount, can finish it.
public actor StagedFile {
    public let id: String
    let area: StagingArea
    let client: S3Client
    let bucket: String
    let file: StagedData
    let settings: UploadSettings
    let logger: Logger

    public private(set) var key: String
    /// The stored object this file started from (or was last uploaded as).
    var base: ObjectVersion?
    /// Bytes of `base` that still hold at the same offsets (never above `size`).
    var baseValid: Int64
    /// Bytes held locally. Invariant: everything in `[baseValid, size)` is held.
    var present = RangeSet()
    /// Bytes changed since `base`.
    var dirty = RangeSet()
    public private(set) var attributes: NodeAttributes
    var extraMetadata: [String: String]
    var contentType: String?
    public private(set) var needsUpload: Bool
    public private(set) var unlinked = false
    /// Why this file must never be stored: a write failed (the file is not what its writer
    /// meant) or its writer died of a signal mid-file. Once set, the data is only set aside.
    public private(set) var abandoned: String?
    /// The errno of the first write that failed: every later close and fsync answers it.
    public private(set) var writeError: Int32?
    /// Bytes of the streamed upload that the server has acknowledged and that were dropped from
    /// the staged copy when the staging disk was full (`releaseAcknowledged`). Until the upload
    /// completes they can be neither read nor written here (EIO); once it has, they are read from
    /// the stored object like any byte not held locally.
    var released = RangeSet()
    var generation: UInt64 = 0

    var stream: MultipartWriter?
    /// Where the parts handed to `stream` end: a write below it ends the streaming.
    var streamSealed: Int64 = 0
    /// The next part boundary above `streamSealed`: a write reaching it seals a part.
    var nextSealAt: Int64 = 0
    var streamDisabled = false
    /// Mode, owner or times were set (chmod, chown, utimens) after `stream` sent its metadata
    /// with CreateMultipartUpload: the object it completes gets them in a server-side copy.
    var restampStream = false
    var uploading = false
    var uploadWaiters: [CheckedContinuation<Void, Never>] = []
    /// Bytes sent in request bodies by this file's uploads, and bytes copied on the server.
    public private(set) var bytesSent: Int64 = 0
    public private(set) var bytesCopied: Int64 = 0
    /// Parts of streamed uploads read back from the staged file instead of sent from memory.
    public private(set) var partsReadBack = 0

    /// A new staged file for `key`: empty (`base` nil, or truncated) or the stored object `base`.
    public init(area: StagingArea, client: S3Client, bucket: String, key: String, base: ObjectVersion?,
                attributes: NodeAttributes, metadata: [String: String], contentType: String?,
                settings: UploadSettings, logger: Logger) throws {
        id = area.newID()
        self.area = area; self.client = client; self.bucket = bucket; self.key = key
        self.settings = settings; self.logger = logger
        // A new file starts in memory (its first MiB); one over a stored object on disk, where
        // its manifest can describe it. The memory limit is the manifest threshold, so a file
        // with a manifest always has its data on disk.
        file = try StagedData.create(path: area.dataPath(id), memoryLimit: base == nil ? Int(Self.manifestThreshold) : 0,
                                     budget: settings.smallFileBudget)
        self.base = base
        baseValid = base?.size ?? 0
        var a = attributes
        a.size = base?.size ?? 0
        self.attributes = a
        extraMetadata = metadata.filter { !MetadataCodec.ownedNames.contains($0.key) }
        self.contentType = contentType
        needsUpload = base == nil
        if let base {
            try file.truncate(base.size)
            try area.save(StagedManifest(bucket: bucket, key: key, baseETag: base.etag, baseSize: base.size,
                                         baseValid: base.size, size: base.size, present: RangeSet(), dirty: RangeSet(),
                                         metadata: metadata, contentType: contentType, state: .open), id: id, sync: false)
            manifestWritten = true
        }
    }

    /// Whether a manifest describes this file on disk yet. A new file gets one once it holds more
    /// than `manifestThreshold` bytes (or its upload fails), so small files cost no extra writes.
    var manifestWritten = false
    static let manifestThreshold: Int64 = 1 << 20

    /// A staged file an earlier mount left behind.
    public init(recovering id: String, _ m: StagedManifest, area: StagingArea, client: S3Client,
                settings: UploadSettings, defaults: OwnershipDefaults, logger: Logger) throws {
        self.id = id
        self.area = area; self.client = client; bucket = m.bucket; key = m.key
        self.settings = settings; self.logger = logger
        file = try StagedData.open(path: area.dataPath(id))
        base = m.baseETag.map { ObjectVersion(key: m.key, etag: $0, size: m.baseSize) }
        baseValid = m.baseValid
        present = m.present
        dirty = m.dirty
        attributes = MetadataCodec.attributes(size: m.size, etag: nil, lastModified: .now(), metadata: m.metadata,
                                              isDirectory: false, defaults: defaults)
        extraMetadata = m.metadata.filter { !MetadataCodec.ownedNames.contains($0.key) }
        contentType = m.contentType
        needsUpload = true
    }

    func manifest(_ state: StagedManifest.State) -> StagedManifest {
        StagedManifest(bucket: bucket, key: key, baseETag: base?.etag, baseSize: base?.size ?? 0, baseValid: baseValid,
                       size: attributes.size, present: present, dirty: dirty, metadata: uploadMetadata,
                       contentType: contentType, state: state)
    }

    var size: Int64 { attributes.size }

    var uploadMetadata: [String: String] {
        extraMetadata.merging(MetadataCodec.encode(attributes)) { _, new in new }
    }

    /// When the file first changed since it was last stored (nil: stored, or never changed).
    public private(set) var changedSince: Timestamp?

    func changed(touch: Bool) {
        generation += 1
        needsUpload = true
        if changedSince == nil { changedSince = .now() }
        if touch {
            let now = Timestamp.now()
            attributes.mtime = now
            attributes.ctime = now
        }
    }

    // MARK: data

    /// Writes `data` at `offset`; returns the attributes after the write.
    public func write(_ data: ByteBuffer, at offset: Int64) async throws -> NodeAttributes {
        let end = offset + Int64(data.readableBytes)
        if released.intersects(offset..<end) {
            writeError = writeError ?? EIO
            await abandon("a write at \(offset) went to bytes already sent and dropped from the full staging disk")
            throw FSError(EIO, "\(key): the bytes at \(offset) were sent and dropped from the full staging disk; they cannot be rewritten")
        }
        if stream != nil, offset < streamSealed { await abandonStream("a write before the streamed part") }
        do {
            try await writeStaged(data, at: offset)
        } catch {
            let e = FSError.from(error)
            writeError = writeError ?? e.errno
            await abandon("a write at \(offset) failed: \(e)")
            throw e
        }
        if offset > size {
            present.insert(size..<offset)
            dirty.insert(size..<offset)
        }
        present.insert(offset..<end)
        dirty.insert(offset..<end)
        attributes.size = max(size, end)
        changed(touch: true)
        if !manifestWritten && size > Self.manifestThreshold {
            try area.save(manifest(.open), id: id, sync: false)
            manifestWritten = true
        }
        try await streamIfSequential(data, at: offset)
        return attributes
    }

    /// Writes into the staged copy. When the staging disk is full, the parts of the streamed
    /// upload that the server already has are dropped from the copy and the write is tried again,
    /// so a file written in order can be larger than the staging disk.
    func writeStaged(_ data: ByteBuffer, at offset: Int64) async throws {
        while true {
            do {
                return try file.write(data, at: offset)
            } catch let e as FSError where e.errno == ENOSPC {
                // Each turn frees acknowledged bytes or waits for a part in flight to be
                // acknowledged; with neither left, the disk is full for good.
                if await releaseAcknowledged() > 0 { continue }
                guard let s = stream, await s.awaitPartInFlight() else { throw e }
            }
        }
    }

    /// Drops from the staged copy the acknowledged parts of the streamed upload not dropped yet;
    /// answers the bytes freed.
    func releaseAcknowledged() async -> Int64 {
        guard let s = stream else { return 0 }
        var fresh = await s.acknowledged
        for r in released.ranges { fresh.remove(r) }
        var freed: Int64 = 0
        for r in fresh.ranges {
            do { try file.punchHole(r) } catch { continue }
            released.insert(r)
            present.remove(r)
            freed += Int64(r.count)
        }
        if freed > 0 {
            logger.notice("\(key): staging disk full; \(freed >> 20) MiB that the server already has dropped from the staged copy")
        }
        return freed
    }

    /// A file that is new (or was truncated to nothing) and is written in order goes out in parts now.
    func streamIfSequential(_ data: ByteBuffer, at offset: Int64) async throws {
        // Small files (up to 1 MiB) never stream: they are one PUT at close.
        guard !streamDisabled, baseValid == 0, stream != nil || size > Self.manifestThreshold else { return }
        if stream == nil {
            // The bytes written before the stream starts (its first MiB or so) are read back once
            // and offered, so the whole first part goes from memory too. Had more been written
            // already, those parts are read back from the file and memory starts at the next
            // part boundary.
            let head = offset > 0 && offset < settings.plan.partSize(1) ? try file.read(at: 0, count: Int(offset)) : nil
            let from = offset == 0 || head != nil ? 0 : MultipartWriter.nextBoundary(settings.plan, after: offset)
            let s = MultipartWriter(client: client, bucket: bucket, key: key, file: file, settings: settings,
                                    metadata: uploadMetadata, contentType: contentType, memoryFrom: from, logger: logger)
            stream = s
            if let head { await s.offer(head, at: 0) }
        }
        await stream?.offer(data, at: offset)
        // Most writes do not finish a part: one comparison, no walk over the part plan.
        guard size >= nextSealAt else { return }
        let sealed = MultipartWriter.boundary(settings.plan, atMost: size)
        nextSealAt = MultipartWriter.nextBoundary(settings.plan, after: sealed)
        guard sealed > streamSealed else { return }
        streamSealed = sealed
        do {
            try await stream?.advance(sealedEnd: sealed)
        } catch {
            // The data is all here: the upload at flush sends it again in one go.
            await abandonStream("a part failed: \(error)")
        }
    }

    func abandonStream(_ why: String) async {
        guard let s = stream else { return }
        stream = nil
        if !released.isEmpty, abandoned == nil, !unlinked {
            // Its dropped bytes live only in this upload's parts: without it the file cannot be stored.
            abandoned = "its streamed upload had to stop (\(why)) after parts of it were dropped from the full staging disk"
        }
        restampStream = false
        streamDisabled = true
        streamSealed = 0
        nextSealAt = 0
        logger.debug("\(key): streaming upload abandoned (\(why)); the file is sent whole at close")
        await s.abort()
    }

    public func truncate(to newSize: Int64) async throws -> NodeAttributes {
        guard newSize >= 0 else { throw FSError(EINVAL) }
        if stream != nil, newSize < streamSealed { await abandonStream("truncated") }
        await stream?.dropMemory()
        try file.truncate(newSize)
        if newSize < size {
            present.truncate(at: newSize)
            dirty.truncate(at: newSize)
            baseValid = min(baseValid, newSize)
        } else if newSize > size {
            present.insert(size..<newSize)
            dirty.insert(size..<newSize)
        }
        attributes.size = newSize
        changed(touch: true)
        return attributes
    }

    public func read(at offset: Int64, count: Int) async throws -> ByteBuffer {
        let end = min(size, offset + Int64(count))
        guard offset < end else { return ByteBuffer() }
        if released.intersects(offset..<end) {
            throw FSError(EIO, "\(key): bytes at \(offset) were sent and dropped from the full staging disk; readable once the file is stored")
        }
        try await fetch(offset..<end)
        return try file.read(at: offset, count: Int(end - offset))
    }

    /// Makes `r` local: fetches the bytes of the stored object it still needs.
    func fetch(_ r: Range<Int64>) async throws {
        let wanted = r.clamped(to: 0..<baseValid)
        guard let base, !wanted.isEmpty else { return }
        var pieces: [Range<Int64>] = []
        for gap in present.gaps(in: wanted) {
            var s = gap.lowerBound
            while s < gap.upperBound {
                let e = min(gap.upperBound, s + Int64(settings.fetchChunk))
                pieces.append(s..<e)
                s = e
            }
        }
        guard !pieces.isEmpty else { return }
        let (client, bucket) = (client, bucket)
        try await forEachConcurrently(pieces, limit: settings.concurrency, { p in
            let out = try await client.readUnchanged(bucket, key: base.key, etag: base.etag) { ifMatch in
                try await client.getObject(bucket, key: base.key, range: p.lowerBound...(p.upperBound - 1),
                                           ifMatch: ifMatch, maxBytes: Int(p.count))
            }
            guard let body = out.body, body.readableBytes == p.count else {
                throw FSError(EIO, "\(base.key): short read of the stored object")
            }
            return (p, body)
        }, each: { (p: Range<Int64>, body: ByteBuffer) in
            // Bytes written while the GET was out are newer than the stored ones: keep them.
            for g in present.gaps(in: p) where g.upperBound <= baseValid {
                guard let slice = body.getSlice(at: body.readerIndex + Int(g.lowerBound - p.lowerBound), length: Int(g.count)) else {
                    throw FSError(EIO, "\(key): short read of the stored object")
                }
                try file.write(slice, at: g.lowerBound)
                present.insert(g)
            }
        })
    }

    /// Fetches every byte still only in the stored object (before that object goes away).
    public func materialize() async throws { try await fetch(0..<size) }

    // MARK: metadata and names

    public func setAttributes(_ body: (inout NodeAttributes) -> Void) -> NodeAttributes {
        let oldSize = size
        body(&attributes)
        attributes.size = oldSize
        changed(touch: false)
        if stream != nil { restampStream = true }
        return attributes
    }

    /// Marks the file as never to be stored (`abandoned`); a streaming upload is aborted.
    public func abandon(_ why: String) async {
        guard abandoned == nil else { return }
        abandoned = why
        await abandonStream(why)
    }

    /// Moves the local copy out of the staging directory into `recovered/` (with a manifest that
    /// says which object and version it was written over) and closes it; returns where it went.
    public func setAside() async -> String {
        await abandonStream("set aside")
        var path = area.dataPath(id)
        do {
            try file.persist()
            let m = manifest(.open)
            file.close()
            path = area.keepAside(id, m)
        } catch {
            logger.error("\(key): cannot set the staged data aside: \(error)")
            file.close()
        }
        return path
    }

    public func markUnlinked() {
        unlinked = true
        needsUpload = false
        Task { await abandonStream("unlinked") }
    }

    /// The file now lives at `newKey`; `stored` is the object there (nil if it was never stored).
    public func rekey(to newKey: String, stored: ObjectVersion?) async {
        await abandonStream("renamed")
        streamDisabled = false
        key = newKey
        if let stored { base = stored } else if base != nil {
            base = nil
            baseValid = 0
        }
        if file.isOnDisk { try? area.save(manifest(.open), id: id, sync: false) }
    }

    /// Whether the file was ever stored (a new file that was never flushed was not).
    public var isStored: Bool { base != nil }

    // MARK: upload

    /// Uploads the file if it changed since the last upload. Returns the stored object, or nil
    /// if there was nothing to do. On failure everything stays staged (manifest `pending`).
    /// `prepare` runs first, with the key (the directory's metadata record must exist); its
    /// failure is the upload's: the data stays staged.
    public func flush(prepare: (@Sendable (String) async throws -> Void)? = nil) async throws -> StoredObject? {
        while uploading { await withCheckedContinuation { uploadWaiters.append($0) } }
        if let abandoned { throw FSError(writeError ?? EIO, "\(key) is not stored: \(abandoned)") }
        guard needsUpload, !unlinked else { return nil }
        uploading = true
        defer {
            uploading = false
            let w = uploadWaiters
            uploadWaiters = []
            w.forEach { $0.resume() }
        }
        let gen = generation
        let uploadSize = size
        let (sentBefore, copiedBefore) = (bytesSent, bytesCopied)
        do {
            try await prepare?(key)
            let (etag, meta) = try await upload(size: uploadSize)
            logger.info("stored \(key): \(uploadSize) bytes, \(bytesSent - sentBefore) sent, \(bytesCopied - copiedBefore) copied on the server")
            base = ObjectVersion(key: key, etag: etag, size: uploadSize)
            baseValid = min(uploadSize, size)
            if generation == gen {
                needsUpload = false
                dirty = RangeSet()
                changedSince = nil
            }
            // Bytes dropped from the staged copy are the stored object's now: read from there.
            released = RangeSet()
            streamDisabled = false
            attributes.etag = etag
            return StoredObject(etag: etag, size: uploadSize, key: key, attributes: attributes, metadata: meta,
                                contentType: contentType)
        } catch {
            do {
                try file.persist()
                try area.save(manifest(.pending), id: id)
            } catch {
                logger.error("\(key): cannot record staged state: \(error)")
            }
            throw error
        }
    }

    /// Stores the first `uploadSize` bytes; answers the new ETag and the metadata stored with it.
    /// A streamed upload carries the metadata of its start: the mtime of its first part, and mode,
    /// owner and times set since then only through a copy (`restamp`).
    func upload(size uploadSize: Int64) async throws -> (etag: String, metadata: [String: String]) {
        let meta = uploadMetadata
        if let s = stream {
            stream = nil
            streamSealed = 0
            nextSealAt = 0
            let restamp = restampStream
            restampStream = false
            do {
                if let etag = try await s.finish(size: uploadSize) {
                    bytesSent += await s.bytesSent
                    partsReadBack += await s.partsReadBack
                    guard restamp else { return (etag, s.metadata) }
                    return (try await self.restamp(etag: etag, size: uploadSize, metadata: meta), meta)
                }
            } catch {
                if !released.isEmpty, abandoned == nil {
                    abandoned = "its streamed upload failed (\(error)) after parts of it were dropped from the full staging disk"
                }
                await s.abort()
                streamDisabled = true
                throw error
            }
        }
        return (try await uploadWhole(size: uploadSize, metadata: meta), meta)
    }

    /// Gives the object just stored as `etag` new metadata, on the server: one CopyObject onto
    /// itself, or above 5 GiB a multipart upload of copied parts.
    func restamp(etag: String, size: Int64, metadata meta: [String: String]) async throws -> String {
        let copy = ServerCopy(client: client, bucket: bucket, maxParts: settings.plan.maxParts, aborts: settings.aborts)
        let r = try await copy.copy(key, to: key, size: size, etag: etag,
                                    replacing: ServerCopy.Replacement(metadata: meta, contentType: contentType))
        bytesCopied += size
        return r.etag
    }

    /// One upload of the first `uploadSize` bytes: a PutObject when small, otherwise a multipart
    /// upload in which unchanged ranges of `base` are copied on the server.
    func uploadWhole(size uploadSize: Int64, metadata meta: [String: String]) async throws -> String {
        guard released.isEmpty else { throw FSError(EIO, "\(key): parts of it were dropped from the full staging disk") }
        if uploadSize <= settings.plan.minPartSize {
            try await fetch(0..<uploadSize)
            let body = try file.read(at: 0, count: Int(uploadSize))
            let etag = try await client.putObject(bucket, key: key, body: body, contentType: contentType, metadata: meta)
            bytesSent += uploadSize
            return etag
        }
        var copyable = RangeSet()
        if base != nil {
            copyable.insert(0..<min(baseValid, uploadSize))
            for d in dirty.ranges { copyable.remove(d) }
        }
        let parts = UploadPlanner.plan(size: uploadSize, copyable: copyable, maxParts: settings.plan.maxParts,
                                       localPart: max(settings.plan.minPartSize, 16 << 20))
        for p in parts where p.source == .local { try await fetch(p.range) }
        let uploadId = try await client.createMultipartUpload(bucket, key: key, contentType: contentType, metadata: meta)
        do {
            let completed = try await sendParts(parts, uploadId: uploadId)
            return try await client.completeMultipartUpload(bucket, key: key, uploadId: uploadId, parts: completed)
        } catch {
            await settings.abort(client, bucket: bucket, key: key, uploadId: uploadId, logger: logger)
            throw error
        }
    }

    func sendParts(_ parts: [PlannedPart], uploadId: String) async throws -> [CompletedPart] {
        let (client, bucket, key, file, budget, base) = (client, bucket, key, file, settings.budget, base)
        let streamedParts = settings.streamedParts
        var out: [CompletedPart] = []
        var sent: Int64 = 0, copied: Int64 = 0
        try await forEachConcurrently(parts, limit: settings.concurrency, { p -> (CompletedPart, Int64) in
            switch p.source {
            case .copy:
                guard let base else { throw FSError(EIO, "copy part without a stored object") }
                let range = p.range.lowerBound...(p.range.upperBound - 1)
                let etag = try await client.readUnchanged(bucket, key: base.key, etag: base.etag) { ifMatch in
                    try await client.uploadPartCopy(bucket, key: key, uploadId: uploadId, partNumber: p.number,
                                                    sourceBucket: bucket, sourceKey: base.key, range: range, sourceIfMatch: ifMatch)
                }
                return (CompletedPart(partNumber: p.number, etag: etag), -Int64(p.range.count))
            case .local:
                let etag = try await PartUpload.send(client, bucket: bucket, key: key, uploadId: uploadId, number: p.number,
                                                     file: file, range: p.range, budget: budget, streamedParts: streamedParts)
                return (CompletedPart(partNumber: p.number, etag: etag), Int64(p.range.count))
            }
        }, each: { (c: CompletedPart, n: Int64) in
            out.append(c)
            if n >= 0 { sent += n } else { copied -= n }
        })
        bytesSent += sent
        bytesCopied += copied
        return out.sorted { $0.partNumber < $1.partNumber }
    }

    /// Closes and deletes the local copy (after a successful upload, or for an unlinked file).
    public func discard() async {
        await abandonStream("discarded")
        let onDisk = file.isOnDisk || manifestWritten
        file.close()
        if onDisk { area.remove(id) }
    }

    /// Closes the local copy and leaves it on disk (unmount with an upload still owed).
    public func closeKeeping() {
        do {
            try file.persist()
            try area.save(manifest(.pending), id: id)
        } catch {
            logger.error("\(key): cannot keep staged data: \(error)")
        }
        file.close()
    }
}
