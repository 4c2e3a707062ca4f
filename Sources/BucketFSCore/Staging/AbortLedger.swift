#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import S3
import Synchronization

/// Multipart uploads that must be aborted. Guarantees: an abort that fails (the server away)
/// is recorded in a file beside the staged files before `abort` returns, and `retry` tries it
/// again until the server says it is gone, across unmounts too (the next mount of the bucket
/// with the same staging directory reads the file), so no abandoned upload outlives an outage.
public final class AbortLedger: Sendable {
    struct Entry: Codable, Hashable, Sendable {
        var key: String
        var uploadId: String
    }

    let client: S3Client
    let bucket: String
    /// Where the pending aborts are kept (nil: in memory only).
    let path: String?
    let logger: Logger
    let pending: Mutex<Set<Entry>>

    public init(client: S3Client, bucket: String, path: String?, logger: Logger) {
        self.client = client
        self.bucket = bucket
        self.path = path
        self.logger = logger
        var loaded = Set<Entry>()
        if let path, let data = FileManager.default.contents(atPath: path),
           let entries = try? JSONDecoder().decode([Entry].self, from: data) {
            loaded = Set(entries)
        }
        pending = Mutex(loaded)
    }

    /// Uploads still to be aborted.
    public var count: Int { pending.withLock { $0.count } }

    /// Aborts an upload now; if that fails, records it for `retry`.
    public func abort(key: String, uploadId: String) async {
        do {
            try await client.abortMultipartUpload(bucket, key: key, uploadId: uploadId)
        } catch let e as S3Error where e.code == "NoSuchUpload" {
        } catch {
            logger.warning("could not abort the upload of \(key): \(error); tried again until it is gone")
            update { _ = $0.insert(Entry(key: key, uploadId: uploadId)) }
        }
    }

    /// Tries every recorded abort once; an upload the server no longer knows counts as aborted.
    public func retry() async {
        for e in pending.withLock({ Array($0) }) {
            do {
                try await client.abortMultipartUpload(bucket, key: e.key, uploadId: e.uploadId)
            } catch let err as S3Error where err.code == "NoSuchUpload" {
            } catch {
                continue
            }
            logger.notice("aborted the upload of \(e.key) left by an earlier failure")
            update { _ = $0.remove(e) }
        }
    }

    /// Changes the set and writes it to the file in one step (atomically; no file when empty).
    func update(_ change: (inout Set<Entry>) -> Void) {
        pending.withLock { set in
            change(&set)
            guard let path else { return }
            guard !set.isEmpty else {
                unlink(path)
                return
            }
            guard let data = try? JSONEncoder().encode(Array(set)) else { return }
            let tmp = path + ".tmp"
            if FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) {
                rename(tmp, path)
            }
        }
    }
}
