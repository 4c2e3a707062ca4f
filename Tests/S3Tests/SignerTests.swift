import XCTest
@testable import S3

/// SigV4 against AWS's published test-suite vectors and the S3 GET example; SigV2 against the
/// examples of AWS's S3 REST authentication guide.
final class SignerTests: XCTestCase {
    let suiteCreds = Credentials(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    let suiteDate = Timestamp(seconds: 1_440_938_160) // 2015-08-30T12:36:00Z
    let scope = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"

    func suite(_ method: String, path: String = "/", query: [(String, String?)] = [], extra: [(String, String)] = []) -> String {
        let signer = SigV4Signer(region: "us-east-1", service: "service")
        let headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")] + extra
        return signer.authorization(method: method, encodedPath: path, query: query, headers: headers,
                                    payloadHash: SigV4Signer.emptyPayloadHash, date: suiteDate, credentials: suiteCreds)
    }

    func testDateForms() {
        XCTAssertEqual(suiteDate.amzDate, "20150830T123600Z")
        XCTAssertEqual(suiteDate.rfc1123, "Sun, 30 Aug 2015 12:36:00 GMT")
        XCTAssertEqual(Timestamp(iso8601: "2015-08-30T12:36:00.000Z"), suiteDate)
        XCTAssertEqual(Timestamp(rfc1123: "Sun, 30 Aug 2015 12:36:00 GMT"), suiteDate)
        XCTAssertEqual(Timestamp(iso8601: "2015-08-30T12:36:00.5Z")?.nanoseconds, 500_000_000)
        XCTAssertNil(Timestamp(iso8601: "garbage"))
    }

    func testGetVanilla() {
        XCTAssertEqual(suite("GET"), scope + ", SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    func testPostVanilla() {
        XCTAssertEqual(suite("POST"), scope + ", SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
    }

    func testQueryOrderKeyCase() {
        XCTAssertEqual(suite("GET", query: [("Param2", "value2"), ("Param1", "value1")]),
                       scope + ", SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    func testUnreservedPath() {
        XCTAssertEqual(suite("GET", path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
                       scope + ", SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")
    }

    func testHeaderValueCase() {
        XCTAssertEqual(suite("POST", extra: [("My-Header1", "VALUE1")]),
                       scope + ", SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d")
    }

    func testHeaderValueTrim() {
        XCTAssertEqual(suite("GET", extra: [("My-Header1", " value1"), ("My-Header2", "\"a   b   c\"")]),
                       scope + ", SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")
    }

    /// The "GET Object" example of the S3 SigV4 documentation.
    func testS3GetObjectExample() {
        let creds = Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        let date = Timestamp(iso8601: "2013-05-24T00:00:00Z")!
        let signer = SigV4Signer(region: "us-east-1")
        let headers = [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                       ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash), ("x-amz-date", "20130524T000000Z")]
        let auth = signer.authorization(method: "GET", encodedPath: "/test.txt", query: [], headers: headers,
                                        payloadHash: SigV4Signer.emptyPayloadHash, date: date, credentials: creds)
        XCTAssertEqual(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    func testCanonicalQueryEncodesAndSortsSubresources() {
        XCTAssertEqual(SigV4Signer.canonicalQuery([("uploads", nil), ("prefix", "a b/ü"), ("delimiter", "/")]),
                       "delimiter=%2F&prefix=a%20b%2F%C3%BC&uploads=")
    }

    let v2Creds = Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

    func testSigV2Examples() {
        let s = SigV2Signer()
        let get = s.stringToSign(method: "GET", resourcePath: "/johnsmith/photos/puppy.jpg", query: [],
                                 headers: [("Date", "Tue, 27 Mar 2007 19:36:42 +0000")])
        XCTAssertEqual(get, "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg")
        XCTAssertEqual(s.signature(stringToSign: get, secret: v2Creds.secretKey), "bWq2s1WEIj+Ydj0vQ697zp+IXMU=")
        let put = s.stringToSign(method: "PUT", resourcePath: "/johnsmith/photos/puppy.jpg", query: [],
                                 headers: [("Content-Type", "image/jpeg"), ("Date", "Tue, 27 Mar 2007 21:15:45 +0000")])
        XCTAssertEqual(s.signature(stringToSign: put, secret: v2Creds.secretKey), "MyyxeRY7whkBe+bq8fHCL/2kKUg=")
        let list = s.stringToSign(method: "GET", resourcePath: "/johnsmith/", query: [("prefix", "photos"), ("max-keys", "50")],
                                  headers: [("Date", "Tue, 27 Mar 2007 19:42:41 +0000")])
        XCTAssertEqual(s.signature(stringToSign: list, secret: v2Creds.secretKey), "htDYFYduRNen8P9ZfE/s9SuKy0U=")
    }

    func testSigV2SubresourcesAndAmzHeaders() {
        let sts = SigV2Signer().stringToSign(method: "POST", resourcePath: "/b/k", query: [("uploadId", "X"), ("partNumber", "2"), ("foo", "bar")],
                                             headers: [("X-Amz-Meta-B", " 2 "), ("x-amz-meta-a", "1"), ("Date", "D")])
        XCTAssertEqual(sts, "POST\n\n\nD\nx-amz-meta-a:1\nx-amz-meta-b:2\n/b/k?partNumber=2&uploadId=X")
    }

    func testCredentialsNeverPrintSecret() {
        let c = Credentials(accessKey: "AK", secretKey: "SUPERSECRET", sessionToken: "TOKEN")
        XCTAssertFalse("\(c)".contains("SUPERSECRET"))
        XCTAssertFalse(String(reflecting: c).contains("SUPERSECRET"))
    }
}
