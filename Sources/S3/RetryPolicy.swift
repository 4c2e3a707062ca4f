/// Bounded retries: exponential backoff with full jitter, a cap on attempts and on total time.
/// Only idempotent requests are retried, and only for errors that `S3Error.isRetryable` admits.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first one included.
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// No new attempt starts after this much time since the first.
    public var maxTotal: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(5),
                maxTotal: Duration = .seconds(60)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxTotal = maxTotal
    }

    public static let none = RetryPolicy(maxAttempts: 1)

    /// The delay before attempt `attempt + 1` (attempt counts from 1): uniform in [0, min(max, base * 2^(attempt-1))].
    public func delay(afterAttempt attempt: Int) -> Duration {
        let factor = 1 << min(attempt - 1, 20)
        let ceiling = min(maxDelay, baseDelay * factor)
        let ms = Int64(ceiling.components.seconds) * 1000 + ceiling.components.attoseconds / 1_000_000_000_000_000
        return .milliseconds(Int64.random(in: 0...max(ms, 1)))
    }
}
