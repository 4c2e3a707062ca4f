import S3
import XCTest
@testable import BucketFSCLI

/// `-o` parsing without a mount: s3fs names, sizes, presets, and clear errors for bad input.
final class MountSettingsTests: XCTestCase {
    func parse(_ source: String = "b01", _ options: String) throws -> MountSettings {
        let (bucket, prefix) = try MountSettings.parseSource(source)
        var s = MountSettings(bucket: bucket, prefix: prefix, mountpoint: "/mnt")
        try s.apply(options: options)
        return s
    }

    func testS3fsOptions() throws {
        let s = try parse("b01:/a/b/", "ro,allow_other,uid=1000,gid=100,umask=027,url=http://127.0.0.1:8080,endpoint=KR1,"
            + "use_path_request_style,sigv2,passwd_file=/etc/pw,cache_dir=/var/cache/b,cache_size=2G,mem_cache_size=32M,"
            + "metadata_ttl=5,posix_metadata,_netdev,defaults,x-systemd.automount,max_parts=1000,direct_io")
        XCTAssertEqual(s.prefix, "a/b")
        XCTAssertTrue(s.readOnly && s.allowOther && s.posixMetadata)
        XCTAssertEqual(s.uid, 1000)
        XCTAssertEqual(s.umask, 0o027)
        XCTAssertEqual(s.connection.url, "http://127.0.0.1:8080")
        XCTAssertEqual(s.connection.region, "KR1")
        XCTAssertEqual(s.connection.addressing, .path)
        XCTAssertEqual(s.connection.signature, .v2)
        XCTAssertEqual(s.connection.passwdFile, "/etc/pw")
        XCTAssertEqual(s.connection.bucket, "b01")
        XCTAssertEqual(s.cacheSize, 2 << 30)
        XCTAssertEqual(s.memoryCacheSize, 32 << 20)
        XCTAssertEqual(try parse("b01", "memory_limit=200M").fileSystemConfig.memoryLimit, 200 << 20)
        XCTAssertEqual(s.fileSystemConfig.memoryLimit, 80 << 20, "the default bound")
        XCTAssertEqual(try parse("b01", "mem_cache_size=512M").fileSystemConfig.memoryLimit, 528 << 20,
                       "a larger cache raises the default bound with it")
        XCTAssertEqual(try parse("b01", "mem_cache_size=512M,memory_limit=100M").fileSystemConfig.memoryLimit, 100 << 20)
        XCTAssertEqual(s.fileSystemConfig.memoryCacheFloor, 16 << 20)
        XCTAssertEqual(s.maxParts, 1000)
        XCTAssertEqual(s.fileSystemConfig.ownership.fileMode, 0o640)
        XCTAssertEqual(s.fileSystemConfig.metadataTTL, 5)
        XCTAssertTrue(s.fileSystemConfig.directIO)
        XCTAssertFalse(try parse("b01", "ro").fileSystemConfig.directIO, "the page cache by default")
        XCTAssertFalse(s.kernelOptions.contains("direct_io"), "bucketfs's own option, not libfuse's")
        XCTAssertFalse(s.fileSystemConfig.cachedWrites, "write-only handles bypass the page cache by default")
        XCTAssertTrue(try parse("b01", "cached_writes").fileSystemConfig.cachedWrites)
        XCTAssertThrowsError(try parse("b01", "cached_writes=1"))
        XCTAssertTrue(s.kernelOptions.contains("ro") && s.kernelOptions.contains("allow_other"))
        XCTAssertTrue(s.kernelOptions.contains("fsname=bucketfs:b01/a/b"))
    }

    func testPresetAndEndpointURL() throws {
        let s = try parse("b01", "preset=kr1,endpoint=https://objects.example.com")
        XCTAssertEqual(s.connection.region, "KR1")
        XCTAssertEqual(s.connection.addressing, .path)
        XCTAssertEqual(s.connection.url, "https://objects.example.com")
        XCTAssertEqual(s.fileSystemConfig.maxParts, 1000, "the service is Swift s3api")
        XCTAssertEqual(try parse("b01", "max_parts=500,preset=kr1").fileSystemConfig.maxParts, 500)
        XCTAssertEqual(try parse("b01", "ro").fileSystemConfig.metadataTTL, 300, "read-only mounts trust metadata longer")
    }

    func testBadInputIsAClearError() {
        for bad in ["bogus", "uid=abc", "umask=999", "cache_size=lots", "block_size=3M", "ro=1", "url", "preset=mars", "retries=0", "memory_limit=1M", "memory_limit=lots"] {
            XCTAssertThrowsError(try parse("b01", bad), bad) { e in
                XCTAssertFalse("\(e)".isEmpty)
            }
        }
        for bad in ["B", "Bad_Bucket", "b01:/a/../b", "x"] {
            XCTAssertThrowsError(try MountSettings.parseSource(bad), bad)
        }
        XCTAssertEqual(MountSettings.parseSize("1536K"), 1536 << 10)
        XCTAssertEqual(MountSettings.parseSize("2GiB"), 2 << 30)
        XCTAssertNil(MountSettings.parseSize("-1"))
    }
}
