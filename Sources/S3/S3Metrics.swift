import Metrics

/// What the client reports to swift-metrics (exported by the mount as Prometheus text):
/// each attempt by operation and outcome (the HTTP status, or `transport`, `timeout`, `tls`,
/// `malformed`, `cancelled`) with its duration, bytes sent and received, and retries.
enum S3Metrics {
    static func attempt(_ r: S3Request, outcome: String, since start: ContinuousClock.Instant, sent: Int, received: Int) {
        let op = r.operationName
        Counter(label: "bucketfs_s3_requests_total", dimensions: [("operation", op), ("outcome", outcome)]).increment()
        Timer(label: "bucketfs_s3_request_duration_seconds", dimensions: [("operation", op)])
            .recordInterval(since: start)
        if sent > 0 { Counter(label: "bucketfs_s3_bytes_sent_total").increment(by: sent) }
        if received > 0 { Counter(label: "bucketfs_s3_bytes_received_total").increment(by: received) }
    }

    static func retry(_ r: S3Request) {
        Counter(label: "bucketfs_s3_retries_total", dimensions: [("operation", r.operationName)]).increment()
    }

    static func outcome(of error: any Error) -> String {
        guard let e = error as? S3Error else { return error is CancellationError ? "cancelled" : "transport" }
        switch e {
        case .service(let s): return String(s.status)
        case .transport: return "transport"
        case .timeout: return "timeout"
        case .tls: return "tls"
        case .malformedResponse: return "malformed"
        case .invalidRequest: return "invalid"
        case .credentials: return "credentials"
        }
    }
}

extension Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        let d = ContinuousClock.now - start
        recordNanoseconds(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
    }
}
