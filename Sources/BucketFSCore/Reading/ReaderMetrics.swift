import Metrics

/// What reading reports to swift-metrics: bytes fetched by read-ahead, and bytes programs read
/// (from any tier), so the two can be compared.
enum ReaderMetrics {
    static let readAheadBytes = Counter(label: "bucketfs_readahead_bytes_fetched_total")
    static let bytesRead = Counter(label: "bucketfs_bytes_read_total")
    /// Bytes fetched for random reads, exactly as asked (no block around them).
    /// Files fetched ahead of a program reading a directory's files in listing order.
    static let filesAhead = Counter(label: "bucketfs_files_fetched_ahead_total")
    /// Bytes fetched by fills of objects read at random (`ObjectFill`).
    static let fillBytes = Counter(label: "bucketfs_fill_bytes_fetched_total")
    static let randomReadBytes = Counter(label: "bucketfs_random_read_bytes_fetched_total")
}
