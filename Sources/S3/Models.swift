/// The typed results of S3 operations and their decoding from the response XML.
/// Decoders are tolerant of what real servers do (Swift s3api interleaves CommonPrefixes with
/// Contents, writes empty markers, labels XML as text/html) and strict about what a caller relies
/// on (a listed object without a Key is a malformed response).

public struct Owner: Sendable, Equatable {
    public var id: String
    public var displayName: String?
    init?(_ e: XMLElement?) {
        guard let e, let id = e.string("ID") else { return nil }
        self.id = id
        self.displayName = e.string("DisplayName")
    }
    public init(id: String, displayName: String? = nil) { self.id = id; self.displayName = displayName }
}

public struct BucketSummary: Sendable, Equatable {
    public var name: String
    public var creationDate: Timestamp?
}

public struct ListBucketsResult: Sendable {
    public var owner: Owner?
    public var buckets: [BucketSummary]

    init(xml: XMLElement) throws {
        try xml.requireRoot("ListAllMyBucketsResult")
        owner = Owner(xml.child("Owner"))
        buckets = try (xml.child("Buckets")?.all("Bucket") ?? []).map {
            guard let name = $0.string("Name") else { throw S3Error.malformedResponse("bucket without Name") }
            return BucketSummary(name: name, creationDate: $0.string("CreationDate").flatMap { Timestamp(iso8601: $0) })
        }
    }
}

/// One object of a listing.
public struct ObjectSummary: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var etag: String
    public var lastModified: Timestamp?
    public var storageClass: String?
    public init(key: String, size: Int64, etag: String, lastModified: Timestamp?, storageClass: String? = nil) {
        self.key = key; self.size = size; self.etag = etag; self.lastModified = lastModified; self.storageClass = storageClass
    }
}

/// One page of ListObjectsV2 (or V1): objects and common prefixes in key order, and the
/// token for the next page (a continuation token for V2, a marker for V1).
public struct ListObjectsPage: Sendable {
    public var objects: [ObjectSummary]
    public var commonPrefixes: [String]
    public var isTruncated: Bool
    public var nextToken: String?

    init(xml: XMLElement, v1: Bool) throws {
        try xml.requireRoot("ListBucketResult")
        let urlEncoded = xml.string("EncodingType")?.lowercased() == "url"
        func key(_ raw: String) throws -> String {
            guard urlEncoded else { return raw }
            guard let d = URIEncoding.decode(raw, plusIsSpace: true) else { throw S3Error.malformedResponse("bad url-encoded key") }
            return d
        }
        var objects: [ObjectSummary] = []
        var prefixes: [String] = []
        objects.reserveCapacity(xml.children.count)
        for c in xml.children {
            if c.name == "Contents" {
                guard let k = c.string("Key") else { throw S3Error.malformedResponse("listed object without Key") }
                objects.append(ObjectSummary(key: try key(k), size: c.int("Size") ?? 0,
                                             etag: c.string("ETag").map(ETag.normalize) ?? "",
                                             lastModified: c.string("LastModified").flatMap { Timestamp(iso8601: $0) },
                                             storageClass: c.string("StorageClass")))
            } else if c.name == "CommonPrefixes" {
                for p in c.all("Prefix") { prefixes.append(try key(p.text)) }
            }
        }
        self.objects = objects
        self.commonPrefixes = prefixes
        self.isTruncated = xml.bool("IsTruncated") ?? false
        if v1 {
            // NextMarker comes only with a delimiter; otherwise the last key is the marker.
            let next = xml.string("NextMarker").flatMap { $0.isEmpty ? nil : $0 }
            let last = [objects.last?.key, prefixes.last].compactMap { $0 }.max()
            self.nextToken = isTruncated ? (try next.map(key) ?? last) : nil
        } else {
            let t = xml.string("NextContinuationToken").flatMap { $0.isEmpty ? nil : $0 }
            self.nextToken = isTruncated ? t : nil
        }
        if isTruncated && nextToken == nil {
            throw S3Error.malformedResponse("truncated listing without a continuation token")
        }
    }

