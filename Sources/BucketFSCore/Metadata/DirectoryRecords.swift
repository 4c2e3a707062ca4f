#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// Keeps the metadata records (`DirectoryRecord`) of directories: loads one when a listing shows
/// it, makes sure one exists before this mount stores anything with metadata in a directory
/// (so a directory with entries whose metadata no record vouches for always has a record, and a
/// listing of it asks S3 for what the record does not vouch for), and rewrites it from a fresh
/// listing a moment after changes (`flushDelay`, coalescing bursts). A lost or stale record costs
/// HEADs, never a wrong answer. Bounded: at most `maxEntries` record entries are held in memory,
/// the least recently used directories' first.
public actor DirectoryRecords {
    enum Presence { case unknown, absent, present }

    struct State {
        var presence: Presence = .unknown
        /// The ETag of the record object as this mount last read or wrote it.
        var etag: String?
        var record: DirectoryRecord?
        var dirty = false
        var flushing = false
        var flushTask: Task<Void, Never>?
        /// When the oldest change not written yet was made (monotonic ns).
        var dirtySince: UInt64 = 0
        var lastUse: UInt64 = 0
    }

    let client: S3Client
    let bucket: String
    let memo: MetadataMemo
    let defaults: @Sendable (Bool) -> NodeAttributes
    let logger: Logger
    let readOnly: Bool
    let flushDelay: Double
    let maxDelay: Double = 30
    let maxEntries: Int
    private var dirs: [String: State] = [:]
    private var heldEntries = 0
    private var ensuring: [String: Task<Void, any Error>] = [:]
    private var useCounter: UInt64 = 0

    public init(client: S3Client, bucket: String, memo: MetadataMemo, readOnly: Bool, flushDelay: Double = 2,
                maxEntries: Int = 400_000, logger: Logger, defaults: @escaping @Sendable (Bool) -> NodeAttributes) {
        self.client = client; self.bucket = bucket; self.memo = memo; self.readOnly = readOnly
        self.flushDelay = flushDelay; self.maxEntries = maxEntries; self.logger = logger; self.defaults = defaults
    }

    public static func key(_ prefix: String) -> String { prefix + DirectoryRecord.objectName }

    /// The record of directory `prefix` given what its listing showed of the record object
    /// (nil: the listing has none). Reads it when this mount does not hold that version.
    public func listed(_ prefix: String, record summary: ObjectSummary?) async -> DirectoryRecord? {
        guard let summary else {
            if ensuring[prefix] == nil { setAbsent(prefix) }
            return nil
        }
        if let s = dirs[prefix], s.etag == summary.etag, let r = s.record {
            touch(prefix)
            return r
        }
        return await read(prefix)
    }

    /// The record of `prefix`, read from S3 whatever this mount holds (nil when there is none).
    public func read(_ prefix: String) async -> DirectoryRecord? {
        do {
            let out = try await client.getObject(bucket, key: Self.key(prefix), maxBytes: 64 << 20)
            let text = out.body.map { String(decoding: $0.readableBytesView, as: UTF8.self) } ?? ""
            let record = DirectoryRecord.decode(Substring(text)) ?? DirectoryRecord()
            hold(prefix, record, etag: out.info.etag)
            return record
        } catch let e as S3Error where e.errno == ENOENT {
            setAbsent(prefix)
            return nil
        } catch {
            logger.notice("metadata record of \"\(prefix)\" not read: \(error)")
            // Unknown: entries stay with what the listing tells, as without a record.
            return nil
        }
    }

    /// The record of `prefix` this mount holds, or reads if it does not know whether there is one.
    public func current(_ prefix: String) async -> DirectoryRecord? {
        if let s = dirs[prefix] {
            if s.presence == .absent { return nil }
            if let r = s.record { return r }
        }
        return await read(prefix)
    }

    /// Whether `prefix` is known to have a record (so entries it does not vouch for need a HEAD).
    public func hasRecord(_ prefix: String) -> Bool { dirs[prefix]?.presence == .present }

    /// Makes sure directory `prefix` has a record before something with metadata is stored in it.
    public func ensure(_ prefix: String) async throws {
        guard !readOnly, dirs[prefix]?.presence != .present else { return }
        if let t = ensuring[prefix] { return try await t.value }
        let t = Task { try await self.make(prefix) }
        ensuring[prefix] = t
        defer { ensuring[prefix] = nil }
        try await t.value
    }

    private func make(_ prefix: String) async throws {
        if dirs[prefix]?.presence == .unknown || dirs[prefix] == nil {
            if (try? await client.headObject(bucket, key: Self.key(prefix))) != nil {
                var s = dirs[prefix] ?? State()
                s.presence = .present
                dirs[prefix] = s
                return
            }
        }
        let empty = DirectoryRecord()
        let etag = try await client.putObject(bucket, key: Self.key(prefix), body: ByteBuffer(string: empty.encoded()),
                                              contentType: "text/plain")
        hold(prefix, empty, etag: etag)
    }

    /// Something in `prefix` changed: its record is rewritten `flushDelay` seconds after the last
    /// change, and at least every `maxDelay` seconds while changes keep coming.
    public func changed(_ prefix: String) {
        guard !readOnly else { return }
        var s = dirs[prefix] ?? State()
        let now = MonotonicClock.now()
        if !s.dirty { s.dirtySince = now }
        s.dirty = true
        if s.flushTask != nil, now > s.dirtySince &+ UInt64(maxDelay * 1e9) {
            dirs[prefix] = s
            return
        }
        s.flushTask?.cancel()
        let delay = flushDelay
        s.flushTask = Task {
            try? await Task.sleep(for: .seconds(delay))
            guard !Task.isCancelled else { return }
            await self.flush(prefix)
        }
        dirs[prefix] = s
    }

    /// Rewrites every changed record now (sync, unmount).
    public func flushAll() async {
        let pending = dirs.filter { $0.value.dirty }.map(\.key)
        for p in pending {
            dirs[p]?.flushTask?.cancel()
            await flush(p)
        }
    }

    /// Rewrites the record of `prefix` from a listing: each listed object this mount knows the
    /// attributes of (for the listed version), or that the record already vouches for.
    func flush(_ prefix: String) async {
        guard var s = dirs[prefix], s.dirty, !s.flushing else { return }
        s.flushing = true
        s.dirty = false
        s.flushTask = nil
        dirs[prefix] = s
        defer { dirs[prefix]?.flushing = false }
        do {
            var objects: [ObjectSummary] = []
            var subdirs: [String] = []
            var token: String?
            repeat {
                let page = try await client.listObjects(bucket, ListObjectsRequest(prefix: prefix, delimiter: "/", continuationToken: token, maxKeys: 1000))
                objects += page.objects
                subdirs += page.commonPrefixes
                token = page.isTruncated ? page.nextToken : nil
            } while token != nil
            var base = dirs[prefix]?.record ?? DirectoryRecord()
            let recordKey = Self.key(prefix)
            if let listed = objects.first(where: { $0.key == recordKey }), listed.etag != dirs[prefix]?.etag {
                // Another writer's version: what it vouches for is kept too.
                base = await read(prefix) ?? base
            }
            var next = DirectoryRecord()
            let plain = defaults(false)
            for o in objects where o.key != recordKey && o.key != prefix {
                let name = String(o.key.dropFirst(prefix.count))
                guard KeyNames.isValidName(name), let stored = o.lastModified else { continue }
                var listed = plain
                listed.etag = o.etag
                listed.size = o.size
                listed.stored = stored
                if let known = memo.recall(o.key, etag: o.etag, size: o.size, stored: stored)
                    ?? base.attributes(of: name, listed: listed, defaults: plain) {
                    next.set(name, etag: o.etag, size: o.size, stored: stored, attributes: known)
                    memo.remember(o.key, known.refreshed(etag: o.etag, size: o.size, stored: stored))
                }
                if next.files.count >= DirectoryRecord.maxEntries { break }
            }
            for p in subdirs where p.hasPrefix(prefix) {
                let name = String(p.dropFirst(prefix.count).dropLast())
                guard KeyNames.isValidName(name) else { continue }
                if let a = memo.recall(p, etag: nil), a.hasMetadata {
                    next.directories[name] = a
                } else if let a = base.directories[name] {
                    next.directories[name] = a
                }
            }
            let etag = try await client.putObject(bucket, key: recordKey, body: ByteBuffer(string: next.encoded()), contentType: "text/plain")
            hold(prefix, next, etag: etag)
        } catch {
            logger.notice("metadata record of \"\(prefix)\" not written: \(error)")
            dirs[prefix]?.dirty = true
        }
    }

    /// Directory `prefix` was copied to `newPrefix` (`copies`: new key to the copy's ETag and
    /// LastModified): its record is written there for the copies' versions. An entry whose copy's
    /// LastModified the server did not tell is left out (it costs a HEAD later).
    public func moved(from prefix: String, to newPrefix: String, copies: [String: (etag: String, stored: Timestamp?)]) async throws {
        guard let old = await read(prefix) else { return }
        var next = DirectoryRecord()
        next.directories = old.directories
        for (name, e) in old.files {
            guard let c = copies[newPrefix + name], let stored = c.stored else { continue }
            next.files[name] = DirectoryRecord.Entry(etag: c.etag, size: e.size, stored: stored.seconds, attributes: e.attributes)
        }
        let etag = try await client.putObject(bucket, key: Self.key(newPrefix), body: ByteBuffer(string: next.encoded()),
                                              contentType: "text/plain")
        hold(newPrefix, next, etag: etag)
        removed(prefix)
    }

    /// A directory was removed (or renamed away): its record is gone with it.
    public func removed(_ prefix: String) {
        if let s = dirs.removeValue(forKey: prefix) {
            s.flushTask?.cancel()
            heldEntries -= s.record?.files.count ?? 0
        }
    }

    private func setAbsent(_ prefix: String) {
        var s = dirs[prefix] ?? State()
        heldEntries -= s.record?.files.count ?? 0
        s.presence = .absent
        s.record = nil
        s.etag = nil
        dirs[prefix] = s
    }

    private func touch(_ prefix: String) {
        useCounter += 1
        dirs[prefix]?.lastUse = useCounter
    }

    private func hold(_ prefix: String, _ record: DirectoryRecord, etag: String) {
        var s = dirs[prefix] ?? State()
        heldEntries += record.files.count - (s.record?.files.count ?? 0)
        s.presence = .present
        s.record = record
        s.etag = etag
        useCounter += 1
        s.lastUse = useCounter
        dirs[prefix] = s
        evict(keeping: prefix)
    }

    /// Drops the records of the least recently used clean directories beyond `maxEntries`
    /// (their presence is kept: only the entries go), and forgets clean directories beyond 65,536.
    private func evict(keeping: String) {
        guard heldEntries > maxEntries || dirs.count > 65_536 else { return }
        for (p, s) in dirs.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
            guard heldEntries > maxEntries || dirs.count > 65_536 else { break }
            guard p != keeping, !s.dirty, !s.flushing else { continue }
            heldEntries -= s.record?.files.count ?? 0
            if dirs.count > 65_536 {
                dirs[p] = nil
            } else {
                dirs[p]?.record = nil
                dirs[p]?.etag = nil
            }
        }
    }
}

extension NodeAttributes {
    /// These attributes for the listed version of the object.
    func refreshed(etag: String, size: Int64, stored: Timestamp) -> NodeAttributes {
        var a = self
        a.etag = etag
        a.size = size
        a.stored = stored
        return a
    }
}
