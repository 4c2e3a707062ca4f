import XCTest
@testable import S3

final class CredentialTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "bucketfs-cred-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/.aws", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/.config/bucketfs", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ path: String, _ text: String, mode: Int = 0o600) throws {
        try text.write(toFile: dir + "/" + path, atomically: true, encoding: .utf8)
        chmod(dir + "/" + path, mode_t(mode))
    }

    func sources(_ env: [String: String] = [:], passwd: String? = nil, profile: String? = nil, bucket: String? = "b01") -> CredentialSources {
        CredentialSources(passwdFile: passwd.map { dir + "/" + $0 }, profile: profile, bucket: bucket, environment: env, home: dir)
    }

    func testEnvironmentWinsOverFiles() throws {
        try write(".aws/credentials", "[default]\naws_access_key_id = FILE\naws_secret_access_key = S\n")
        let c = try CredentialChain.resolve(sources(["AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "S2", "AWS_SESSION_TOKEN": "T"]))
        XCTAssertEqual(c.accessKey, "ENV")
        XCTAssertEqual(c.sessionToken, "T")
    }

    func testBucketfsFileBeforeAWSFiles() throws {
        try write(".aws/credentials", "[default]\naws_access_key_id = AWSFILE\naws_secret_access_key = S\n")
        try write(".config/bucketfs/credentials", "# EC2 credentials\n[default]\naccess = test:tester\nsecret = testing\ntenant_id = t1\nuser_id = u1\nregion = KR1\n")
        XCTAssertEqual(try CredentialChain.resolve(sources()).accessKey, "test:tester")
        let p = try CredentialChain.bucketfsProfile(sources())
        XCTAssertEqual(p?.tenantId, "t1")
        XCTAssertEqual(p?.region, "KR1")
    }

    func testNamedProfileInAWSConfig() throws {
        try write(".aws/config", "[default]\nregion=x\n[profile work]\naws_access_key_id=W\naws_secret_access_key=WS\n")
        XCTAssertEqual(try CredentialChain.resolve(sources(profile: "work")).accessKey, "W")
        XCTAssertThrowsError(try CredentialChain.resolve(sources(profile: "missing"))) { e in
            XCTAssertTrue("\(e)".contains("missing"))
        }
    }

    func testGroupReadableFileRefused() throws {
        try write(".config/bucketfs/credentials", "[default]\naccess = A\nsecret = TOPSECRET\n", mode: 0o640)
        XCTAssertThrowsError(try CredentialChain.resolve(sources())) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("chmod 600"), text)
            XCTAssertFalse(text.contains("TOPSECRET"))
        }
        try write("pw", "A:B\n", mode: 0o604)
        XCTAssertThrowsError(try CredentialChain.resolve(sources(passwd: "pw")))
    }

    func testPasswdForms() throws {
        try write("pw", "other:OA:OS\nb01:test:tester:testing\nDEF:DS\n")
        let c = try CredentialChain.resolve(sources(passwd: "pw"))
        XCTAssertEqual(c.accessKey, "test:tester")
        XCTAssertEqual(c.secretKey, "testing")
        let d = try CredentialChain.resolve(sources(passwd: "pw", bucket: "zzz"))
        XCTAssertEqual(d.accessKey, "DEF")
        try write("pw1", "test:tester:testing\n")
        XCTAssertEqual(try CredentialChain.resolve(sources(passwd: "pw1", bucket: "b99")).accessKey, "test:tester")
        try write("pw2", "garbage\n")
        XCTAssertThrowsError(try CredentialChain.resolve(sources(passwd: "pw2")))
        XCTAssertThrowsError(try CredentialChain.resolve(sources(passwd: "nope")))
    }

    func testS3fsDefaultFiles() throws {
        try write(".passwd-s3fs", "PA:PS\n")
        XCTAssertEqual(try CredentialChain.resolve(sources()).accessKey, "PA")
    }

    func testNothingFound() {
        XCTAssertThrowsError(try CredentialChain.resolve(sources())) { e in
            guard case S3Error.credentials = e else { return XCTFail("\(e)") }
        }
    }

    func testIniRoundTrip() throws {
        var ini = try IniFile(text: "[a]\nk = v\n; c\n[b]\nx=1\n")
        XCTAssertEqual(ini["a"]?["k"], "v")
        ini.set(section: "c", values: ["secret": "s"])
        ini.remove(section: "a")
        XCTAssertEqual(try IniFile(text: ini.text), ini)
        XCTAssertThrowsError(try IniFile(text: "k=v\n"))
    }
}