    public init(objects: [ObjectSummary], commonPrefixes: [String], isTruncated: Bool, nextToken: String?) {
        self.objects = objects; self.commonPrefixes = commonPrefixes; self.isTruncated = isTruncated; self.nextToken = nextToken
    }
}

public enum ETag {
    /// Strips the quotes S3 puts around ETags (and a weak `W/` prefix).
    public static func normalize(_ s: String) -> String {
        var t = Substring(s.trimmingSpaces)
        if t.hasPrefix("W/") { t = t.dropFirst(2) }
        if t.hasPrefix("\"") { t = t.dropFirst() }
        if t.hasSuffix("\"") { t = t.dropLast() }
        return String(t)
    }
}

public struct CopyObjectResult: Sendable {
    public var etag: String
    public var lastModified: Timestamp?
    init(xml: XMLElement) throws {
        try xml.requireRoot("CopyObjectResult", or: "CopyPartResult")
        guard let e = xml.string("ETag") else { throw S3Error.malformedResponse("copy result without ETag") }
        etag = ETag.normalize(e)
        lastModified = xml.string("LastModified").flatMap { Timestamp(iso8601: $0) }
    }
}

public struct MultipartUpload: Sendable, Equatable {
    public var key: String
    public var uploadId: String
    public var initiated: Timestamp?
}

public struct ListMultipartUploadsPage: Sendable {
    public var uploads: [MultipartUpload]
    public var commonPrefixes: [String]
    public var isTruncated: Bool
    public var nextKeyMarker: String?
    public var nextUploadIdMarker: String?

    init(xml: XMLElement) throws {
        try xml.requireRoot("ListMultipartUploadsResult")
        let urlEncoded = xml.string("EncodingType")?.lowercased() == "url"
        func key(_ raw: String) -> String { urlEncoded ? (URIEncoding.decode(raw, plusIsSpace: true) ?? raw) : raw }
        uploads = try xml.all("Upload").map {
            guard let k = $0.string("Key"), let id = $0.string("UploadId") else { throw S3Error.malformedResponse("upload without Key or UploadId") }
            return MultipartUpload(key: key(k), uploadId: id, initiated: $0.string("Initiated").flatMap { Timestamp(iso8601: $0) })
        }
        commonPrefixes = xml.all("CommonPrefixes").flatMap { $0.all("Prefix").map { key($0.text) } }
        isTruncated = xml.bool("IsTruncated") ?? false
        nextKeyMarker = xml.string("NextKeyMarker").flatMap { $0.isEmpty ? nil : key($0) }
        nextUploadIdMarker = xml.string("NextUploadIdMarker").flatMap { $0.isEmpty ? nil : $0 }
    }
}

public struct Part: Sendable, Equatable {
    public var partNumber: Int
    public var etag: String
    public var size: Int64
    public var lastModified: Timestamp?
}

public struct ListPartsPage: Sendable {
    public var parts: [Part]
    public var isTruncated: Bool
    public var nextPartNumberMarker: Int?

    init(xml: XMLElement) throws {
        try xml.requireRoot("ListPartsResult")
        parts = try xml.all("Part").map {
            guard let n = $0.int("PartNumber") else { throw S3Error.malformedResponse("part without PartNumber") }
            return Part(partNumber: Int(n), etag: ETag.normalize($0.string("ETag") ?? ""), size: $0.int("Size") ?? 0,
                        lastModified: $0.string("LastModified").flatMap { Timestamp(iso8601: $0) })
        }
        isTruncated = xml.bool("IsTruncated") ?? false
        nextPartNumberMarker = xml.int("NextPartNumberMarker").map { Int($0) }
    }
}

/// A part to name in CompleteMultipartUpload.
public struct CompletedPart: Sendable, Equatable {
    public var partNumber: Int
    public var etag: String
    public init(partNumber: Int, etag: String) { self.partNumber = partNumber; self.etag = etag }
}

public struct CompleteMultipartUploadResult: Sendable {
    public var etag: String
    init(xml: XMLElement) throws {
        try xml.requireRoot("CompleteMultipartUploadResult")
        etag = ETag.normalize(xml.string("ETag") ?? "")
    }
}

