import AsyncHTTPClient
import Crypto
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Settings of one client: the endpoint, the connection pool, timeouts and retries.
public struct S3ClientConfiguration: Sendable {
    public var endpoint: S3Endpoint
    /// HTTP/1.1 connections per host (AsyncHTTPClient's default is 8).
    public var maxConnections: Int = 64
    public var connectTimeout: Duration = .seconds(5)
    /// Time for a request without a body to finish, and the longest the server may stay silent;
    /// requests with bodies get more (see `timeout(forBytes:)`). A request that runs out of it
    /// is not retried: a silent server costs one timeout, not one per attempt.
    public var requestTimeout: Duration = .seconds(20)
    /// Assumed worst-case throughput used to stretch the timeout of large transfers.
    public var minimumBytesPerSecond: Int = 1 << 20
    public var retry: RetryPolicy = RetryPolicy()
    /// Send a checksum with object data (CRC32C or Content-MD5, see `UploadChecksum`) so the
    /// server refuses damaged uploads.
    public var guardUploads: Bool = true
    /// Use ListObjects V1 instead of V2 (otherwise V1 is used only after a server rejects V2).
    public var listV1: Bool = false
    public var userAgent: String = "bucketfs/\(BucketFSVersion.current)"

    public init(endpoint: S3Endpoint) { self.endpoint = endpoint }

    func timeout(forBytes bytes: Int) -> TimeAmount {
        let seconds = requestTimeout.components.seconds + Int64(bytes / max(minimumBytesPerSecond, 1))
        return .seconds(seconds)
    }
}

/// One HTTP request to S3 before signing.
/// A request body of known length produced chunk by chunk, so a large part never sits in memory
/// whole. `make` is called once per attempt.
public struct StreamedBody: Sendable {
    public var length: Int64
    public var make: @Sendable () -> AsyncThrowingStream<ByteBuffer, any Error>
    public init(length: Int64, make: @escaping @Sendable () -> AsyncThrowingStream<ByteBuffer, any Error>) {
        self.length = length
        self.make = make
    }
}

struct S3Request: Sendable {
    var method: HTTPMethod
    var bucket: String?
    var key: String?
    var query: [(String, String?)] = []
    var headers: [(String, String)] = []
    var body: ByteBuffer?
    /// A body sent as it is produced (made anew for each attempt), instead of `body`.
    var bodyStream: StreamedBody?
    /// A body in memory in several buffers, sent back to back without joining them, instead of
    /// `body` (only through `performCollected`, which `send` uses for it).
    var bodyBuffers: [ByteBuffer]?
    /// The SigV4 payload hash; nil means: SHA-256 of the body.
    var payloadHash: String?
    var idempotent = true
    /// Overrides the client's retry policy for this request.
    var retry: RetryPolicy?
    /// How many bytes of the answer are expected at most (for the timeout).
    var expectedResponseBytes = 0

    init(_ method: HTTPMethod, bucket: String? = nil, key: String? = nil, query: [(String, String?)] = [],
         headers: [(String, String)] = [], body: ByteBuffer? = nil) {
        self.method = method
        self.bucket = bucket
        self.key = key
        self.query = query
        self.headers = headers
        self.body = body
    }
}

/// The status, headers and collected body of a successful answer.
struct S3Response: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer

    var bytes: [UInt8] { Array(body.readableBytesView) }
    func xml() throws -> XMLElement { try XMLElement.parse(bytes) }

    /// The body as XML; a 200 answer carrying `<Error>` (CopyObject, CompleteMultipartUpload)
    /// becomes the service error it is.
    func serviceXML() throws -> XMLElement {
        let xml = try xml()
        if xml.name == "Error" {
            throw S3Error.service(S3Client.decodeError(xml, status: status, requestId: S3Client.requestId(headers)))
        }
        return xml
    }
}

