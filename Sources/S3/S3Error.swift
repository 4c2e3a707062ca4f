#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error answered by the server: the S3 error XML's fields and the HTTP status.
public struct S3ServiceError: Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var requestId: String?
    public var resource: String?
    /// `<Region>` of AuthorizationHeaderMalformed / PermanentRedirect answers.
    public var region: String?
    /// The operation (`GetObject`, `UploadPart`, ...) and its target (`bucket/key`) that failed.
    public var operation: String?
    public var target: String?

    public init(status: Int, code: String, message: String = "", requestId: String? = nil,
                resource: String? = nil, region: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.requestId = requestId
        self.resource = resource
        self.region = region
    }

    /// One line for the log and the user: what failed, where, the server's words and its request
    /// id (what a provider asks for).
    public var description: String {
        var s = "\(code) (HTTP \(status))"
        if let operation { s += " on \(operation)" + (target.map { " " + $0 } ?? "") }
        if !message.isEmpty { s += ": \(message)" }
        if let r = requestId { s += " [request \(r)]" }
        return s
    }

    /// The code an error without a body (HEAD) stands for.
    static func codeForStatus(_ status: Int) -> String {
        switch status {
        case 301: return "PermanentRedirect"
        case 304: return "NotModified"
        case 400: return "BadRequest"
        case 403: return "AccessDenied"
        case 404: return "NotFound"
        case 405: return "MethodNotAllowed"
        case 409: return "Conflict"
        case 412: return "PreconditionFailed"
        case 416: return "InvalidRange"
        case 500: return "InternalError"
        case 501: return "NotImplemented"
        case 503: return "ServiceUnavailable"
        default: return "HTTP\(status)"
        }
    }
}

/// Every failure of the S3 client, typed. None of them carries a secret.
public enum S3Error: Error, Sendable, CustomStringConvertible {
    /// The server answered with an error status (or a 200 carrying `<Error>`).
    case service(S3ServiceError)
    /// No answer: connection refused or reset, DNS failure, TLS failure.
    case transport(String)
    /// The TLS handshake failed (an untrusted certificate, a wrong host name): a sentence that
    /// says what to do. Never retried, since no retry changes a certificate.
    case tls(String)
    /// The request or its body took longer than the configured timeout.
    case timeout(String)
    /// The server answered something that is not what S3 answers (bad XML, missing fields).
    case malformedResponse(String)
    /// The caller asked for something the client will not send (bad bucket name, key too long...).
    case invalidRequest(String)
    /// No usable credentials, or a credentials file that is unsafe or unreadable.
    case credentials(String)

    public var description: String {
        switch self {
        case .service(let e): return e.description
        case .transport(let m): return "connection failed: \(m)"
        case .tls(let m): return m
        case .timeout(let m): return "timed out: \(m)"
        case .malformedResponse(let m): return "unexpected answer from the server: \(m)"
        case .invalidRequest(let m): return "invalid request: \(m)"
        case .credentials(let m): return "credentials: \(m)"
        }
    }

    /// The same error, naming the request's operation and target if it is a service error.
    func naming(_ r: S3Request) -> S3Error {
        guard case .service(var e) = self, e.operation == nil else { return self }
        e.operation = r.operationName
        e.target = r.target
        return .service(e)
    }

    public var serviceError: S3ServiceError? {
        if case .service(let e) = self { return e }
        return nil
    }

    public var code: String? { serviceError?.code }
    public var httpStatus: Int? { serviceError?.status }

    /// Whether a retry may succeed (for idempotent requests). A timeout is not: the request
    /// already waited the whole `request_timeout` for a server that stays silent.
    public var isRetryable: Bool {
        switch self {
        case .transport: return true
        case .timeout: return false
        case .service(let e):
            if e.status >= 500 && e.status != 501 { return true }
            return ["SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "InternalError",
                    "ServiceUnavailable", "Throttling", "ThrottlingException"].contains(e.code)
        case .malformedResponse, .invalidRequest, .credentials, .tls: return false
        }
    }

    /// Whether a CompleteMultipartUpload that ended with this error may still have completed.
    public var leavesCompletionUnknown: Bool {
        switch self {
        case .malformedResponse, .transport, .timeout: return true
        case .service(let e): return e.code == "NoSuchUpload"
        case .invalidRequest, .credentials, .tls: return false
        }
    }

    /// The errno a filesystem operation reports for this error.
    public var errno: Int32 {
        switch self {
        case .transport: return EIO
        case .tls: return EACCES
        case .timeout: return ETIMEDOUT
        case .malformedResponse: return EIO
        case .invalidRequest: return EINVAL
        case .credentials: return EACCES
        case .service(let e):
            switch e.code {
            case "NoSuchKey", "NoSuchBucket", "NotFound", "NoSuchUpload", "NoSuchVersion": return ENOENT
            case "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AllAccessDisabled",
                 "AccountProblem", "ExpiredToken", "InvalidToken", "Forbidden": return EACCES
            case "KeyTooLongError": return ENAMETOOLONG
            case "EntityTooLarge", "MaxMessageLengthExceeded": return EFBIG
            case "BucketNotEmpty": return ENOTEMPTY
            case "BucketAlreadyExists", "BucketAlreadyOwnedByYou": return EEXIST
            case "PreconditionFailed": return ESTALE
            case "InvalidRange": return EINVAL
            case "NotImplemented", "MethodNotAllowed": return ENOTSUP
            case "SlowDown", "Throttling", "ServiceUnavailable": return EAGAIN
            case "QuotaExceeded", "TooManyBuckets": return EDQUOT
            case "RequestTimeout": return ETIMEDOUT
            case "InvalidObjectState": return EIO
            default:
                switch e.status {
                case 403: return EACCES
                case 404: return ENOENT
                case 409: return EBUSY
                case 412: return ESTALE
                default: return EIO
                }
            }
        }
    }
}