public struct DeleteObjectsResult: Sendable {
    public struct Failure: Sendable, Equatable {
        public var key: String
        public var code: String
        public var message: String
    }
    public var deleted: [String]
    public var errors: [Failure]

    init(xml: XMLElement) throws {
        try xml.requireRoot("DeleteResult")
        deleted = xml.all("Deleted").compactMap { $0.string("Key") }
        errors = xml.all("Error").map {
            Failure(key: $0.string("Key") ?? "", code: $0.string("Code") ?? "", message: $0.string("Message") ?? "")
        }
    }
    public init(deleted: [String], errors: [Failure]) { self.deleted = deleted; self.errors = errors }
}

/// The canned ACLs of S3.
public enum CannedACL: String, Sendable, CaseIterable {
    case `private` = "private"
    case publicRead = "public-read"
    case publicReadWrite = "public-read-write"
    case authenticatedRead = "authenticated-read"
    case bucketOwnerRead = "bucket-owner-read"
    case bucketOwnerFullControl = "bucket-owner-full-control"
}

public struct Grant: Sendable, Equatable {
    public enum Grantee: Sendable, Equatable {
        case user(id: String, displayName: String?)
        case group(uri: String)
        case email(String)
    }
    public var grantee: Grantee
    public var permission: String
    public init(grantee: Grantee, permission: String) { self.grantee = grantee; self.permission = permission }
}

public struct AccessControlPolicy: Sendable, Equatable {
    public var owner: Owner
    public var grants: [Grant]
    public init(owner: Owner, grants: [Grant]) { self.owner = owner; self.grants = grants }

    init(xml: XMLElement) throws {
        guard xml.name == "AccessControlPolicy", let owner = Owner(xml.child("Owner")) else {
            throw S3Error.malformedResponse("expected AccessControlPolicy with Owner, got \(xml.name)")
        }
        self.owner = owner
        grants = (xml.child("AccessControlList")?.all("Grant") ?? []).compactMap { g in
            guard let ge = g.child("Grantee"), let perm = g.string("Permission") else { return nil }
            if let uri = ge.string("URI") { return Grant(grantee: .group(uri: uri), permission: perm) }
            if let id = ge.string("ID") { return Grant(grantee: .user(id: id, displayName: ge.string("DisplayName")), permission: perm) }
            if let mail = ge.string("EmailAddress") { return Grant(grantee: .email(mail), permission: perm) }
            return nil
        }
    }

    var xml: String {
        var w = XMLWriter()
        w.open("AccessControlPolicy", "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"")
        w.open("Owner"); w.element("ID", owner.id)
        if let d = owner.displayName { w.element("DisplayName", d) }
        w.close("Owner")
        w.open("AccessControlList")
        for g in grants {
            w.open("Grant")
            switch g.grantee {
            case .user(let id, let name):
                w.open("Grantee", "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"")
                w.element("ID", id)
                if let name { w.element("DisplayName", name) }
            case .group(let uri):
                w.open("Grantee", "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\"")
                w.element("URI", uri)
            case .email(let mail):
                w.open("Grantee", "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"AmazonCustomerByEmail\"")
                w.element("EmailAddress", mail)
            }
            w.close("Grantee")
            w.element("Permission", g.permission)
            w.close("Grant")
        }
        w.close("AccessControlList")
        w.close("AccessControlPolicy")
        return w.text
    }
}

/// What HEAD or GET says of an object.
public struct ObjectInfo: Sendable, Equatable {
    /// Size of the whole object (from Content-Range on ranged GETs).
    public var size: Int64
    public var etag: String
    public var lastModified: Timestamp?
    public var contentType: String?
    /// User metadata, names lower-cased without the `x-amz-meta-` prefix.
    public var metadata: [String: String]
    public var versionId: String?
    public init(size: Int64, etag: String, lastModified: Timestamp?, contentType: String?, metadata: [String: String], versionId: String? = nil) {
        self.size = size; self.etag = etag; self.lastModified = lastModified; self.contentType = contentType
        self.metadata = metadata; self.versionId = versionId
    }
}
