/// An access key pair (and optional session token). Its description never shows the secret,
/// so a `Credentials` value can be logged or interpolated without leaking it.
public struct Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?
    /// Where the keys were found, for messages ("environment", "~/.aws/credentials [default]", ...).
    public var source: String

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil, source: String = "explicit") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
        self.source = source
    }

    public var description: String { "Credentials(access: \(accessKey), secret: ****, from \(source))" }
    public var debugDescription: String { description }
}
