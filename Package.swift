// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "bucketfs",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bucketfs", targets: ["bucketfs"]),
        .library(name: "S3", targets: ["S3"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .target(name: "CLinuxShims"),
        .target(name: "CCRC32C"),
        .target(
            name: "S3",
            dependencies: [
                "CCRC32C",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Identity",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "BucketFSCore",
            dependencies: [
                "S3", "CLinuxShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "FuseBridge",
            dependencies: ["CFuse3", "BucketFSCore", "S3", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics")]
        ),
        .target(
            name: "BucketFSCLI",
            dependencies: [
                "S3", "BucketFSCore", "FuseBridge", "Identity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "bucketfs", dependencies: ["BucketFSCLI"]),
        .executableTarget(name: "s3bench", dependencies: ["S3", .product(name: "NIOCore", package: "swift-nio")]),
        .target(name: "TestSupport", dependencies: ["S3"], path: "Tests/TestSupport"),
        .testTarget(name: "S3Tests", dependencies: ["S3", "TestSupport", .product(name: "Crypto", package: "swift-crypto"),
                                                .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "BucketFSCoreTests", dependencies: ["BucketFSCore", "S3", "TestSupport"]),
        .testTarget(name: "MountTests", dependencies: ["S3", "BucketFSCLI", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]),
    ]
)
