import XCTest
@testable import S3

final class EncodingTests: XCTestCase {
    func testURIEncoding() {
        XCTAssertEqual(URIEncoding.encode("a b/c+d%e~ü"), "a%20b%2Fc%2Bd%25e~%C3%BC")
        XCTAssertEqual(URIEncoding.encode("dir/a b", keepSlash: true), "dir/a%20b")
        XCTAssertEqual(URIEncoding.decode("a%20b+c", plusIsSpace: true), "a b c")
        XCTAssertEqual(URIEncoding.decode("%C3%BC"), "ü")
        XCTAssertNil(URIEncoding.decode("%zz"))
        XCTAssertNil(URIEncoding.decode("%FF"))
    }

    func testBase64() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            let enc = Base64.encode(Array(s.utf8))
            XCTAssertEqual(Base64.decode(enc).map { String(decoding: $0, as: UTF8.self) }, s)
        }
        XCTAssertEqual(Base64.encode(Array("foobar".utf8)), "Zm9vYmFy")
    }

    func testEndpointAddressing() throws {
        let local = try S3Endpoint(url: "http://127.0.0.1:8333", region: "us-east-1")
        XCTAssertTrue(local.usesPathStyle(bucket: "demo"))
        XCTAssertEqual(local.location(bucket: "demo", key: "a b/c").encodedPath, "/demo/a%20b/c")
        XCTAssertEqual(local.location(bucket: "demo", key: "a b/c").authority, "127.0.0.1:8333")
        let aws = try S3Endpoint(url: "https://s3.eu-west-1.amazonaws.com", region: "eu-west-1")
        XCTAssertFalse(aws.usesPathStyle(bucket: "demo"))
        XCTAssertEqual(aws.location(bucket: "demo", key: "k").authority, "demo.s3.eu-west-1.amazonaws.com")
        XCTAssertEqual(aws.location(bucket: "demo", key: "k").resourcePath, "/demo/k")
        XCTAssertTrue(aws.usesPathStyle(bucket: "has.dots"))
        let kr = try S3Endpoint(url: "https://objectstorage.kr1.example.com", region: "KR1")
        XCTAssertTrue(kr.usesPathStyle(bucket: "demo"))
        let forcedVirtual = try S3Endpoint(url: "https://objects.example.com", region: "KR1", addressing: .virtual)
        XCTAssertFalse(forcedVirtual.usesPathStyle(bucket: "demo"))
        XCTAssertThrowsError(try S3Endpoint(url: "ftp://x"))
        XCTAssertThrowsError(try S3Endpoint(url: "http://host:99999"))
        XCTAssertThrowsError(try S3Endpoint(url: "http://host/path"))
    }

    func testEndpointFromEnvironment() throws {
        let e = try S3Endpoint.resolve(url: nil, region: nil, environment: [
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:2", "AWS_DEFAULT_REGION": "KR1"])
        XCTAssertEqual(e.port, 2)
        XCTAssertEqual(e.region, "KR1")
        let d = try S3Endpoint.resolve(url: nil, region: nil, environment: [:])
        XCTAssertEqual(d.host, "s3.us-east-1.amazonaws.com")
        let r = try S3Endpoint.resolve(url: nil, region: nil, environment: ["AWS_REGION": "eu-west-2", "AWS_DEFAULT_REGION": "x"])
        XCTAssertEqual(r.region, "eu-west-2")
    }

    func testPartSizePlanFitsTheLimits() {
        let plan = PartSizePlan()
        XCTAssertEqual(plan.partSize(1), 8 << 20)
        XCTAssertGreaterThanOrEqual(plan.capacity, 5 << 40, "10,000 parts must hold 5 TiB")
        XCTAssertLessThanOrEqual(plan.partSize(10_000), PartSizePlan.maxPartSize)
        // Small files keep the smallest parts: the first thousand parts are all 8 MiB.
        XCTAssertEqual(plan.partSize(900), 8 << 20)
        let swift = PartSizePlan(maxParts: 1000, targetObjectSize: 1 << 40)
        XCTAssertGreaterThanOrEqual(swift.capacity, 1 << 40)
        XCTAssertEqual(swift.partSize(1), 8 << 20)
        let (n, start) = plan.part(containing: (8 << 20) * 3 + 5)
        XCTAssertEqual(n, 4)
        XCTAssertEqual(start, (8 << 20) * 3)
    }

    func testRetryDelayIsBounded() {
        let p = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        for a in 1...10 { XCTAssertLessThanOrEqual(p.delay(afterAttempt: a), .seconds(1)) }
    }

    func testErrnoMapping() {
        func e(_ code: String, _ status: Int) -> S3Error { .service(S3ServiceError(status: status, code: code)) }
        XCTAssertEqual(e("NoSuchKey", 404).errno, ENOENT)
        XCTAssertEqual(e("AccessDenied", 403).errno, EACCES)
        XCTAssertEqual(e("SignatureDoesNotMatch", 403).errno, EACCES)
        XCTAssertEqual(e("BucketNotEmpty", 409).errno, ENOTEMPTY)
        XCTAssertEqual(e("KeyTooLongError", 400).errno, ENAMETOOLONG)
        XCTAssertEqual(e("Whatever", 404).errno, ENOENT)
        XCTAssertEqual(S3Error.timeout("x").errno, ETIMEDOUT)
        XCTAssertFalse(S3Error.timeout("x").isRetryable, "a silent server costs one timeout")
        XCTAssertTrue(S3Error.transport("refused").isRetryable)
        XCTAssertFalse(S3Error.tls("untrusted").isRetryable)
        XCTAssertTrue(e("InternalError", 500).isRetryable)
        XCTAssertTrue(e("SlowDown", 503).isRetryable)
        XCTAssertFalse(e("NotImplemented", 501).isRetryable)
        XCTAssertFalse(e("AccessDenied", 403).isRetryable)
    }
}
