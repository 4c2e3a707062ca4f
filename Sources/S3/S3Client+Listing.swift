import NIOCore
import NIOHTTP1

/// Parameters of one listing call.
public struct ListObjectsRequest: Sendable {
    public var prefix: String?
    public var delimiter: String?
    public var startAfter: String?
    /// The `nextToken` of the previous page.
    public var continuationToken: String?
    public var maxKeys: Int?
    public init(prefix: String? = nil, delimiter: String? = nil, startAfter: String? = nil,
                continuationToken: String? = nil, maxKeys: Int? = nil) {
        self.prefix = prefix; self.delimiter = delimiter; self.startAfter = startAfter
        self.continuationToken = continuationToken; self.maxKeys = maxKeys
    }
}

/// Listing: ListObjectsV2 with `encoding-type=url`, and ListObjects V1 for servers without V2
/// (chosen by configuration, or remembered after a server answers V2 with NotImplemented).
extension S3Client {
    public func listObjects(_ bucket: String, _ req: ListObjectsRequest = ListObjectsRequest()) async throws -> ListObjectsPage {
        if useListV1.withLock({ $0 }) { return try await listObjectsV1(bucket, req) }
        do {
            return try await listObjectsV2(bucket, req)
        } catch let e as S3Error where e.code == "NotImplemented" {
            useListV1.withLock { $0 = true }
            logger.info("server does not implement ListObjectsV2; using ListObjects (V1)")
            return try await listObjectsV1(bucket, req)
        }
    }

    public func listObjectsV2(_ bucket: String, _ req: ListObjectsRequest) async throws -> ListObjectsPage {
        var q: [(String, String?)] = [("list-type", "2"), ("encoding-type", "url")]
        if let p = req.prefix { q.append(("prefix", p)) }
        if let d = req.delimiter { q.append(("delimiter", d)) }
        if let s = req.startAfter { q.append(("start-after", s)) }
        if let t = req.continuationToken { q.append(("continuation-token", t)) }
        if let m = req.maxKeys { q.append(("max-keys", String(m))) }
        let xml = try await sendXML(S3Request(.GET, bucket: bucket, query: q))
        // A server that ignores list-type=2 answers in the V1 form (Marker, NextMarker).
        let v1Shape = xml.child("KeyCount") == nil && xml.child("Marker") != nil
        return try ListObjectsPage(xml: xml, v1: v1Shape)
    }

    public func listObjectsV1(_ bucket: String, _ req: ListObjectsRequest) async throws -> ListObjectsPage {
        var q: [(String, String?)] = [("encoding-type", "url")]
        if let p = req.prefix { q.append(("prefix", p)) }
        if let d = req.delimiter { q.append(("delimiter", d)) }
        if let m = req.continuationToken ?? req.startAfter { q.append(("marker", m)) }
        if let m = req.maxKeys { q.append(("max-keys", String(m))) }
        return try ListObjectsPage(xml: try await sendXML(S3Request(.GET, bucket: bucket, query: q)), v1: true)
    }

    /// Every page of a listing, one request per page.
    public func listAllObjects(_ bucket: String, _ req: ListObjectsRequest = ListObjectsRequest(),
                               page: (ListObjectsPage) async throws -> Void) async throws {
        var r = req
        while true {
            let p = try await listObjects(bucket, r)
            try await page(p)
            guard p.isTruncated, let next = p.nextToken else { return }
            r.continuationToken = next
            r.startAfter = nil
        }
    }
}
