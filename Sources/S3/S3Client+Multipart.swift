import NIOCore
import NIOHTTP1

/// Multipart uploads: initiate, upload part, upload part copy, complete, abort, list parts,
/// list uploads (paginated, and robust to Swift s3api's missing upload markers).
extension S3Client {
    public func createMultipartUpload(_ bucket: String, key: String, contentType: String? = nil,
                                      metadata: [String: String] = [:]) async throws -> String {
        var r = S3Request(.POST, bucket: bucket, key: key, query: [("uploads", nil)])
        r.headers.append(("content-type", contentType ?? "application/octet-stream"))
        r.headers += try Self.metadataHeaders(metadata)
        r.idempotent = false
        let xml = try await sendXML(r)
        try xml.requireRoot("InitiateMultipartUploadResult")
        guard let id = xml.string("UploadId"), !id.isEmpty else {
            throw S3Error.malformedResponse("InitiateMultipartUploadResult without UploadId")
        }
        return id
    }

    static func partQuery(_ uploadId: String, _ partNumber: Int) -> [(String, String?)] {
        [("partNumber", String(partNumber)), ("uploadId", uploadId)]
    }

    /// Uploads one part; returns its ETag.
    public func uploadPart(_ bucket: String, key: String, uploadId: String, partNumber: Int, body: ByteBuffer) async throws -> String {
        var r = try partRequest(bucket, key: key, uploadId: uploadId, partNumber: partNumber)
        r.body = body
        var digest = bodyDigest()
        digest.update(body)
        return try await sendPart(r, digest.finalize())
    }

    /// Uploads one part whose body is streamed (`checksum`: from `bodyDigest()` over the whole
    /// body, which the server checks); returns its ETag.
    public func uploadPart(_ bucket: String, key: String, uploadId: String, partNumber: Int, body: StreamedBody,
                           checksum: BodyChecksum) async throws -> String {
        var r = try partRequest(bucket, key: key, uploadId: uploadId, partNumber: partNumber)
        r.bodyStream = body
        return try await sendPart(r, checksum)
    }

    /// Uploads one part held in memory in several buffers (`checksum`: from `bodyDigest()` over
    /// their bytes together, which the server checks); returns its ETag. Retried like any request.
    public func uploadPart(_ bucket: String, key: String, uploadId: String, partNumber: Int, buffers: [ByteBuffer],
                           checksum: BodyChecksum) async throws -> String {
        var r = try partRequest(bucket, key: key, uploadId: uploadId, partNumber: partNumber)
        r.bodyBuffers = buffers
        return try await sendPart(r, checksum)
    }

    /// An UploadPart request without its body or checksum.
    private func partRequest(_ bucket: String, key: String, uploadId: String, partNumber: Int) throws -> S3Request {
        guard (1...10000).contains(partNumber) else { throw S3Error.invalidRequest("part number \(partNumber) out of 1...10000") }
        return S3Request(.PUT, bucket: bucket, key: key, query: Self.partQuery(uploadId, partNumber))
    }

    /// Sends a part guarded by `sum`. While the server's checks are unknown the part carries its
    /// CRC32C; the answer tells: an echo of it means the server checked it, and later parts carry
    /// only a CRC32C. A server that ignored the header computed an MD5 of what it stored, its
    /// ETag, which must equal ours, else the part goes again with Content-MD5; a server that
    /// refused the header gets the part again with Content-MD5. Either way later parts carry
    /// Content-MD5 alone. No part is ever stored unchecked.
    private func sendPart(_ r: S3Request, _ sum: BodyChecksum) async throws -> String {
        var first = r
        sum.guardBody(&first)
        do {
            let resp = try await send(first)
            let etag = try Self.partETag(resp)
            guard let crc = sum.crc32c else { return etag }
            let echoed = resp.headers.first(name: "x-amz-checksum-crc32c")
            if echoed == crc {
                if checksums.learn(.crc32c) { logger.debug("the server checks CRC32C: parts carry it instead of Content-MD5") }
                return etag
            }
            if echoed != nil { throw S3Error.malformedResponse("the server stored a part whose CRC32C is not the one sent") }
            guard sum.probes else { return etag }
            if checksums.learn(.md5) { logger.debug("the server does not check CRC32C: parts carry Content-MD5") }
            if etag.lowercased() == sum.md5Hex { return etag }
        } catch let e as S3Error where sum.probes && e.refusesChecksumHeader {
            if checksums.learn(.md5) { logger.debug("the server refuses CRC32C on parts (\(e.code ?? "?")): parts carry Content-MD5") }
        }
        guard let again = sum.guardedByMD5(r) else { throw S3Error.invalidRequest("part without an MD5 to send it again with") }
        return try Self.partETag(try await send(again))
    }

