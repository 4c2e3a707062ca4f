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
        if size <= singleCopyLimit {
            let attempt = { (ifMatch: String?) async throws -> CopyObjectResult in
                try await client.copyObject(from: bucket, key: key, to: bucket, key: newKey,
                                            directive: replacing == nil ? .copy : .replace,
                                            metadata: replacing?.metadata ?? [:], contentType: replacing?.contentType,
                                            sourceIfMatch: ifMatch)
            }
            let r = if let etag { try await client.readUnchanged(bucket, key: key, etag: etag, attempt) } else { try await attempt(nil) }
            return (r.etag, r.lastModified)
        }
        var target = replacing
        var sourceETag = etag
        if target == nil || sourceETag == nil {
            let info = try await client.headObject(bucket, key: key)
            target = target ?? Replacement(metadata: info.metadata, contentType: info.contentType)
            sourceETag = sourceETag ?? info.etag
        }
        let parts = UploadPlanner.plan(size: size, copyable: RangeSet(0..<size), maxParts: maxParts, copyPart: 1 << 30)
        let id = try await client.createMultipartUpload(bucket, key: newKey, contentType: target?.contentType,
                                                        metadata: target?.metadata ?? [:])
        do {
            var done: [CompletedPart] = []
            for p in parts {
                let range = p.range.lowerBound...(p.range.upperBound - 1)
                let send = { (ifMatch: String?) async throws -> String in
                    try await client.uploadPartCopy(bucket, key: newKey, uploadId: id, partNumber: p.number, sourceBucket: bucket,
                                                    sourceKey: key, range: range, sourceIfMatch: ifMatch)
                }
                let etag = if let sourceETag {
                    try await client.readUnchanged(bucket, key: key, etag: sourceETag, send)
                } else {
                    try await send(nil)
                }
                done.append(CompletedPart(partNumber: p.number, etag: etag))
            }
            return (try await client.completeMultipartUpload(bucket, key: newKey, uploadId: id, parts: done), nil)
        } catch {
            try? await client.abortMultipartUpload(bucket, key: newKey, uploadId: id)
            throw error
        }
    }
}
