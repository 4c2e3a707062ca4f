import Crypto
import NIOCore
import NIOHTTP1

/// The body and description of a GET.
public struct GetObjectOutput: Sendable {
    public var info: ObjectInfo
    /// nil when the server answered 304 Not Modified to If-None-Match.
    public var body: ByteBuffer?
    public var notModified: Bool { body == nil }
}

/// A caller's memory that a ranged GET writes into. The caller keeps it alive and unshared
/// until the call returns.
public struct UnsafeDestination: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let count: Int
    public init(base: UnsafeMutableRawPointer, count: Int) { self.base = base; self.count = count }
}

/// Object operations: get (whole, ranged, conditional, into a caller's buffer), head, put,
/// copy, delete, delete many.
extension S3Client {
    static func objectInfo(_ h: HTTPHeaders) throws -> ObjectInfo {
        var size = Int64(h.first(name: "content-length") ?? "") ?? 0
        if let cr = h.first(name: "content-range"), let slash = cr.lastIndex(of: "/"),
           let total = Int64(cr[cr.index(after: slash)...]) {
            size = total
        }
        var meta: [String: String] = [:]
        for (name, value) in h {
            let n = name.lowercased()
            if n.hasPrefix("x-amz-meta-") { meta[String(n.dropFirst(11))] = value }
        }
        return ObjectInfo(size: size, etag: ETag.normalize(h.first(name: "etag") ?? ""),
                          lastModified: h.first(name: "last-modified").flatMap { Timestamp(rfc1123: $0) },
                          contentType: h.first(name: "content-type"), metadata: meta,
                          versionId: h.first(name: "x-amz-version-id"))
    }

    static func rangeHeader(_ r: ClosedRange<Int64>) -> (String, String) { ("range", "bytes=\(r.lowerBound)-\(r.upperBound)") }

    public func headObject(_ bucket: String, key: String, ifMatch: String? = nil) async throws -> ObjectInfo {
        var r = S3Request(.HEAD, bucket: bucket, key: key)
        if let m = ifMatch { r.headers.append(("if-match", "\"\(m)\"")) }
        return try Self.objectInfo(try await send(r).headers)
    }

    /// GET collected in memory (up to `maxBytes`). `range` is inclusive, as HTTP Range is.
    public func getObject(_ bucket: String, key: String, range: ClosedRange<Int64>? = nil,
                          ifMatch: String? = nil, ifNoneMatch: String? = nil,
                          maxBytes: Int = 64 << 20) async throws -> GetObjectOutput {
        var r = S3Request(.GET, bucket: bucket, key: key)
        if let range { r.headers.append(Self.rangeHeader(range)); r.expectedResponseBytes = Int(range.count) }
        if let m = ifMatch { r.headers.append(("if-match", "\"\(m)\"")) }
        if let m = ifNoneMatch { r.headers.append(("if-none-match", "\"\(m)\"")) }
        return try await perform(r, allowNotModified: ifNoneMatch != nil) { response in
            let info = try Self.objectInfo(response.headers)
            if response.status.code == 304 { return GetObjectOutput(info: info, body: nil) }
            do {
                return GetObjectOutput(info: info, body: try await response.body.collect(upTo: maxBytes))
            } catch is NIOTooManyBytesError {
                throw S3Error.invalidRequest("object larger than \(maxBytes) bytes; use a range")
            }
        }
    }

    /// A ranged GET that lands straight in `destination`: returns how many bytes were written
    /// (fewer than asked only at the end of the object) and the object's description.
    /// With `ifMatch`, a changed object fails with PreconditionFailed instead of mixing versions.
    public func getObject(_ bucket: String, key: String, range: ClosedRange<Int64>, ifMatch: String? = nil,
                          into destination: UnsafeDestination) async throws -> (count: Int, info: ObjectInfo) {
        guard range.count <= destination.count else { throw S3Error.invalidRequest("range larger than the buffer") }
        let c = try await rangedGet(bucket, key: key, range: range, ifMatch: ifMatch)
        var written = 0
        for chunk in c.segments {
            chunk.withUnsafeReadableBytes { src in
                if let from = src.baseAddress { (destination.base + written).copyMemory(from: from, byteCount: src.count) }
            }
            written += chunk.readableBytes
        }
        return (written, try Self.objectInfo(c.head.headers))
    }

    /// A ranged GET answered as the buffers the body arrived in (slices of the network's
    /// buffers, no copy), at most `range.count` bytes: fewer only at the end of the object.
    /// With `ifMatch`, a changed object fails with PreconditionFailed instead of mixing versions.
    /// `observer` sees the body's parts as they arrive (a 206 answer's only: the range was honoured).
    public func getObjectSegments(_ bucket: String, key: String, range: ClosedRange<Int64>, ifMatch: String? = nil,
                                  observer: BodyObserver? = nil) async throws -> (segments: [ByteBuffer], count: Int) {
        let c = try await rangedGet(bucket, key: key, range: range, ifMatch: ifMatch, observer: observer)
        return (c.segments, c.count)
    }

