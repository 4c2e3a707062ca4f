import Foundation
import XCTest
import S3

/// The real S3 servers the integration tests run against, as the test script announces them:
/// `BUCKETFS_TEST_SEAWEEDFS` (URL, keys in `..._ACCESS`/`..._SECRET`) and `BUCKETFS_TEST_SWIFT`
/// (Swift s3api; keys test:tester/testing, region KR1). With `BUCKETFS_REQUIRE_SERVERS=1` a
/// missing server fails the test instead of skipping it.
public struct TestServer: Sendable {
    public var name: String
    public var endpoint: S3Endpoint
    public var credentials: Credentials
    /// Swift s3api refuses part numbers above 1000 and stores odd keys as given.
    public var isSwift: Bool

    public init(name: String, endpoint: S3Endpoint, credentials: Credentials, isSwift: Bool) {
        self.name = name; self.endpoint = endpoint; self.credentials = credentials; self.isSwift = isSwift
    }

    public static func all() throws -> [TestServer] {
        let env = ProcessInfo.processInfo.environment
        var out: [TestServer] = []
        if let url = env["BUCKETFS_TEST_SEAWEEDFS"] {
            out.append(TestServer(name: "seaweedfs", endpoint: try S3Endpoint(url: url, region: "us-east-1"),
                                  credentials: Credentials(accessKey: env["BUCKETFS_TEST_SEAWEEDFS_ACCESS"] ?? "bucketfs-test",
                                                           secretKey: env["BUCKETFS_TEST_SEAWEEDFS_SECRET"] ?? "bucketfs-test-secret"),
                                  isSwift: false))
        }
        if let url = env["BUCKETFS_TEST_SWIFT"] {
            out.append(TestServer(name: "swift-s3api", endpoint: try S3Endpoint(url: url, region: "KR1"),
                                  credentials: Credentials(accessKey: "test:tester", secretKey: "testing"), isSwift: true))
        }
        if out.isEmpty {
            if env["BUCKETFS_REQUIRE_SERVERS"] == "1" { XCTFail("no test S3 server configured"); return [] }
            throw XCTSkip("no S3 server: run scripts/test.sh, which starts them")
        }
        return out
    }

    public func client(signature: S3Endpoint.SignatureVersion = .v4, secret: String? = nil, retry: RetryPolicy = RetryPolicy()) throws -> S3Client {
        var ep = endpoint
        ep.signature = signature
        var cfg = S3ClientConfiguration(endpoint: ep)
        cfg.retry = retry
        var creds = credentials
        if let secret { creds.secretKey = secret }
        return try S3Client(configuration: cfg, credentials: creds)
    }
}

/// A fresh bucket name for one test.
public func uniqueBucket(_ tag: String) -> String {
    "bfs-\(tag)-\(UInt32.random(in: 0...UInt32.max))"
}

/// Deletes every object and incomplete upload, then the bucket.
public func destroyBucket(_ c: S3Client, _ bucket: String) async {
    if let uploads = try? await c.listAllMultipartUploads(bucket) {
        for u in uploads { try? await c.abortMultipartUpload(bucket, key: u.key, uploadId: u.uploadId) }
    }
    var keys: [String] = []
    try? await c.listAllObjects(bucket) { page in keys += page.objects.map(\.key) }
    for chunk in stride(from: 0, to: keys.count, by: 1000) {
        _ = try? await c.deleteObjects(bucket, keys: Array(keys[chunk..<min(chunk + 1000, keys.count)]))
    }
    try? await c.deleteBucket(bucket)
}

/// Runs `body` once per configured server with a fresh bucket (LocationConstraint KR1 on Swift
/// s3api), then deletes the bucket and everything in it, whatever the body did. A failure is
/// reported per server; an XCTSkip from the body only ends that server's round.
public func forEachServerBucket(_ tag: String, signature: S3Endpoint.SignatureVersion = .v4,
                                file: StaticString = #filePath, line: UInt = #line,
                                _ body: (TestServer, S3Client, String) async throws -> Void) async throws {
    for server in try TestServer.all() {
        let c = try server.client(signature: signature)
        let bucket = uniqueBucket(tag)
        do {
            try await c.createBucket(bucket, locationConstraint: server.isSwift ? "KR1" : nil)
            try await body(server, c, bucket)
        } catch is XCTSkip {
        } catch {
            XCTFail("[\(server.name)] \(error)", file: file, line: line)
        }
        await destroyBucket(c, bucket)
        try await c.shutdown()
    }
}
