#if canImport(Glibc)
import Glibc
#endif
import Logging
import S3
import Synchronization

/// A file the mount owes the bucket: written (or changed) and not stored yet.
public struct UnstoredFile: Sendable, Equatable {
    public var key: String
    public var size: Int64
    /// Seconds since it first changed after its last store.
    public var age: Double
    /// Still open by a program (so not finished), or closed and waiting for its upload.
    public var open: Bool
    /// Set aside, never to be stored (a failed write, a killed writer): why.
    public var abandoned: String?
}

/// How far a `sync` has come.
public struct SyncProgress: Sendable {
    public var filesLeft: Int
    public var bytesLeft: Int64
    public var filesDone: Int
    public var bytesDone: Int64
}

/// The sync barrier and the view of what is not stored yet. Guarantees: `sync` returns once
/// every file that was closed when it started (below a key prefix, or anywhere) is stored, or
/// with the files that could not be, and their errors; files still open are not waited for.
extension BucketFileSystem {
    /// Files not stored yet, oldest first.
    public func unstoredFiles() async -> [UnstoredFile] {
        let files = staged.withLock { Array($0) }
        var out: [UnstoredFile] = []
        let now = Timestamp.now()
        for (ino, f) in files {
            let abandoned = await f.abandoned
            guard await f.needsUpload || abandoned != nil else { continue }
            let since = await f.changedSince ?? now
            out.append(UnstoredFile(key: await f.key, size: await f.attributes.size,
                                    age: max(0, Double(now.seconds - since.seconds)), open: isOpen(ino), abandoned: abandoned))
        }
        return out.sorted { $0.age > $1.age }
    }

    /// Stores every closed file owed an upload whose key starts with `prefix` (relative to the
    /// mount's prefix; nil: all), reporting progress; answers the files that failed, with why.
    public func sync(prefix: String? = nil, progress: @Sendable (SyncProgress) -> Void = { _ in }) async -> [(key: String, error: String)] {
        let full = prefix.map { config.prefix + $0 }
        var work: [(UInt64, StagedFile, Int64)] = []
        var failed: [(key: String, error: String)] = []
        for (ino, f) in staged.withLock({ Array($0) }) where !isOpen(ino) {
            let key = await f.key
            guard full.map({ key == $0 || key.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) ?? true else { continue }
            if let why = await f.abandoned { failed.append((key, "not stored: \(why)")); continue }
            guard await f.needsUpload else { continue }
            work.append((ino, f, await f.attributes.size))
        }
        var state = SyncProgress(filesLeft: work.count, bytesLeft: work.reduce(0) { $0 + $1.2 }, filesDone: 0, bytesDone: 0)
        progress(state)
        for (ino, f, size) in work {
            let key = await f.key
            do {
                try await store(f, ino: ino)
                if !isOpen(ino) { await dropStaged(ino, f) }
            } catch {
                failed.append((key, FSError.from(error).message))
            }
            state.filesLeft -= 1
            state.bytesLeft -= size
            state.filesDone += 1
            state.bytesDone += size
            progress(state)
        }
        // The metadata records of changed directories are written now too.
        await records.flushAll()
        return failed
    }

    /// What the mount holds and owes, for `bucketfs status`.
    public struct Usage: Sendable {
        public var memoryCacheBytes: Int
        public var memoryCacheCapacity: Int
        public var diskCacheBytes: Int?
        public var diskCacheCapacity: Int?
        public var cacheHits: Int
        public var cacheMisses: Int
        public var openFiles: Int
        public var uptime: Double
    }

    /// Aborts of abandoned uploads still to be done (the server was away).
    public var pendingAborts: Int { uploadSettings.aborts?.count ?? 0 }

    public var usage: Usage {
        let (hits, misses) = reader.memory.stats
        return Usage(memoryCacheBytes: reader.memory.usedBytes, memoryCacheCapacity: reader.memory.capacity,
                     diskCacheBytes: reader.disk?.usedBytes, diskCacheCapacity: reader.disk?.capacity,
                     cacheHits: hits, cacheMisses: misses, openFiles: openHandleCount,
                     uptime: Double(Timestamp.now().seconds - startTime.seconds))
    }
}
