import Crypto

/// AWS Signature Version 2 (`Authorization: AWS access:signature`), the older form that
/// OpenStack Swift s3api and many S3-compatible services still accept.
public struct SigV2Signer: Sendable {
    public init() {}

    /// Query parameters that are part of the signed resource.
    static let subresources: Set<String> = [
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
        "policy", "requestPayment", "restore", "tagging", "torrent", "uploadId", "uploads", "versionId",
        "versioning", "versions", "website",
        "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires",
    ]

    /// `resourcePath` is `/bucket/encoded-key` whatever the addressing style.
    public func stringToSign(method: String, resourcePath: String, query: [(String, String?)],
                             headers: [(String, String)]) -> String {
        var md5 = "", type = "", date = ""
        var amz: [String: [String]] = [:]
        for (name, value) in headers {
            let n = name.lowercased()
            switch n {
            case "content-md5": md5 = value
            case "content-type": type = value
            case "date": date = value
            default:
                if n.hasPrefix("x-amz-") { amz[n, default: []].append(value.trimmingSpaces) }
            }
        }
        if amz["x-amz-date"] != nil { date = "" }
        let amzLines = amz.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.joined(separator: ","))\n" }.joined()
        let sub = query.filter { Self.subresources.contains($0.0) }
            .sorted { $0.0 < $1.0 }
            .map { pair in pair.1.map { "\(pair.0)=\($0)" } ?? pair.0 }
        var resource = resourcePath
        if !sub.isEmpty { resource += "?" + sub.joined(separator: "&") }
        return "\(method)\n\(md5)\n\(type)\n\(date)\n\(amzLines)\(resource)"
    }

    public func signature(stringToSign: String, secret: String) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array(stringToSign.utf8),
                                                          using: SymmetricKey(data: Array(secret.utf8)))
        return Array(mac).base64String
    }

    public func authorization(method: String, resourcePath: String, query: [(String, String?)],
                              headers: [(String, String)], credentials: Credentials) -> String {
        let sts = stringToSign(method: method, resourcePath: resourcePath, query: query, headers: headers)
        return "AWS \(credentials.accessKey):\(signature(stringToSign: sts, secret: credentials.secretKey))"
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
