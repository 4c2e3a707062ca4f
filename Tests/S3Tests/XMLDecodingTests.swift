import NIOCore
import XCTest
@testable import S3

/// Decoding of every response type, with the shapes real servers send (Swift s3api's
/// interleaved CommonPrefixes, empty markers, missing namespaces).
final class XMLDecodingTests: XCTestCase {
    func parse(_ s: String) throws -> XMLElement { try XMLElement.parse(Array(s.utf8)) }

    func testListV2InterleavedAndURLEncoded() throws {
        let xml = try parse("""
        <?xml version='1.0' encoding='UTF-8'?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b01</Name><Prefix>d%2F</Prefix>
        <KeyCount>4</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>%2F</Delimiter><EncodingType>url</EncodingType>
        <IsTruncated>true</IsTruncated><NextContinuationToken>ZC9hLnR4dA==</NextContinuationToken>
        <Contents><Key>d%2Fa+b.txt</Key><LastModified>2026-11-25T16:45:09.123Z</LastModified><ETag>"abc"</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
        <CommonPrefixes><Prefix>d%2Fsub%2F</Prefix></CommonPrefixes>
        <Contents><Key>d%2Fz%25</Key><LastModified>2026-11-25T16:45:09.000Z</LastModified><ETag>&quot;def-2&quot;</ETag><Size>0</Size></Contents>
        <CommonPrefixes><Prefix>d%2Fzz%2F</Prefix></CommonPrefixes>
        </ListBucketResult>
        """)
        let page = try ListObjectsPage(xml: xml, v1: false)
        XCTAssertEqual(page.objects.map(\.key), ["d/a b.txt", "d/z%"])
        XCTAssertEqual(page.objects.map(\.etag), ["abc", "def-2"])
        XCTAssertEqual(page.objects[0].size, 12)
        XCTAssertEqual(page.objects[0].lastModified?.nanoseconds, 123_000_000)
        XCTAssertEqual(page.commonPrefixes, ["d/sub/", "d/zz/"])
        XCTAssertTrue(page.isTruncated)
        XCTAssertEqual(page.nextToken, "ZC9hLnR4dA==")
    }

