#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging

/// What a staged file records beside its data, so that a later mount can finish its upload.
public struct StagedManifest: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Open for writing: a program has not closed it yet.
        case open
        /// Closed, but its upload failed: it must still reach the bucket.
        case pending
    }

    public var bucket: String
    public var key: String
    public var baseETag: String?
    public var baseSize: Int64
    /// Bytes of the stored object that still hold at the same offsets.
    public var baseValid: Int64
    public var size: Int64
    public var present: RangeSet
    public var dirty: RangeSet
    public var metadata: [String: String]
    public var contentType: String?
    public var state: State
}

/// The directory where files being written are staged (`STAGING/<bucket>/`): one `<id>.data`
/// and one `<id>.json` each. Guarantees: created with mode 0700; a manifest is replaced
/// atomically (written beside, synced, renamed), so a crash leaves the old or the new one.
public final class StagingArea: Sendable {
    public let directory: String
    public let recoveredDirectory: String
    let logger: Logger

    public init(root: String, bucket: String, logger: Logger) throws {
        directory = root + "/" + bucket
        recoveredDirectory = root + "/recovered"
        self.logger = logger
        for d in [root, directory] {
            if mkdir(d, 0o700) != 0 && errno != EEXIST {
                throw FSError(errno, "cannot create staging directory \(d): \(String(cString: strerror(errno)))")
            }
        }
    }

    public func dataPath(_ id: String) -> String { directory + "/" + id + ".data" }
    func manifestPath(_ id: String) -> String { directory + "/" + id + ".json" }

    private static let counter = Atomic64()

    public func newID() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return "\(ts.tv_sec)-\(ts.tv_nsec)-\(getpid())-\(Self.counter.next())"
    }

    public func save(_ m: StagedManifest, id: String, sync: Bool = true) throws {
        let data = try JSONEncoder().encode(m)
        let tmp = manifestPath(id) + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FSError(errno, "cannot write \(tmp)") }
        let file = LocalFile(fd: fd, path: tmp)
        defer { file.close() }
        try data.withUnsafeBytes { try file.write($0, at: 0) }
        if sync { file.sync() }
        guard rename(tmp, manifestPath(id)) == 0 else { throw FSError(errno, "cannot rename \(tmp)") }
    }

    public func remove(_ id: String) {
        unlink(manifestPath(id))
        unlink(dataPath(id))
    }

    /// Every staged file left in the directory (by an earlier mount), oldest first.
    public func scan() -> [(id: String, manifest: StagedManifest)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var out: [(String, StagedManifest)] = []
        for name in names.sorted() where name.hasSuffix(".json") {
            let id = String(name.dropLast(5))
            guard let data = FileManager.default.contents(atPath: manifestPath(id)),
                  let m = try? JSONDecoder().decode(StagedManifest.self, from: data) else {
                logger.warning("staging: unreadable manifest \(manifestPath(id)); left in place")
                continue
            }
            out.append((id, m))
        }
        return out
    }

    /// Data files without a manifest: small files that were still being written when an earlier
    /// mount stopped (a manifest is written once a file holds more than 1 MiB). Moved aside like
    /// the others; returns where they went.
    public func keepAsideUnnamed() -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var out: [String] = []
        for name in names where name.hasSuffix(".data") {
            let id = String(name.dropLast(5))
            guard !FileManager.default.fileExists(atPath: manifestPath(id)) else { continue }
            mkdir(recoveredDirectory, 0o700)
            let target = recoveredDirectory + "/unnamed." + id
            if rename(dataPath(id), target) == 0 { out.append(target) }
        }
        return out
    }

    /// Moves a staged file nobody closed out of the way, under a name that says what it was;
    /// returns where it now is.
    public func keepAside(_ id: String, _ m: StagedManifest) -> String {
        mkdir(recoveredDirectory, 0o700)
        let safe = m.key.map { $0 == "/" ? "%" : $0 }
        let target = recoveredDirectory + "/" + m.bucket + "%" + String(String(safe).suffix(180)) + "." + id
        if rename(dataPath(id), target) == 0 {
            try? JSONEncoder().encode(m).write(to: URL(fileURLWithPath: target + ".json"))
            unlink(manifestPath(id))
            return target
        }
        return dataPath(id)
    }
}

/// A process-wide counter for unique names.
final class Atomic64: Sendable {
    private let value = Mutex<UInt64>(0)
    func next() -> UInt64 { value.withLock { $0 += 1; return $0 } }
}

import Synchronization