    /// One ranged GET read whole on the event loop; a server that ignores the range is an error.
    private func rangedGet(_ bucket: String, key: String, range: ClosedRange<Int64>, ifMatch: String?,
                           observer: BodyObserver? = nil) async throws -> CollectedResponse {
        var r = S3Request(.GET, bucket: bucket, key: key, headers: [Self.rangeHeader(range)])
        r.expectedResponseBytes = Int(range.count)
        if let m = ifMatch { r.headers.append(("if-match", "\"\(m)\"")) }
        let c = try await performCollected(r, limit: Int(range.count), observer: observer)
        if c.status == 200 && range.lowerBound > 0 {
            throw S3Error.malformedResponse("server ignored the Range header")
        }
        return c
    }

    static func metadataHeaders(_ metadata: [String: String]) throws -> [(String, String)] {
        try metadata.sorted { $0.key < $1.key }.map { name, value in
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != 58 }),
                  value.utf8.allSatisfy({ ($0 >= 32 && $0 < 127) || $0 == 9 }) else {
                throw S3Error.invalidRequest("metadata \(name.debugDescription) must be printable ASCII")
            }
            return ("x-amz-meta-\(name.lowercased())", value)
        }
    }

    /// Guards an object body: by its CRC32C where the server is known to check that, else by
    /// Content-MD5 (a single PUT never probes: a conditional PUT could not be sent twice).
    func protectBody(_ r: inout S3Request) {
        guard let body = r.body, configuration.guardUploads else { return }
        // One look at what is known: two could straddle the moment it is learnt and ask for neither.
        let crc = checksums.current == .crc32c
        var digest = BodyDigest(crc32c: crc, md5: !crc)
        digest.update(body)
        digest.finalize().guardBody(&r)
    }

    @discardableResult
    public func putObject(_ bucket: String, key: String, body: ByteBuffer, contentType: String? = nil,
                          metadata: [String: String] = [:], ifNoneMatch: Bool = false) async throws -> String {
        var r = S3Request(.PUT, bucket: bucket, key: key, body: body)
        r.headers.append(("content-type", contentType ?? "application/octet-stream"))
        r.headers += try Self.metadataHeaders(metadata)
        if ifNoneMatch { r.headers.append(("if-none-match", "*")) }
        protectBody(&r)
        let resp = try await send(r)
        return ETag.normalize(resp.headers.first(name: "etag") ?? "")
    }

    public enum MetadataDirective: String, Sendable {
        case copy = "COPY"
        case replace = "REPLACE"
    }

    static func copySource(bucket: String, key: String) -> String {
        "/\(bucket)/\(URIEncoding.encode(key, keepSlash: true))"
    }

    /// Server-side copy. With `.replace`, `metadata` and `contentType` become the new object's.
    @discardableResult
    public func copyObject(from sourceBucket: String, key sourceKey: String, to bucket: String, key: String,
                           directive: MetadataDirective = .copy, metadata: [String: String] = [:],
                           contentType: String? = nil, sourceIfMatch: String? = nil) async throws -> CopyObjectResult {
        var r = S3Request(.PUT, bucket: bucket, key: key)
        r.headers.append(("x-amz-copy-source", Self.copySource(bucket: sourceBucket, key: sourceKey)))
        r.headers.append(("x-amz-metadata-directive", directive.rawValue))
        if directive == .replace {
            r.headers += try Self.metadataHeaders(metadata)
            r.headers.append(("content-type", contentType ?? "application/octet-stream"))
        }
        if let m = sourceIfMatch { r.headers.append(("x-amz-copy-source-if-match", "\"\(m)\"")) }
        return try CopyObjectResult(xml: try await sendXML(r))
    }

    public func deleteObject(_ bucket: String, key: String) async throws {
        _ = try await send(S3Request(.DELETE, bucket: bucket, key: key))
    }

    /// Whether a key can travel in an XML 1.0 body (DeleteObjects); control characters cannot.
    static func isXMLSafe(_ s: String) -> Bool {
        s.unicodeScalars.allSatisfy { $0.value >= 0x20 || $0 == "\t" || $0 == "\n" || $0 == "\r" }
            && !s.unicodeScalars.contains { (0xFFFE...0xFFFF).contains($0.value) }
    }

    /// DeleteObjects for up to 1000 keys, with Content-MD5 (Swift s3api requires it).
    /// Per-key failures come back in the result; keys XML cannot carry are deleted one by one.
    public func deleteObjects(_ bucket: String, keys: [String]) async throws -> DeleteObjectsResult {
        guard keys.count <= 1000 else { throw S3Error.invalidRequest("DeleteObjects takes at most 1000 keys") }
        var result = DeleteObjectsResult(deleted: [], errors: [])
        let (safe, unsafe) = (keys.filter(Self.isXMLSafe), keys.filter { !Self.isXMLSafe($0) })
        if !safe.isEmpty {
            var w = XMLWriter()
            w.open("Delete", "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"")
            w.element("Quiet", "false")
            for k in safe { w.open("Object"); w.element("Key", k); w.close("Object") }
            w.close("Delete")
            let body = ByteBuffer(string: w.text)
            let r = S3Request(.POST, bucket: bucket, query: [("delete", nil)],
                              headers: [("content-type", "application/xml"), ("content-md5", body.contentMD5)], body: body)
            let xml = try await sendXML(r)
            let part = try DeleteObjectsResult(xml: xml)
            result.deleted += part.deleted
            result.errors += part.errors
        }
        for k in unsafe {
            do {
                try await deleteObject(bucket, key: k)
                result.deleted.append(k)
            } catch let e as S3Error {
                result.errors.append(.init(key: k, code: e.code ?? "Error", message: e.description))
            }
        }
        return result
    }
}
