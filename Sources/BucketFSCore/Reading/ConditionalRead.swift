import S3

/// Reads guarded by If-Match, tolerant of one server quirk: OpenStack Swift s3api answers 412
/// to If-Match on a copy of a multipart object although the ETag it shows is the one asked for.
/// Guarantee: bytes of a changed object are never returned; a 412 is believed only after a HEAD
/// confirms that the ETag changed, otherwise the read is made again without the condition.
extension S3Client {
    func readUnchanged<T: Sendable>(_ bucket: String, key: String, etag: String,
                                    _ attempt: (_ ifMatch: String?) async throws -> T) async throws -> T {
        guard !etag.isEmpty else { return try await attempt(nil) }
        do {
            return try await attempt(etag)
        } catch let e as S3Error where e.httpStatus == 412 {
            let now = try await headObject(bucket, key: key)
            guard now.etag == etag else { throw e }
            return try await attempt(nil)
        }
    }
}
