import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// EC2-style credentials as the identity service (OpenStack Keystone, OS-EC2) returns them.
public struct EC2Credential: Sendable, Equatable, CustomStringConvertible {
    public var access: String
    public var secret: String
    public var tenantId: String?
    public var userId: String?
    public var trustId: String?

    /// Never shows the secret.
    public var description: String { "EC2Credential(access: \(access), secret: ****, tenant: \(tenantId ?? "-"))" }
}

/// A token from `POST /v2.0/tokens`.
public struct IdentityToken: Sendable, Equatable, CustomStringConvertible {
    public var id: String
    public var expires: String?
    public var userId: String
    public var tenantId: String?
    public var description: String { "IdentityToken(user: \(userId), expires: \(expires ?? "-"), id: ****)" }
}

/// What went wrong talking to the identity service. Messages never carry tokens or secrets.
public enum IdentityError: Error, Sendable, CustomStringConvertible, Equatable {
    case unauthorized(String)     // 401: bad or expired token, wrong password
    case forbidden(String)        // 403
    case notFound(String)         // 404: unknown user or access key
    case conflict(String)         // 409
    case server(Int, String)      // 5xx
    case unreachable(String)
    case malformed(String)
    case usage(String)

    public var description: String {
        switch self {
        case .unauthorized(let m): return "identity service: not authorized (401): \(m)"
        case .forbidden(let m): return "identity service: forbidden (403): \(m)"
        case .notFound(let m): return "identity service: not found (404): \(m)"
        case .conflict(let m): return "identity service: conflict (409): \(m)"
        case .server(let s, let m): return "identity service: server error (\(s)): \(m)"
        case .unreachable(let m): return "identity service unreachable: \(m)"
        case .malformed(let m): return "identity service answered something unexpected: \(m)"
        case .usage(let m): return m
        }
    }

    /// Exit codes, distinct per failure (README "Exit codes").
    public var exitCode: Int32 {
        switch self {
        case .unauthorized: return 10
        case .forbidden: return 11
        case .notFound: return 12
        case .conflict: return 13
        case .server: return 14
        case .unreachable: return 4
        case .malformed: return 1
        case .usage: return 64
        }
    }
}

/// The identity API the service documents: tokens (v2.0) and OS-EC2 credentials.
/// `{identity}` is the base URL (e.g. `https://identity.example.com:5000`); paths go below it.
public final class IdentityClient: Sendable {
    public let baseURL: String
    let http: HTTPClient
    let timeout: TimeAmount
    /// Sent as `User-Agent` with every request (`bucketfs/VERSION`, as S3 requests carry it).
    let userAgent: String

