import Glibc
import NIOCore

/// A listing answer held as bytes. `tokenHint` is the V2 continuation token read by a byte scan
/// before any parse, so that the next page can be requested while this one is parsed; it is a
/// hint only: `parse()` gives the page, whose `nextToken` is what counts.
public struct UnparsedListPage: Sendable {
    let response: S3Response
    let v1: Bool

    /// The text of `<NextContinuationToken>`, entities decoded; nil when the answer has none.
    public let tokenHint: String?

    init(response: S3Response, v1: Bool) {
        self.response = response
        self.v1 = v1
        tokenHint = v1 ? nil : Self.scanToken(response.body)
    }

    /// The page. A 200 answer carrying `<Error>` becomes the service error it is.
    public func parse() throws -> ListObjectsPage {
        let xml = try response.serviceXML()
        // A server that ignores list-type=2 answers in the V1 form (Marker, NextMarker).
        let v1Shape = v1 || (xml.child("KeyCount") == nil && xml.child("Marker") != nil)
        return try ListObjectsPage(xml: xml, v1: v1Shape)
    }

    /// Element text cannot hold a literal `<`, so the opening tag found is the element itself.
    static func scanToken(_ body: ByteBuffer) -> String? {
        let open = Array("<NextContinuationToken>".utf8), close = Array("</NextContinuationToken>".utf8)
        return body.withUnsafeReadableBytes { raw -> String? in
            guard let o = find(open, in: raw, from: 0) else { return nil }
            let start = o + open.count
            guard let end = find(close, in: raw, from: start), end > start else { return nil }
            let snippet = Array("<t>".utf8) + Array(raw[start..<end]) + Array("</t>".utf8)
            guard let t = try? XMLElement.parse(snippet).text, !t.isEmpty else { return nil }
            return t
        }
    }

    /// The offset of the first `needle` in `raw` at or after `from`.
    static func find(_ needle: [UInt8], in raw: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = raw.baseAddress, let first = needle.first else { return nil }
        var i = from
        while raw.count - i >= needle.count {
            guard let hit = memchr(base + i, Int32(first), raw.count - i - needle.count + 1) else { return nil }
            let at = UnsafeRawPointer(hit) - base
            let same = needle.withUnsafeBytes { n in n.baseAddress.map { memcmp(base + at, $0, needle.count) == 0 } ?? false }
            if same { return at }
            i = at + 1
        }
        return nil
    }
}
