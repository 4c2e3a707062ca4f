/// Where and how to reach an S3 service: URL, region, addressing style and signature version.
/// Building one validates the URL; `location` maps a bucket and key onto URL, Host header and
/// the paths the signers need, so addressing is decided in one place.
public struct S3Endpoint: Sendable, Equatable {
    public enum AddressingStyle: String, Sendable, CaseIterable {
        /// Virtual-hosted for `*.amazonaws.com`, path-style for everything else.
        case auto
        case path
        case virtual
    }

    public enum SignatureVersion: String, Sendable, CaseIterable {
        case v4
        case v2
    }

    public var scheme: String
    public var host: String
    public var port: Int?
    public var region: String
    public var addressing: AddressingStyle
    public var signature: SignatureVersion
    /// PEM file of extra CA certificates to trust (https).
    public var caBundlePath: String?
    /// Certificate checks; on unless turned off explicitly.
    public var verifyCertificates: Bool

    public init(url: String, region: String = "us-east-1", addressing: AddressingStyle = .auto,
                signature: SignatureVersion = .v4, caBundlePath: String? = nil, verifyCertificates: Bool = true) throws {
        var rest = Substring(url.trimmingSpaces)
        let scheme: String
        if rest.hasPrefix("https://") { scheme = "https"; rest = rest.dropFirst(8) }
        else if rest.hasPrefix("http://") { scheme = "http"; rest = rest.dropFirst(7) }
        else if !rest.contains("://") { scheme = "https" }
        else { throw S3Error.invalidRequest("endpoint URL must start with http:// or https://: \(url)") }
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else {
                throw S3Error.invalidRequest("endpoint URL must not have a path: \(url)")
            }
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port: Int?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw S3Error.invalidRequest("bad IPv6 endpoint: \(url)") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw S3Error.invalidRequest("bad port in \(url)") }
                port = p
            }
            host = String(host[...close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else {
                throw S3Error.invalidRequest("bad port in \(url)")
            }
            port = p
            host = String(host[..<colon])
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || "-._[]:".contains($0) }) else {
            throw S3Error.invalidRequest("bad host in endpoint URL: \(url)")
        }
        guard !region.isEmpty, region.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw S3Error.invalidRequest("bad region: \(region)")
        }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        self.region = region
        self.addressing = addressing
        self.signature = signature
        self.caBundlePath = caBundlePath
        self.verifyCertificates = verifyCertificates
    }

    /// The endpoint from the AWS environment conventions: `AWS_ENDPOINT_URL_S3`, then
    /// `AWS_ENDPOINT_URL`, then AWS's regional endpoint; region from `AWS_REGION`, then
    /// `AWS_DEFAULT_REGION`, then `us-east-1`. Explicit arguments win over the environment.
    public static func resolve(url: String?, region: String?, environment: [String: String],
                               addressing: AddressingStyle = .auto, signature: SignatureVersion = .v4,
                               caBundlePath: String? = nil, verifyCertificates: Bool = true) throws -> S3Endpoint {
        func env(_ k: String) -> String? { environment[k].flatMap { $0.isEmpty ? nil : $0 } }
        let region = region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? "us-east-1"
        let url = url ?? env("AWS_ENDPOINT_URL_S3") ?? env("AWS_ENDPOINT_URL") ?? "https://s3.\(region).amazonaws.com"
        return try S3Endpoint(url: url, region: region, addressing: addressing, signature: signature,
                              caBundlePath: caBundlePath ?? env("AWS_CA_BUNDLE"), verifyCertificates: verifyCertificates)
    }

    public var isDefaultPort: Bool {
        port == nil || (scheme == "http" && port == 80) || (scheme == "https" && port == 443)
    }

    /// `host[:port]` as the Host header carries it.
    public var authority: String { hostWithPort(host) }

    func hostWithPort(_ name: String) -> String {
        guard let port, !isDefaultPort else { return name }
        return "\(name):\(port)"
    }

    public var urlString: String { "\(scheme)://\(authority)" }

    static func isIPAddress(_ host: String) -> Bool {
        if host.hasPrefix("[") { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }

    /// A bucket name that can be a DNS label under the endpoint's host.
    static func isVirtualHostable(_ bucket: String, https: Bool) -> Bool {
        guard (3...63).contains(bucket.utf8.count) else { return false }
        if https && bucket.contains(".") { return false }
        return bucket.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 46 }
            && !bucket.hasPrefix("-") && !bucket.hasSuffix("-")
    }

    public func usesPathStyle(bucket: String) -> Bool {
        switch addressing {
        case .path: return true
        case .virtual: return !Self.isVirtualHostable(bucket, https: scheme == "https")
        case .auto:
            if Self.isIPAddress(host) || host == "localhost" { return true }
            guard host.hasSuffix("amazonaws.com") else { return true }
            return !Self.isVirtualHostable(bucket, https: scheme == "https")
        }
    }

    /// What a request for this bucket and key is sent to.
    public struct Location: Sendable, Equatable {
        /// `host[:port]` for the Host header.
        public var authority: String
        /// The percent-encoded path as sent (and as SigV4 signs it).
        public var encodedPath: String
        /// `/bucket/encoded-key`, the SigV2 resource whatever the addressing style.
        public var resourcePath: String
    }

    public func location(bucket: String?, key: String?) -> Location {
        let encodedKey = key.map { URIEncoding.encode($0, keepSlash: true) } ?? ""
        guard let bucket else { return Location(authority: authority, encodedPath: "/", resourcePath: "/") }
        let resource = "/\(bucket)/\(encodedKey)"
        if usesPathStyle(bucket: bucket) {
            return Location(authority: authority, encodedPath: "/\(URIEncoding.encode(bucket))/\(encodedKey)", resourcePath: resource)
        }
        let hostName = "\(bucket).\(host)"
        return Location(authority: hostWithPort(hostName), encodedPath: "/\(encodedKey)", resourcePath: resource)
    }
}
