/// Everything the filesystem core needs to know about a mount, with the defaults documented in
/// README "Options".
public struct FileSystemConfig: Sendable {
    public var bucket: String
    /// Key prefix the mount shows, without leading or trailing `/` ("" for the whole bucket).
    public var prefix: String = ""
    public var readOnly: Bool = false
    public var ownership: OwnershipDefaults
    /// Seconds attributes and names are trusted without asking S3.
    public var metadataTTL: Double = 60
    /// An open on a read-write mount checks attributes older than this with a HEAD, so it sees
    /// what another client stored before it (close-to-open consistency).
    public var closeToOpenSeconds: Double = 1
    /// Seconds a missing name is remembered as missing.
    public var negativeTTL: Double = 10
    /// HEAD every listed file for its POSIX metadata (s3fs's behaviour) instead of trusting the listing.
    public var posixMetadata: Bool = false
    /// Open files with the kernel's page cache bypassed: every read and write goes to the mount,
    /// straight from and into the caller's buffer (no page-cache copy); shared mmap is refused.
    public var directIO: Bool = false
    /// Write-only opens go through the page cache too (otherwise one bypasses it when no other
    /// handle has the file open; handles opened beside it keep the cache).
    public var cachedWrites: Bool = false
    public var blockSize: Int = 1 << 20
    public var memoryCacheBytes: Int = 64 << 20
    /// One bound over the memory block cache, read-ahead in flight, fills, upload buffers and
    /// the first MiB of new files together (see `MemoryBudget`); the cache gives way first, down
    /// to `memoryCacheFloor`.
    public var memoryLimit: Int = 80 << 20
    public var memoryCacheFloor: Int { min(memoryCacheBytes, 16 << 20) }
    /// Largest read-ahead window of one open file (the default fills the memory cache but one GET).
    public var maxPrefetchWindow: Int = 48 << 20
    /// Read-ahead bytes in flight for the whole mount.
    public var maxPrefetchInflight: Int = 48 << 20
    /// Bytes per ranged GET at most.
    public var chunkSize: Int = 16 << 20
    public var diskCacheDirectory: String?
    public var diskCacheBytes: Int = 1 << 30
    /// An object read at random is fetched whole in the background when it is at most this
    /// large (nil: a quarter of the disk cache, or of the memory cache without one; 0: never).
    public var fillMaxBytes: Int?
    /// The byte limit `fillMaxBytes` stands for.
    public var fillLimit: Int {
        fillMaxBytes ?? (diskCacheDirectory != nil ? diskCacheBytes : memoryCacheBytes) / 4
    }
    /// Small files fetched ahead of a program reading a directory's files in listing order
    /// (0: none), and the bytes they may hold at once.
    public var filesAhead: Int = 16
    public var filesAheadBytes: Int = 16 << 20
    public var listPageSize: Int = 1000
    /// HEADs in flight at once when fetching POSIX metadata for a listing.
    public var metadataConcurrency: Int = 32

    /// Where files being written are staged (a directory per bucket below it).
    public var stagingDirectory: String = "/var/tmp/bucketfs-staging"
    /// The server's part-number limit (10,000 on AWS; 1,000 on OpenStack Swift s3api).
    public var maxParts: Int = 10_000
    /// Size of the first parts of a streamed upload (they grow so that `maxParts` hold 5 TiB).
    public var partSize: Int = 8 << 20
    /// Parts in flight per file.
    public var uploadConcurrency: Int = 4
    /// Buffers of parts in flight, for the whole mount; a streaming writer may run ahead of its
    /// uploads by what is left of it beyond its parts in flight and the one being written.
    public var uploadBufferBytes: Int = 56 << 20
    /// Memory for the first MiB of new files until they are stored (or grow), for the whole
    /// mount; 0 keeps every staged byte on disk from the first write.
    public var smallFileMemory: Int = 32 << 20
    /// Seconds between attempts to upload files whose upload failed at close.
    public var uploadRetryInterval: Double = 10
    /// Seconds an unmount spends storing closed files not stored yet before it keeps them staged.
    public var unmountSyncSeconds: Double = 20

    public init(bucket: String, ownership: OwnershipDefaults) {
        self.bucket = bucket
        self.ownership = ownership
    }
}
