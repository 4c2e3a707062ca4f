import Foundation
import Logging
import S3

/// How to reach the service, as the admin commands and the mount share it: endpoint, region,
/// signing, credentials. Explicit settings win over a bucketfs profile, which wins over the
/// AWS environment conventions.
public struct ConnectionSettings: Sendable, Equatable {
    public var url: String?
    public var region: String?
    public var addressing: S3Endpoint.AddressingStyle = .auto
    public var signature: S3Endpoint.SignatureVersion = .v4
    public var caBundle: String?
    public var insecure = false
    public var passwdFile: String?
    public var profile: String?
    public var bucket: String?
    public var maxConnections: Int?
    public var retries: Int?
    public var connectTimeout: Int?
    public var requestTimeout: Int?
    public var listV1 = false

    public init() {}

    public func makeClient(environment: [String: String] = ProcessInfo.processInfo.environment,
                           logger: Logger) throws -> S3Client {
        let sources = CredentialSources(passwdFile: passwdFile, profile: profile, bucket: bucket, environment: environment)
        let credentials = try CredentialChain.resolve(sources)
        // A bucketfs profile may carry the endpoint and region its keys belong to.
        let profile = passwdFile == nil ? (try? CredentialChain.bucketfsProfile(sources)) ?? nil : nil
        let useProfile = profile?.credentials == credentials
        let endpoint = try S3Endpoint.resolve(url: url ?? (useProfile ? profile?.endpoint : nil),
                                              region: region ?? (useProfile ? profile?.region : nil),
                                              environment: environment, addressing: addressing, signature: signature,
                                              caBundlePath: caBundle, verifyCertificates: !insecure)
        var cfg = S3ClientConfiguration(endpoint: endpoint)
        if let m = maxConnections { cfg.maxConnections = m }
        if let r = retries { cfg.retry.maxAttempts = r }
        if let t = connectTimeout { cfg.connectTimeout = .seconds(t) }
        if let t = requestTimeout { cfg.requestTimeout = .seconds(t) }
        cfg.listV1 = listV1
        if !endpoint.verifyCertificates && endpoint.scheme == "https" {
            logger.warning("no_check_certificate: the certificate of \(endpoint.host) is not checked; anyone on the path can read and change what is sent")
        }
        logger.debug("endpoint \(endpoint.urlString) region \(endpoint.region) signature \(endpoint.signature.rawValue) keys \(credentials)")
        return try S3Client(configuration: cfg, credentials: credentials, logger: logger)
    }
}

/// Exit codes (README "Exit codes").
public enum ExitStatus: Int32 {
    case ok = 0
    case failure = 1
    case denied = 2
    case notFound = 3
    case unreachable = 4
    case tls = 5
    case usage = 64
}

/// One clear line for an error, and the exit code for it. Never includes a secret.
public func explain(_ error: any Error, bucket: String? = nil, endpoint: String? = nil) -> (String, ExitStatus) {
    if let e = error as? S3Error {
        switch e {
        case .credentials(let m): return (m, .denied)
        case .transport(let m): return ("cannot reach \(endpoint ?? "the endpoint"): \(m)", .unreachable)
        case .timeout(let m): return ("no answer from \(endpoint ?? "the endpoint"): \(m)", .unreachable)
        case .tls(let m): return (m, .tls)
        case .invalidRequest(let m): return (m, .usage)
        case .malformedResponse(let m): return ("\(endpoint ?? "the endpoint") does not answer like an S3 service: \(m)", .failure)
        case .service(let s):
            switch s.code {
            case "SignatureDoesNotMatch":
                return ("the secret key does not match the access key (SignatureDoesNotMatch) [request \(s.requestId ?? "-")]", .denied)
            case "InvalidAccessKeyId": return ("unknown access key (InvalidAccessKeyId)", .denied)
            case "AccessDenied", "Forbidden": return ("access denied\(bucket.map { " to bucket \($0)" } ?? "") (\(s.code))", .denied)
            case "NoSuchBucket": return ("bucket \(bucket ?? "") does not exist", .notFound)
            case "AuthorizationHeaderMalformed":
                return ("wrong region for this endpoint\(s.region.map { "; the server says \($0) (use -o region=\($0))" } ?? ""): \(s.message)", .denied)
            default:
                if s.status == 404, let bucket { return ("bucket \(bucket) does not exist", .notFound) }
                if s.status == 403 { return ("access denied\(bucket.map { " to bucket \($0)" } ?? "") (HTTP 403)", .denied) }
                return (s.description, .failure)
            }
        }
    }
    if let e = error as? MountSettings.ParseError { return (e.description, .usage) }
    return ("\(error)", .failure)
}
