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
        try await listObjectsUnparsed(bucket, req).parse()
    }

    /// One listing page as it arrived, not yet parsed: the caller may send the next request
    /// (with `tokenHint`) before it spends the time a parse takes.
    public func listObjectsUnparsed(_ bucket: String, _ req: ListObjectsRequest = ListObjectsRequest()) async throws -> UnparsedListPage {
        if useListV1.withLock({ $0 }) { return try await listObjectsV1Unparsed(bucket, req) }
        do {
            return try await listObjectsV2Unparsed(bucket, req)
        } catch let e as S3Error where e.code == "NotImplemented" {
            useListV1.withLock { $0 = true }
            logger.info("server does not implement ListObjectsV2; using ListObjects (V1)")
            return try await listObjectsV1Unparsed(bucket, req)
        }
    }

    public func listObjectsV2(_ bucket: String, _ req: ListObjectsRequest) async throws -> ListObjectsPage {
        try await listObjectsV2Unparsed(bucket, req).parse()
    }

    func listObjectsV2Unparsed(_ bucket: String, _ req: ListObjectsRequest) async throws -> UnparsedListPage {
        var q: [(String, String?)] = [("list-type", "2"), ("encoding-type", "url")]
        if let p = req.prefix { q.append(("prefix", p)) }
        if let d = req.delimiter { q.append(("delimiter", d)) }
        if let s = req.startAfter { q.append(("start-after", s)) }
        if let t = req.continuationToken { q.append(("continuation-token", t)) }
        if let m = req.maxKeys { q.append(("max-keys", String(m))) }
        let resp = try await send(S3Request(.GET, bucket: bucket, query: q))
        return UnparsedListPage(response: resp, v1: false)
    }

    public func listObjectsV1(_ bucket: String, _ req: ListObjectsRequest) async throws -> ListObjectsPage {
        try await listObjectsV1Unparsed(bucket, req).parse()
    }

    func listObjectsV1Unparsed(_ bucket: String, _ req: ListObjectsRequest) async throws -> UnparsedListPage {
        var q: [(String, String?)] = [("encoding-type", "url")]
        if let p = req.prefix { q.append(("prefix", p)) }
        if let d = req.delimiter { q.append(("delimiter", d)) }
        if let m = req.continuationToken ?? req.startAfter { q.append(("marker", m)) }
        if let m = req.maxKeys { q.append(("max-keys", String(m))) }
        return UnparsedListPage(response: try await send(S3Request(.GET, bucket: bucket, query: q)), v1: true)
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