    private static func partETag(_ resp: S3Response) throws -> String {
        guard let etag = resp.headers.first(name: "etag") else { throw S3Error.malformedResponse("UploadPart answer without ETag") }
        return ETag.normalize(etag)
    }

    /// Copies a byte range (inclusive) of an existing object into a part; returns the part's ETag.
    public func uploadPartCopy(_ bucket: String, key: String, uploadId: String, partNumber: Int,
                               sourceBucket: String, sourceKey: String, range: ClosedRange<Int64>? = nil,
                               sourceIfMatch: String? = nil) async throws -> String {
        var r = S3Request(.PUT, bucket: bucket, key: key, query: Self.partQuery(uploadId, partNumber))
        r.headers.append(("x-amz-copy-source", Self.copySource(bucket: sourceBucket, key: sourceKey)))
        if let range { r.headers.append(("x-amz-copy-source-range", "bytes=\(range.lowerBound)-\(range.upperBound)")) }
        if let m = sourceIfMatch { r.headers.append(("x-amz-copy-source-if-match", "\"\(m)\"")) }
        return try CopyObjectResult(xml: try await sendXML(r)).etag
    }

    /// Completes an upload; returns the object's ETag. An answer that says nothing clear (one that
    /// cannot be parsed, a connection lost before it, or NoSuchUpload on a retry, since the first
    /// attempt may have completed it) is settled by a HEAD of the object: if it is the object these
    /// parts make (`MultipartETag`), the upload succeeded; otherwise the first error stands.
    @discardableResult
    public func completeMultipartUpload(_ bucket: String, key: String, uploadId: String, parts: [CompletedPart]) async throws -> String {
        let sorted = parts.sorted(by: { $0.partNumber < $1.partNumber })
        var w = XMLWriter()
        w.open("CompleteMultipartUpload", "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"")
        for p in sorted {
            w.open("Part"); w.element("PartNumber", String(p.partNumber)); w.element("ETag", "\"\(p.etag)\""); w.close("Part")
        }
        w.close("CompleteMultipartUpload")
        let body = ByteBuffer(string: w.text)
        let r = S3Request(.POST, bucket: bucket, key: key, query: [("uploadId", uploadId)],
                          headers: [("content-type", "application/xml")], body: body)
        do {
            return try CompleteMultipartUploadResult(xml: try await sendXML(r)).etag
        } catch let error as S3Error where error.leavesCompletionUnknown {
            let expected = MultipartETag(parts: sorted.map(\.etag))
            guard let head = try? await headObject(bucket, key: key), expected.matches(head.etag) else { throw error }
            logger.notice("CompleteMultipartUpload of \(bucket)/\(key): \(error); the object is stored (HEAD: ETag \(head.etag))")
            return head.etag
        }
    }

    public func abortMultipartUpload(_ bucket: String, key: String, uploadId: String) async throws {
        _ = try await send(S3Request(.DELETE, bucket: bucket, key: key, query: [("uploadId", uploadId)]))
    }

    public func listParts(_ bucket: String, key: String, uploadId: String, partNumberMarker: Int? = nil,
                          maxParts: Int? = nil) async throws -> ListPartsPage {
        var q: [(String, String?)] = [("uploadId", uploadId)]
        if let m = partNumberMarker { q.append(("part-number-marker", String(m))) }
        if let m = maxParts { q.append(("max-parts", String(m))) }
        return try ListPartsPage(xml: try await sendXML(S3Request(.GET, bucket: bucket, key: key, query: q)))
    }

    /// Every part of an upload, page by page.
    public func listAllParts(_ bucket: String, key: String, uploadId: String) async throws -> [Part] {
        var all: [Part] = []
        var marker: Int?
        while true {
            let page = try await listParts(bucket, key: key, uploadId: uploadId, partNumberMarker: marker)
            all += page.parts
            let next = page.nextPartNumberMarker ?? page.parts.last?.partNumber
            guard page.isTruncated, let next, next != marker, !page.parts.isEmpty else { return all }
            marker = next
        }
    }

    public func listMultipartUploads(_ bucket: String, prefix: String? = nil, keyMarker: String? = nil,
                                     uploadIdMarker: String? = nil, maxUploads: Int? = nil) async throws -> ListMultipartUploadsPage {
        var q: [(String, String?)] = [("uploads", nil), ("encoding-type", "url")]
        if let p = prefix { q.append(("prefix", p)) }
        if let k = keyMarker { q.append(("key-marker", k)) }
        if let u = uploadIdMarker { q.append(("upload-id-marker", u)) }
        if let m = maxUploads { q.append(("max-uploads", String(m))) }
        return try ListMultipartUploadsPage(xml: try await sendXML(S3Request(.GET, bucket: bucket, query: q)))
    }

    /// Every incomplete upload under `prefix`. Servers disagree on the markers: Swift s3api leaves
    /// both empty and says "truncated" whenever a page is full (the last upload of the page is then
    /// the next marker); SeaweedFS gives only NextUploadIdMarker. A page that brings nothing new
    /// ends the walk, so no server can make it loop.
    public func listAllMultipartUploads(_ bucket: String, prefix: String? = nil, pageSize: Int? = nil) async throws -> [MultipartUpload] {
        var all: [MultipartUpload] = []
        var seen = Set<String>()
        var keyMarker: String?
        var idMarker: String?
        while true {
            let page = try await listMultipartUploads(bucket, prefix: prefix, keyMarker: keyMarker,
                                                      uploadIdMarker: idMarker, maxUploads: pageSize)
            var fresh = 0
            for u in page.uploads where seen.insert(u.key + "\u{0}" + u.uploadId).inserted {
                all.append(u)
                fresh += 1
            }
            guard page.isTruncated, fresh > 0 else { return all }
            switch (page.nextKeyMarker, page.nextUploadIdMarker) {
            case (nil, nil):                 // Swift s3api: no markers at all
                keyMarker = page.uploads.last?.key
                idMarker = page.uploads.last?.uploadId
            case (nil, let id?):             // SeaweedFS: pages by upload id alone
                keyMarker = nil
                idMarker = id
            case (let k, let id):
                keyMarker = k
                idMarker = id
            }
        }
    }
}

/// How to cut an upload into parts so that the server's part-count limit is never reached.
/// Part sizes start at `minPartSize` and double every `groupLength` parts (capped at 5 GiB), with
/// `groupLength` the longest that still lets `maxParts` parts hold `targetObjectSize` bytes; so
/// small files use small parts and a stream of unknown length still fits.
public struct PartSizePlan: Sendable, Equatable {
    public static let maxPartSize: Int64 = 5 << 30
    public let minPartSize: Int64
    public let maxParts: Int
    public let groupLength: Int

