import Crypto

/// AWS Signature Version 4 in the header form (`Authorization: AWS4-HMAC-SHA256 ...`).
/// It signs exactly the headers it is given (which must include `host` and `x-amz-date`),
/// never normalises the path (S3 rules) and never uses aws-chunked payloads.
public struct SigV4Signer: Sendable {
    public var region: String
    public var service: String

    public init(region: String, service: String = "s3") {
        self.region = region
        self.service = service
    }

    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// The canonical query string: each name and value encoded, sorted by name then value.
    static func canonicalQuery(_ query: [(String, String?)]) -> String {
        query.map { (URIEncoding.encode($0.0), URIEncoding.encode($0.1 ?? "")) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Lower-cased names, values trimmed with inner runs of spaces folded, duplicates joined by ','.
    static func canonicalHeaders(_ headers: [(String, String)]) -> (canonical: String, signed: String) {
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            let folded = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            merged[name.lowercased(), default: []].append(folded)
        }
        let sorted = merged.sorted { $0.key < $1.key }
        let canonical = sorted.map { "\($0.key):\($0.value.joined(separator: ","))\n" }.joined()
        return (canonical, sorted.map(\.key).joined(separator: ";"))
    }

    public func canonicalRequest(method: String, encodedPath: String, query: [(String, String?)],
                                 headers: [(String, String)], payloadHash: String) -> (request: String, signedHeaders: String) {
        let (canonical, signed) = Self.canonicalHeaders(headers)
        let text = [method, encodedPath.isEmpty ? "/" : encodedPath, Self.canonicalQuery(query), canonical, signed, payloadHash]
            .joined(separator: "\n")
        return (text, signed)
    }

    func scope(_ date: Timestamp) -> String { "\(date.amzDay)/\(region)/\(service)/aws4_request" }

    public func stringToSign(canonicalRequest: String, date: Timestamp) -> String {
        let hash = SHA256.hash(data: Array(canonicalRequest.utf8)).hexString
        return "AWS4-HMAC-SHA256\n\(date.amzDate)\n\(scope(date))\n\(hash)"
    }

    func signingKey(secret: String, date: Timestamp) -> SymmetricKey {
        func hmac(_ key: SymmetricKey, _ msg: String) -> SymmetricKey {
            SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(msg.utf8), using: key))
        }
        var k = SymmetricKey(data: Array("AWS4\(secret)".utf8))
        for part in [date.amzDay, region, service, "aws4_request"] { k = hmac(k, part) }
        return k
    }

    /// The value of the `Authorization` header for a request with these parts.
    public func authorization(method: String, encodedPath: String, query: [(String, String?)],
                              headers: [(String, String)], payloadHash: String,
                              date: Timestamp, credentials: Credentials) -> String {
        let (creq, signed) = canonicalRequest(method: method, encodedPath: encodedPath, query: query,
                                              headers: headers, payloadHash: payloadHash)
        let sts = stringToSign(canonicalRequest: creq, date: date)
        let sig = HMAC<SHA256>.authenticationCode(for: Array(sts.utf8), using: signingKey(secret: credentials.secretKey, date: date))
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope(date)), SignedHeaders=\(signed), Signature=\(Array(sig).hexString)"
    }
}

extension Sequence where Element == UInt8 {
    public var hexString: String {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in self {
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var base64String: String { Base64.encode(Array(self)) }
}

/// Standard base64 (RFC 4648, with padding).
public enum Base64 {
    private static let table: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ data: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((data.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < data.count {
            let n = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2])
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], table[Int(n & 63)]]
            i += 3
        }
        let rest = data.count - i
        if rest == 1 {
            let n = UInt32(data[i]) << 16
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ s: String) -> [UInt8]? {
        var lookup = [Int16](repeating: -1, count: 256)
        for (i, c) in table.enumerated() { lookup[Int(c)] = Int16(i) }
        var out = [UInt8]()
        var acc: UInt32 = 0
        var bits = 0
        for c in s.utf8 {
            if c == UInt8(ascii: "=") { break }
            if c == 10 || c == 13 || c == 32 { continue }
            let v = lookup[Int(c)]
            guard v >= 0 else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(acc >> UInt32(bits) & 0xFF))
            }
        }
        return out
    }
}
