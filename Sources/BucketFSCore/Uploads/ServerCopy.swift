import S3

/// Server-side copies of whole objects of any size: one CopyObject up to `singleCopyLimit` (5 GiB,
/// the S3 limit for one copy), above it a multipart upload of UploadPartCopy parts. A copy keeps
/// the source's metadata and content type, or replaces them (chmod, utimens and the like are a
/// copy of an object onto itself). Guarantees: with `etag` given, the source is read under
/// If-Match (`readUnchanged`), so a copy never takes bytes of another version; a multipart copy
/// that fails is aborted.
struct ServerCopy: Sendable {
    let client: S3Client
    let bucket: String
    let maxParts: Int
    /// Where the abort of a failed multipart copy goes (retried until gone); nil: tried once.
    var aborts: AbortLedger?
    var singleCopyLimit: Int64 = UploadPlanner.maximumPart

    /// New metadata and content type for the copy.
    struct Replacement: Sendable {
        var metadata: [String: String]
        var contentType: String?
    }

    /// Copies `key` (`size` bytes, ETag `etag` if known) to `newKey`; answers the copy's ETag and,
    /// when the server says, its LastModified.
    func copy(_ key: String, to newKey: String, size: Int64, etag: String?,
              replacing: Replacement? = nil) async throws -> (etag: String, stored: Timestamp?) {
        let (client, bucket) = (client, bucket)
        // `readUnchanged` reads without a condition when the ETag is empty.
        if size <= singleCopyLimit {
            let r = try await client.readUnchanged(bucket, key: key, etag: etag ?? "") { ifMatch in
                try await client.copyObject(from: bucket, key: key, to: bucket, key: newKey,
                                            directive: replacing == nil ? .copy : .replace,
                                            metadata: replacing?.metadata ?? [:], contentType: replacing?.contentType,
                                            sourceIfMatch: ifMatch)
            }
            return (r.etag, r.lastModified)
        }
        // A multipart copy takes its metadata at the start: the source's, unless replaced.
        let source = replacing == nil || etag == nil ? try await client.headObject(bucket, key: key) : nil
        let target = replacing ?? Replacement(metadata: source?.metadata ?? [:], contentType: source?.contentType)
        let sourceETag = etag ?? source?.etag ?? ""
        let parts = UploadPlanner.plan(size: size, copyable: RangeSet(0..<size), maxParts: maxParts, copyPart: 1 << 30)
        let id = try await client.createMultipartUpload(bucket, key: newKey, contentType: target.contentType, metadata: target.metadata)
        do {
            var done: [CompletedPart] = []
            for p in parts {
                let range = p.range.lowerBound...(p.range.upperBound - 1)
                let etag = try await client.readUnchanged(bucket, key: key, etag: sourceETag) { ifMatch in
                    try await client.uploadPartCopy(bucket, key: newKey, uploadId: id, partNumber: p.number, sourceBucket: bucket,
                                                    sourceKey: key, range: range, sourceIfMatch: ifMatch)
                }
                done.append(CompletedPart(partNumber: p.number, etag: etag))
            }
            return (try await client.completeMultipartUpload(bucket, key: newKey, uploadId: id, parts: done), nil)
        } catch {
            if let aborts { await aborts.abort(key: newKey, uploadId: id) } else { try? await client.abortMultipartUpload(bucket, key: newKey, uploadId: id) }
            throw error
        }
    }
}