    /// The continuation token read from the bytes before a parse is the one the parse finds.
    func testTokenReadBeforeTheParse() throws {
        func page(_ body: String, v1: Bool = false) -> UnparsedListPage {
            UnparsedListPage(response: S3Response(status: 200, headers: [:], body: ByteBuffer(string: body)), v1: v1)
        }
        let token = "a&amp;b&lt;c&#x41;=+/"
        let p = page("<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>NextContinuationToken</Key></Contents>"
                     + "<NextContinuationToken>\(token)</NextContinuationToken></ListBucketResult>")
        XCTAssertEqual(p.tokenHint, "a&b<cA=+/")
        XCTAssertEqual(try p.parse().nextToken, p.tokenHint)
        let last = page("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
        XCTAssertNil(last.tokenHint)
        XCTAssertNil(try last.parse().nextToken)
        // Cut short, empty, or a V1 answer (whose marker rules need the parse): no hint.
        XCTAssertNil(page("<ListBucketResult><NextContinuationToken>abc").tokenHint)
        XCTAssertNil(page("<ListBucketResult><NextContinuationToken></NextContinuationToken>").tokenHint)
        XCTAssertNil(page("<ListBucketResult><NextContinuationToken>x</NextContinuationToken>", v1: true).tokenHint)
        // An error in a 200 answer is still the service error.
        XCTAssertThrowsError(try page("<Error><Code>InternalError</Code></Error>").parse()) { error in
            guard case S3Error.service(let e) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(e.code, "InternalError")
        }
    }

    func testListWithoutEncodingTypeKeepsPercent() throws {
        let page = try ListObjectsPage(xml: try parse("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a%20b</Key><Size>1</Size></Contents></ListBucketResult>"), v1: false)
        XCTAssertEqual(page.objects.first?.key, "a%20b")
        XCTAssertNil(page.nextToken)
    }

    func testListV1MarkerRules() throws {
        let noNext = try parse("<ListBucketResult><Marker></Marker><IsTruncated>true</IsTruncated><Contents><Key>a</Key></Contents><Contents><Key>b</Key></Contents></ListBucketResult>")
        XCTAssertEqual(try ListObjectsPage(xml: noNext, v1: true).nextToken, "b")
        let next = try parse("<ListBucketResult><Marker/><NextMarker>c/</NextMarker><IsTruncated>true</IsTruncated><CommonPrefixes><Prefix>c/</Prefix></CommonPrefixes></ListBucketResult>")
        XCTAssertEqual(try ListObjectsPage(xml: next, v1: true).nextToken, "c/")
    }

    func testTruncatedWithoutTokenIsMalformed() throws {
        let xml = try parse("<ListBucketResult><IsTruncated>true</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>")
        XCTAssertThrowsError(try ListObjectsPage(xml: xml, v1: false))
    }

    func testGarbageIsMalformed() {
        XCTAssertThrowsError(try parse("<html><body>oops")) { error in
            guard case S3Error.malformedResponse = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try parse(""))
        XCTAssertThrowsError(try ListBucketsResult(xml: try parse("<Foo/>")))
    }

    func testListBuckets() throws {
        let r = try ListBucketsResult(xml: try parse("""
        <ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>test:tester</ID><DisplayName>test:tester</DisplayName></Owner>
        <Buckets><Bucket><Name>b01</Name><CreationDate>2009-02-03T16:45:09.000Z</CreationDate></Bucket><Bucket><Name>b02</Name></Bucket></Buckets></ListAllMyBucketsResult>
        """))
        XCTAssertEqual(r.buckets.map(\.name), ["b01", "b02"])
        XCTAssertEqual(r.owner?.id, "test:tester")
        XCTAssertEqual(r.buckets[0].creationDate, Timestamp(iso8601: "2009-02-03T16:45:09Z"))
    }

    func testMultipartUploadsWithSwiftEmptyMarkers() throws {
        let r = try ListMultipartUploadsPage(xml: try parse("""
        <ListMultipartUploadsResult><Bucket>b01</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
        <NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker><MaxUploads>1</MaxUploads><IsTruncated>true</IsTruncated>
        <Upload><Key>big</Key><UploadId>abc</UploadId><Initiated>2026-11-25T10:00:00.000Z</Initiated></Upload></ListMultipartUploadsResult>
        """))
        XCTAssertEqual(r.uploads, [MultipartUpload(key: "big", uploadId: "abc", initiated: Timestamp(iso8601: "2026-11-25T10:00:00Z"))])
        XCTAssertNil(r.nextKeyMarker)
        XCTAssertNil(r.nextUploadIdMarker)
        XCTAssertTrue(r.isTruncated)
    }

    func testPartsCopyCompleteDelete() throws {
        let parts = try ListPartsPage(xml: try parse("<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber><ETag>\"\"</ETag><Size>5242880</Size></Part><Part><PartNumber>2</PartNumber><ETag>\"x\"</ETag><Size>3</Size></Part></ListPartsResult>"))
        XCTAssertEqual(parts.parts.map(\.partNumber), [1, 2])
        XCTAssertEqual(parts.parts[0].etag, "")
        let copy = try CopyObjectResult(xml: try parse("<CopyPartResult><LastModified>2026-11-25T10:00:00.000Z</LastModified><ETag>\"e\"</ETag></CopyPartResult>"))
        XCTAssertEqual(copy.etag, "e")
        let done = try CompleteMultipartUploadResult(xml: try parse("<CompleteMultipartUploadResult><Location>x</Location><Bucket>b</Bucket><Key>k</Key><ETag>\"m-5\"</ETag></CompleteMultipartUploadResult>"))
        XCTAssertEqual(done.etag, "m-5")
        let del = try DeleteObjectsResult(xml: try parse("<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>"))
        XCTAssertEqual(del.deleted, ["a"])
        XCTAssertEqual(del.errors, [.init(key: "b", code: "AccessDenied", message: "no")])
    }

    func testErrorDecoding() throws {
        let e = S3Client.decodeError(try parse("<Error><Code>AuthorizationHeaderMalformed</Code><Message>bad region</Message><RequestId>tx1</RequestId><Region>KR1</Region></Error>"),
                                     status: 400, requestId: nil)
        XCTAssertEqual(e.code, "AuthorizationHeaderMalformed")
        XCTAssertEqual(e.region, "KR1")
        XCTAssertEqual(e.requestId, "tx1")
    }

    func testACLRoundTrip() throws {
        let policy = AccessControlPolicy(owner: Owner(id: "o", displayName: "O"), grants: [
            Grant(grantee: .user(id: "o", displayName: "O"), permission: "FULL_CONTROL"),
            Grant(grantee: .group(uri: "http://acs.amazonaws.com/groups/global/AllUsers"), permission: "READ"),
        ])
        XCTAssertEqual(try AccessControlPolicy(xml: try parse(policy.xml)), policy)
    }

    func testObjectInfoFromHeaders() throws {
        var h = HTTPHeadersForTest()
        h.add("Content-Length", "10"); h.add("Content-Range", "bytes 0-9/12345"); h.add("ETag", "\"e1\"")
        h.add("Last-Modified", "Wed, 25 Nov 2026 16:45:09 GMT"); h.add("X-Amz-Meta-Mode", "33188")
        let info = try S3Client.objectInfo(h.headers)
        XCTAssertEqual(info.size, 12345)
        XCTAssertEqual(info.etag, "e1")
        XCTAssertEqual(info.metadata["mode"], "33188")
        XCTAssertEqual(info.lastModified, Timestamp(iso8601: "2026-11-25T16:45:09Z"))
    }
}

import NIOHTTP1
struct HTTPHeadersForTest {
    var headers = HTTPHeaders()
    mutating func add(_ n: String, _ v: String) { headers.add(name: n, value: v) }
}