    public init(baseURL: String, userAgent: String, timeout: TimeAmount = .seconds(30)) throws {
        var u = baseURL.trimmingCharacters(in: .whitespaces)
        while u.hasSuffix("/") { u.removeLast() }
        if u.hasSuffix("/v2.0") { u.removeLast(5) }
        guard u.hasPrefix("http://") || u.hasPrefix("https://") else {
            throw IdentityError.usage("identity URL must start with http:// or https://: \(baseURL)")
        }
        self.baseURL = u
        self.timeout = timeout
        self.userAgent = userAgent
        var cfg = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: timeout))
        cfg.httpVersion = .http1Only
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: cfg)
    }

    public func shutdown() async throws { try await http.shutdown() }

    func call(_ method: HTTPMethod, _ path: String, token: String?, body: [String: Any]?) async throws -> (Int, Any?) {
        var req = HTTPClientRequest(url: baseURL + path)
        req.method = method
        req.headers.add(name: "Accept", value: "application/json")
        req.headers.add(name: "User-Agent", value: userAgent)
        if let token { req.headers.add(name: "X-Auth-Token", value: token) }
        if let body {
            let data = try JSONSerialization.data(withJSONObject: body)
            req.headers.add(name: "Content-Type", value: "application/json")
            req.body = .bytes(ByteBuffer(bytes: data))
        }
        let resp: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            resp = try await http.execute(req, timeout: timeout)
            bytes = try await resp.body.collect(upTo: 4 << 20)
        } catch let e as HTTPClientError where e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
            throw IdentityError.unreachable("no answer within \(timeout.nanoseconds / 1_000_000_000) s")
        } catch {
            throw IdentityError.unreachable("\(error)")
        }
        let status = Int(resp.status.code)
        let json = bytes.readableBytes > 0 ? try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) : nil
        guard (200..<300).contains(status) else {
            // Keystone errors: {"error": {"message": ..., "code": ..., "title": ...}}
            let msg = ((json as? [String: Any])?["error"] as? [String: Any])?["message"] as? String ?? resp.status.reasonPhrase
            switch status {
            case 401: throw IdentityError.unauthorized(msg)
            case 403: throw IdentityError.forbidden(msg)
            case 404: throw IdentityError.notFound(msg)
            case 409: throw IdentityError.conflict(msg)
            case 500...: throw IdentityError.server(status, msg)
            default: throw IdentityError.malformed("HTTP \(status): \(msg)")
            }
        }
        return (status, json)
    }

    /// `POST /v2.0/tokens` with a tenant id and password credentials.
    public func token(tenantId: String, username: String, password: String) async throws -> IdentityToken {
        let body: [String: Any] = ["auth": ["tenantId": tenantId, "passwordCredentials": ["username": username, "password": password]]]
        let (_, json) = try await call(.POST, "/v2.0/tokens", token: nil, body: body)
        guard let access = (json as? [String: Any])?["access"] as? [String: Any],
              let token = access["token"] as? [String: Any], let id = token["id"] as? String,
              let user = access["user"] as? [String: Any], let userId = user["id"] as? String else {
            throw IdentityError.malformed("token answer without access.token.id and access.user.id")
        }
        let tenant = (token["tenant"] as? [String: Any])?["id"] as? String ?? tenantId
        return IdentityToken(id: id, expires: token["expires"] as? String, userId: userId, tenantId: tenant)
    }

    static func credential(_ d: [String: Any]) -> EC2Credential? {
        guard let access = d["access"] as? String, let secret = d["secret"] as? String else { return nil }
        return EC2Credential(access: access, secret: secret, tenantId: d["tenant_id"] as? String,
                             userId: d["user_id"] as? String, trustId: d["trust_id"] as? String)
    }

    /// `POST /v2.0/users/{user}/credentials/OS-EC2`; accepts `{"credential": {...}}` and the
    /// guide's `{"credentials": [...]}`.
    public func createEC2(userId: String, tenantId: String, token: String) async throws -> EC2Credential {
        let (_, json) = try await call(.POST, "/v2.0/users/\(Self.segment(userId))/credentials/OS-EC2", token: token,
                                       body: ["tenant_id": tenantId])
        let root = json as? [String: Any]
        if let one = root?["credential"] as? [String: Any], let c = Self.credential(one) { return c }
        if let list = root?["credentials"] as? [[String: Any]], let first = list.first, let c = Self.credential(first) { return c }
        throw IdentityError.malformed("create answer without credential(s).access and secret")
    }

    public func listEC2(userId: String, token: String) async throws -> [EC2Credential] {
        let (_, json) = try await call(.GET, "/v2.0/users/\(Self.segment(userId))/credentials/OS-EC2", token: token, body: nil)
        guard let list = (json as? [String: Any])?["credentials"] as? [[String: Any]] else {
            throw IdentityError.malformed("list answer without credentials")
        }
        return list.compactMap(Self.credential)
    }

    /// `DELETE .../OS-EC2/{access}` (the service's guide prints GET; Keystone's API is DELETE).
    public func deleteEC2(userId: String, access: String, token: String) async throws {
        _ = try await call(.DELETE, "/v2.0/users/\(Self.segment(userId))/credentials/OS-EC2/\(Self.segment(access))", token: token, body: nil)
    }

    static func segment(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }
}