/// The S3 client: signs, sends, retries and decodes; one instance serves a whole mount and is
/// safe to use from any task. Every operation is one HTTP request (plus bounded retries), and
/// bodies are streamed or collected up to a stated bound.
public final class S3Client: Sendable {
    public let configuration: S3ClientConfiguration
    public let credentials: Credentials
    let http: HTTPClient
    let logger: Logger
    let useListV1: Mutex<Bool>
    let v4: SigV4Signer
    let v2 = SigV2Signer()
    let checksums = ChecksumSupport()

    /// Bytes of an error body that are read at most.
    static let maxErrorBody = 64 * 1024
    /// Bytes of an XML answer that are read at most.
    static let maxXMLBody = 64 * 1024 * 1024

    public init(configuration: S3ClientConfiguration, credentials: Credentials, logger: Logger = Logger(label: "bucketfs.s3")) throws {
        self.configuration = configuration
        self.credentials = credentials
        self.logger = logger
        self.useListV1 = Mutex(configuration.listV1)
        self.v4 = SigV4Signer(region: configuration.endpoint.region)
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = configuration.endpoint.caBundlePath {
            do {
                let certs = try NIOSSLCertificate.fromPEMFile(ca)
                tls.additionalTrustRoots = [.certificates(certs)]
            } catch {
                throw S3Error.invalidRequest("cannot read CA bundle \(ca): \(error)")
            }
        }
        if !configuration.endpoint.verifyCertificates { tls.certificateVerification = .none }
        var pool = HTTPClient.Configuration.ConnectionPool()
        pool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, configuration.maxConnections)
        pool.idleTimeout = .seconds(30)
        // A failed connection attempt fails the request at once, and the retry policy above
        // decides when to try again. The pool's own retries back off up to a minute, so after
        // an outage requests kept failing for about 30 s without a new attempt to connect.
        pool.retryConnectionEstablishment = false
        var cfg = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                           timeout: .init(connect: .seconds(configuration.connectTimeout.components.seconds),
                                                          read: .seconds(configuration.requestTimeout.components.seconds)),
                                           connectionPool: pool, decompression: .disabled)
        cfg.httpVersion = .http1Only
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: cfg)
    }

    /// Closes the connection pool. Call once, when no request is running.
    public func shutdown() async throws {
        // A request answered through a delegate completes a moment before its connection goes
        // back to the pool, on the connection's event loop; a shutdown in between trips a
        // precondition in AsyncHTTPClient. Anything a loop has queued runs before this.
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
            try? await loop.submit {}.get()
        }
        try await http.shutdown()
    }

    public var endpoint: S3Endpoint { configuration.endpoint }

    /// What guards upload bodies on this server, as far as this client has learnt it.
    public var uploadChecksum: UploadChecksum { checksums.current }

    /// A digest for one part's body: a CRC32C where the server checks it, an MD5 where it does
    /// not, and both while that is not known.
    public func bodyDigest() -> BodyDigest {
        guard configuration.guardUploads else { return BodyDigest(crc32c: false, md5: false) }
        let known = checksums.current
        return BodyDigest(crc32c: known != .md5, md5: known != .crc32c)
    }

    // MARK: signing

    func makeHTTPRequest(_ r: S3Request, date: Timestamp = .now()) -> HTTPClientRequest {
        let ep = configuration.endpoint
        let loc = ep.location(bucket: r.bucket, key: r.key)
        var headers: [(String, String)] = r.headers
        headers.append(("host", loc.authority))
        switch ep.signature {
        case .v4:
            let hash: String
            if let h = r.payloadHash { hash = h }
            else if let b = r.body, b.readableBytes > 0 { hash = b.sha256Hex }
            else { hash = SigV4Signer.emptyPayloadHash }
            headers.append(("x-amz-date", date.amzDate))
            headers.append(("x-amz-content-sha256", hash))
            if let t = credentials.sessionToken { headers.append(("x-amz-security-token", t)) }
            let auth = v4.authorization(method: r.method.rawValue, encodedPath: loc.encodedPath, query: r.query,
                                        headers: headers, payloadHash: hash, date: date, credentials: credentials)
            headers.append(("Authorization", auth))
        case .v2:
            headers.append(("date", date.rfc1123))
            if let t = credentials.sessionToken { headers.append(("x-amz-security-token", t)) }
            let auth = v2.authorization(method: r.method.rawValue, resourcePath: loc.resourcePath, query: r.query,
                                        headers: headers, credentials: credentials)
            headers.append(("Authorization", auth))
        }
        var url = "\(ep.scheme)://\(loc.authority)\(loc.encodedPath)"
        if !r.query.isEmpty {
            url += "?" + r.query.map { name, value in
                value.map { "\(URIEncoding.encode(name))=\(URIEncoding.encode($0))" } ?? URIEncoding.encode(name)
            }.joined(separator: "&")
        }
        var req = HTTPClientRequest(url: url)
        req.method = r.method
        for (n, v) in headers where n != "host" { req.headers.add(name: n, value: v) }
        req.headers.replaceOrAdd(name: "User-Agent", value: configuration.userAgent)
        if let b = r.body {
            req.body = .bytes(b)
        } else if let s = r.bodyStream {
            req.body = .stream(s.make(), length: .known(s.length))
        } else if r.method == .PUT || r.method == .POST {
            req.headers.replaceOrAdd(name: "Content-Length", value: "0")
        }
        return req
    }

    // MARK: sending

    /// Sends `r`, retrying as the policy allows; on a 2xx (or 304/206) answer, `handle` reads the
    /// response. A failure inside `handle` (a reset while streaming the body) is retried too.
    func perform<T: Sendable>(_ r: S3Request, allowNotModified: Bool = false,
                              _ handle: @Sendable (HTTPClientResponse) async throws -> T) async throws -> T {
        try await retrying(r) { try await self.performOnce(r, allowNotModified: allowNotModified, handle) }
    }

    /// Sends `r` (its body in memory, or none), retrying as the policy allows, and collects the
    /// answer on the event loop: at most `limit` body bytes (a longer body is a malformed answer).
    /// Cheaper than `perform` for answers read whole: no task hop per body part.
    func performCollected(_ r: S3Request, limit: Int, allowNotModified: Bool = false,
                          observer: BodyObserver? = nil) async throws -> CollectedResponse {
        precondition(r.bodyStream == nil, "streamed bodies go through perform")
        return try await retrying(r) { try await self.collectOnce(r, limit: limit, allowNotModified: allowNotModified, observer: observer) }
    }

    private func retrying<T: Sendable>(_ r: S3Request, _ once: () async throws -> T) async throws -> T {
        let policy = r.idempotent ? (r.retry ?? configuration.retry) : .none
        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 0
        while true {
            attempt += 1
            do {
                try Task.checkCancellation()
                return try await once()
            } catch let error as S3Error {
                let elapsed = clock.now - start
                guard error.isRetryable, attempt < policy.maxAttempts, elapsed < policy.maxTotal else {
                    let named = error.naming(r)
                    if attempt > 1 { logger.debug("giving up after \(attempt) attempts: \(named)") }
                    throw named
                }
                S3Metrics.retry(r)
                let delay = policy.delay(afterAttempt: attempt)
                logger.debug("retrying \(r.method.rawValue) \(r.bucket ?? "")/\(r.key ?? "") after \(error) (attempt \(attempt))")
                try await Task.sleep(for: delay)
            }
        }
    }

    private func collectOnce(_ r: S3Request, limit: Int, allowNotModified: Bool, observer: BodyObserver?) async throws -> CollectedResponse {
        let req = makeHTTPRequest(r)
        let sent = r.body?.readableBytes ?? r.bodyBuffers?.reduce(0) { $0 + $1.readableBytes } ?? 0
        let timeout = configuration.timeout(forBytes: max(sent, r.expectedResponseBytes))
        let start = ContinuousClock.now
        var outcome = "transport", received = 0
        defer { S3Metrics.attempt(r, outcome: outcome, since: start, sent: outcome == "transport" ? 0 : sent, received: received) }
        let collected: CollectedResponse
        do {
            var body: HTTPClient.Body?
            if let b = r.body { body = .byteBuffer(b) } else if let parts = r.bodyBuffers { body = Self.backToBack(parts, length: sent) }
            let legacy = try HTTPClient.Request(url: req.url, method: req.method, headers: req.headers, body: body)
            let task = http.execute(request: legacy, delegate: CollectingDelegate(limit: limit, errorLimit: Self.maxErrorBody, observer: observer),
                                    deadline: .now() + timeout)
            collected = try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
        } catch is CollectingDelegate.BodyTooLarge {
            outcome = "malformed"
            throw S3Error.malformedResponse("answer larger than \(limit) bytes")
        } catch {
            let mapped = mapTransportError(error)
            outcome = S3Metrics.outcome(of: mapped)
            throw mapped
        }
        let status = collected.status
        outcome = String(status)
        received = collected.body.readableBytes
        trace(r, status: status)
        if status >= 300 && !(status == 304 && allowNotModified) {
            throw Self.serviceError(status: status, headers: collected.head.headers,
                                    body: r.method == .HEAD ? [] : Array(collected.body.readableBytesView))
        }
        return collected
    }

    /// A body of several buffers, all queued at once: the channel writes them back to back
    /// (gathered), as it would one buffer, with no wait for each to be sent before the next.
    static func backToBack(_ parts: [ByteBuffer], length: Int) -> HTTPClient.Body {
        .stream(contentLength: Int64(length)) { writer in
            let pieces = parts.isEmpty ? [ByteBuffer()] : parts
            let writes = pieces.map { writer.write(.byteBuffer($0)) }
            return EventLoopFuture.andAllSucceed(writes, on: writes[writes.count - 1].eventLoop)
        }
    }

    private func trace(_ r: S3Request, status: Int) {
        guard logger.logLevel <= .trace else { return }
        let range = r.headers.first { $0.0 == "range" }.map { " " + $0.1 } ?? ""
        let q = r.query.isEmpty ? "" : "?" + r.query.map { $0.0 }.joined(separator: "&")
        logger.trace("\(r.method.rawValue) \(r.bucket ?? "")/\(r.key ?? "")\(q)\(range): \(status)")
    }

    private func performOnce<T: Sendable>(_ r: S3Request, allowNotModified: Bool,
                                          _ handle: @Sendable (HTTPClientResponse) async throws -> T) async throws -> T {
        precondition(r.bodyBuffers == nil, "bodies in several buffers go through performCollected")
        let req = makeHTTPRequest(r)
        let sent = r.body?.readableBytes ?? Int(r.bodyStream?.length ?? 0)
        let timeout = configuration.timeout(forBytes: max(sent, r.expectedResponseBytes))
        let start = ContinuousClock.now
        var outcome = "transport"
        defer { S3Metrics.attempt(r, outcome: outcome, since: start, sent: outcome == "transport" ? 0 : sent, received: 0) }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(req, timeout: timeout, logger: nil)
        } catch {
            let mapped = mapTransportError(error)
            outcome = S3Metrics.outcome(of: mapped)
            throw mapped
        }
        let status = Int(response.status.code)
        outcome = String(status)
        trace(r, status: status)
        if status >= 300 && !(status == 304 && allowNotModified) {
            throw await serviceError(status: status, response: response, method: r.method)
        }
        do {
            return try await handle(response)
        } catch let e as S3Error {
            throw e
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw mapTransportError(error)
        }
    }

    func mapTransportError(_ error: any Error) -> any Error {
        Self.mapTransportError(error, host: configuration.endpoint.host)
    }

    static func mapTransportError(_ error: any Error, host: String) -> any Error {
        if error is S3Error || error is CancellationError { return error }
        if let tls = TLSFailure(error, host: host) { return S3Error.tls(tls.sentence) }
        if let h = error as? HTTPClientError {
            switch h {
            case .readTimeout, .writeTimeout, .connectTimeout, .deadlineExceeded, .tlsHandshakeTimeout,
                 .getConnectionFromPoolTimeout:
                return S3Error.timeout(String(describing: h))
            case .cancelled:
                return CancellationError()
            default:
                return S3Error.transport(String(describing: h))
            }
        }
        return S3Error.transport(String(describing: error))
    }

    private func serviceError(status: Int, response: HTTPClientResponse, method: HTTPMethod) async -> S3Error {
        var body: ByteBuffer?
        if method != .HEAD {
            body = try? await response.body.collect(upTo: Self.maxErrorBody)
        }
        return Self.serviceError(status: status, headers: response.headers, body: body.map { Array($0.readableBytesView) } ?? [])
    }

    /// The server's id of a request: `x-amz-request-id`, or Swift's `X-Trans-Id`.
    static func requestId(_ headers: HTTPHeaders) -> String? {
        headers.first(name: "x-amz-request-id") ?? headers.first(name: "x-trans-id") ?? headers.first(name: "x-openstack-request-id")
    }

    static func serviceError(status: Int, headers: HTTPHeaders, body bytes: [UInt8]) -> S3Error {
        let requestId = requestId(headers)
        if !bytes.isEmpty, let xml = try? XMLElement.parse(bytes), xml.name == "Error" {
            return .service(Self.decodeError(xml, status: status, requestId: requestId))
        }
        var message = ""
        if !bytes.isEmpty {
            message = String(decoding: bytes.prefix(200), as: UTF8.self)
                .filter { !$0.isNewline }
        }
        return .service(S3ServiceError(status: status, code: S3ServiceError.codeForStatus(status), message: message,
                                       requestId: requestId))
    }

    static func decodeError(_ xml: XMLElement, status: Int, requestId: String?) -> S3ServiceError {
        S3ServiceError(status: status, code: xml.string("Code") ?? S3ServiceError.codeForStatus(status),
                       message: xml.string("Message") ?? "", requestId: xml.string("RequestId") ?? requestId,
                       resource: xml.string("Resource"), region: xml.string("Region"))
    }

    /// Sends `r` and collects the whole answer (bounded).
    func send(_ r: S3Request, maxBody: Int = S3Client.maxXMLBody) async throws -> S3Response {
        if r.bodyStream == nil {
            let c = try await performCollected(r, limit: maxBody)
            return S3Response(status: c.status, headers: c.head.headers, body: c.body)
        }
        return try await perform(r) { response in
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: maxBody)
            } catch is NIOTooManyBytesError {
                throw S3Error.malformedResponse("answer larger than \(maxBody) bytes")
            }
            return S3Response(status: Int(response.status.code), headers: response.headers, body: body)
        }
    }

    /// Sends `r` and parses the answer as XML (`S3Response.serviceXML`).
    func sendXML(_ r: S3Request) async throws -> XMLElement {
        do {
            return try await send(r).serviceXML()
        } catch let e as S3Error {
            throw e.naming(r)
        }
    }
}

extension ByteBuffer {
    /// The base64 MD5 of the readable bytes, for Content-MD5.
    public var contentMD5: String {
        var h = Insecure.MD5()
        withUnsafeReadableBytes { h.update(bufferPointer: $0) }
        return Array(h.finalize()).base64String
    }

    /// The hex SHA-256 of the readable bytes, for the SigV4 payload hash.
    public var sha256Hex: String {
        var h = SHA256()
        withUnsafeReadableBytes { h.update(bufferPointer: $0) }
        return Array(h.finalize()).hexString
    }
}