    public init(maxParts: Int = 10_000, minPartSize: Int64 = 8 << 20, targetObjectSize: Int64 = 5 << 40) {
        self.maxParts = max(1, min(maxParts, 10_000))
        self.minPartSize = max(5 << 20, min(minPartSize, Self.maxPartSize))
        var g = self.maxParts
        while g > 1 && Self.capacity(maxParts: self.maxParts, min: self.minPartSize, group: g) < targetObjectSize {
            g -= max(1, g / 64)
        }
        self.groupLength = max(1, g)
    }

    static func capacity(maxParts: Int, min: Int64, group: Int) -> Int64 {
        var total: Int64 = 0
        var n = 1
        while n <= maxParts {
            let size = partSize(n, min: min, group: group)
            let count = Int64(Swift.min(group - (n - 1) % group, maxParts - n + 1))
            let (sum, overflow) = total.addingReportingOverflow(size * count)
            if overflow { return .max }
            total = sum
            n += Int(count)
        }
        return total
    }

    static func partSize(_ n: Int, min: Int64, group: Int) -> Int64 {
        let doublings = (n - 1) / group
        guard doublings < 40 else { return maxPartSize }
        let (s, overflow) = min.multipliedReportingOverflow(by: Int64(1) << Int64(doublings))
        return overflow ? maxPartSize : Swift.min(s, maxPartSize)
    }

    /// The size of part `n` (1-based).
    public func partSize(_ n: Int) -> Int64 { Self.partSize(n, min: minPartSize, group: groupLength) }

    /// The largest object these parts can hold.
    public var capacity: Int64 { Self.capacity(maxParts: maxParts, min: minPartSize, group: groupLength) }

    /// The part that holds byte `offset`, and where that part starts.
    public func part(containing offset: Int64) -> (number: Int, start: Int64) {
        var start: Int64 = 0
        var n = 1
        while n < maxParts {
            let s = partSize(n)
            if offset < start + s { return (n, start) }
            start += s
            n += 1
        }
        return (maxParts, start)
    }
}
