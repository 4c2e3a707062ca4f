import NIOHTTP1

/// The S3 operation a request is, by its method, target and sub-resources (`GetObject`,
/// `UploadPart`, ...), for error messages and logs a user can hand to the provider.
extension S3Request {
    var operationName: String {
        let q = Set(query.map(\.0))
        let copy = headers.contains { $0.0.lowercased() == "x-amz-copy-source" }
        let onObject = key != nil && !(key ?? "").isEmpty
        switch method {
        case .GET:
            if q.contains("uploadId") { return "ListParts" }
            if q.contains("uploads") { return "ListMultipartUploads" }
            if q.contains("location") { return "GetBucketLocation" }
            if q.contains("acl") { return onObject ? "GetObjectAcl" : "GetBucketAcl" }
            if onObject { return "GetObject" }
            if bucket == nil { return "ListBuckets" }
            return q.contains("list-type") ? "ListObjectsV2" : "ListObjects"
        case .HEAD: return onObject ? "HeadObject" : "HeadBucket"
        case .PUT:
            if q.contains("partNumber") { return copy ? "UploadPartCopy" : "UploadPart" }
            if q.contains("acl") { return onObject ? "PutObjectAcl" : "PutBucketAcl" }
            if onObject { return copy ? "CopyObject" : "PutObject" }
            return "CreateBucket"
        case .POST:
            if q.contains("uploads") { return "CreateMultipartUpload" }
            if q.contains("uploadId") { return "CompleteMultipartUpload" }
            if q.contains("delete") { return "DeleteObjects" }
            return "POST"
        case .DELETE:
            if q.contains("uploadId") { return "AbortMultipartUpload" }
            return onObject ? "DeleteObject" : "DeleteBucket"
        default: return method.rawValue
        }
    }

    /// `bucket/key` (or `bucket`), as logs name the target.
    var target: String {
        guard let bucket else { return "/" }
        guard let key, !key.isEmpty else { return bucket }
        return bucket + "/" + key
    }
}
