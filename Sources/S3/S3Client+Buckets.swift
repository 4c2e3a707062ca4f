import NIOCore
import NIOHTTP1

/// Bucket operations: create, head, delete, list, location, ACL.
extension S3Client {
    public func listBuckets() async throws -> ListBucketsResult {
        try ListBucketsResult(xml: try await sendXML(S3Request(.GET)))
    }

    /// Creates a bucket; `locationConstraint` goes into the CreateBucketConfiguration body
    /// (omitted for nil, as AWS wants for us-east-1).
    public func createBucket(_ bucket: String, locationConstraint: String? = nil, acl: CannedACL? = nil) async throws {
        try BucketName.validate(bucket)
        var r = S3Request(.PUT, bucket: bucket)
        if let lc = locationConstraint {
            var w = XMLWriter()
            w.open("CreateBucketConfiguration", "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"")
            w.element("LocationConstraint", lc)
            w.close("CreateBucketConfiguration")
            r.body = ByteBuffer(string: w.text)
            r.headers.append(("content-type", "application/xml"))
        }
        if let acl { r.headers.append(("x-amz-acl", acl.rawValue)) }
        r.idempotent = false
        _ = try await send(r)
    }

    /// HEAD bucket: succeeds when the bucket exists and the keys may use it; answers what the
    /// answer tells of the bucket (its region, if named) and of the server.
    /// `retry` overrides the client's policy (a mount's start-up check wants a quick answer).
    @discardableResult
    public func headBucket(_ bucket: String, retry: RetryPolicy? = nil) async throws -> BucketHead {
        var r = S3Request(.HEAD, bucket: bucket)
        r.retry = retry
        let resp = try await send(r)
        return BucketHead(region: resp.headers.first(name: "x-amz-bucket-region"),
                          isOpenStackSwift: resp.headers.contains(name: "x-openstack-request-id")
                              || resp.headers.contains(name: "x-trans-id"))
    }

    public func deleteBucket(_ bucket: String) async throws {
        _ = try await send(S3Request(.DELETE, bucket: bucket))
    }

    /// The bucket's region; an empty LocationConstraint means us-east-1, as AWS defines it.
    public func getBucketLocation(_ bucket: String) async throws -> String {
        let xml = try await sendXML(S3Request(.GET, bucket: bucket, query: [("location", nil)]))
        // SeaweedFS wraps it in CreateBucketConfiguration.
        guard let lc = xml.name == "LocationConstraint" ? xml : xml.child("LocationConstraint") else {
            throw S3Error.malformedResponse("expected LocationConstraint, got \(xml.name)")
        }
        let t = lc.text.trimmingSpaces
        return t.isEmpty ? "us-east-1" : t
    }

    public func getBucketACL(_ bucket: String) async throws -> AccessControlPolicy {
        try AccessControlPolicy(xml: try await sendXML(S3Request(.GET, bucket: bucket, query: [("acl", nil)])))
    }

    public func putBucketACL(_ bucket: String, canned: CannedACL) async throws {
        _ = try await send(S3Request(.PUT, bucket: bucket, query: [("acl", nil)], headers: [("x-amz-acl", canned.rawValue)]))
    }

    public func putBucketACL(_ bucket: String, policy: AccessControlPolicy) async throws {
        let body = ByteBuffer(string: policy.xml)
        _ = try await send(S3Request(.PUT, bucket: bucket, query: [("acl", nil)],
                                     headers: [("content-type", "application/xml"), ("content-md5", body.contentMD5)], body: body))
    }

    public func getObjectACL(_ bucket: String, key: String) async throws -> AccessControlPolicy {
        try AccessControlPolicy(xml: try await sendXML(S3Request(.GET, bucket: bucket, key: key, query: [("acl", nil)])))
    }
}

/// S3's bucket naming rules (3-63 characters of a-z, 0-9, '.', '-'; starts and ends with a letter
/// or digit), checked before a request is sent.
public enum BucketName {
    public static func validate(_ name: String) throws {
        let b = Array(name.utf8)
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        guard (3...63).contains(b.count), let first = b.first, let last = b.last, alnum(first), alnum(last),
              b.allSatisfy({ alnum($0) || $0 == 45 || $0 == 46 }), !name.contains("..") else {
            throw S3Error.invalidRequest("invalid bucket name \"\(name)\": 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit")
        }
    }
}

/// What a HEAD of a bucket tells of the bucket and of the server behind it.
public struct BucketHead: Sendable, Equatable {
    /// `x-amz-bucket-region`, where the server sends it.
    public var region: String?
    /// The server is OpenStack Swift's s3api middleware: every answer carries Swift's
    /// `X-Trans-Id` and `X-Openstack-Request-Id`.
    public var isOpenStackSwift: Bool

    /// The highest part number the server accepts in a multipart upload: 1,000 on Swift s3api
    /// (its `max_upload_part_num` default), 10,000 elsewhere (the S3 limit).
    public var maxParts: Int { isOpenStackSwift ? 1000 : 10_000 }

    public init(region: String?, isOpenStackSwift: Bool) {
        self.region = region
        self.isOpenStackSwift = isOpenStackSwift
    }
}
