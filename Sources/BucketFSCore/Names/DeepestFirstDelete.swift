#if canImport(Glibc)
import Glibc
#endif
import S3

/// Deletes a tree of keys children first: one wave per depth, deepest first, each wave in
/// DeleteObjects batches of 1,000. A directory's marker (`d/`) goes only after everything below
/// it is gone, so an interrupted delete never hides content that is still stored, and servers
/// that keep a folder whose marker was deleted before its children (SeaweedFS) keep no ghost.
struct DeepestFirstDelete {
    let client: S3Client
    let bucket: String

    /// The depth of a key: its path components, a marker's trailing `/` not counted.
    static func depth(_ key: String) -> Int {
        let trimmed = key.hasSuffix("/") ? key.dropLast() : Substring(key)
        return trimmed.split(separator: "/", omittingEmptySubsequences: false).count
    }

    /// The keys in the waves they are deleted in.
    static func waves(_ keys: [String]) -> [[String]] {
        Dictionary(grouping: keys, by: depth).sorted { $0.key > $1.key }.map(\.value)
    }

    func delete(_ keys: [String]) async throws {
        for wave in Self.waves(keys) {
            var i = 0
            while i < wave.count {
                let batch = Array(wave[i..<min(i + 1000, wave.count)])
                let result = try await client.deleteObjects(bucket, keys: batch)
                if let e = result.errors.first { throw FSError(EIO, "deleting \(e.key): \(e.message)") }
                i += 1000
            }
        }
    }
}
