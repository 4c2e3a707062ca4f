import BucketFSCore
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import Synchronization

/// `-o metrics=HOST:PORT`: the mount's metrics in Prometheus text format at `/metrics`, from
/// swift-metrics with swift-prometheus's registry. Counters and histograms are kept as events
/// happen (S3 requests, FUSE operations, read-ahead); the state of caches and staged files is
/// read when a scrape asks. Without the option nothing is registered (swift-metrics' no-op).
final class MetricsServer: Sendable {
    let registry: PrometheusCollectorRegistry
    let fs: BucketFileSystem
    let channel: any Channel

    /// Installs the Prometheus backend for swift-metrics; call before anything records.
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(10),
                                                   .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1),
                                                   .seconds(5), .seconds(20), .seconds(60)]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    init(registry: PrometheusCollectorRegistry, fs: BucketFileSystem, host: String, port: Int) throws {
        self.registry = registry
        self.fs = fs
        let state = ScrapeState(fs: fs)
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ScrapeHandler(registry: registry, state: state))
                }
            }
            .bind(host: host, port: port).wait()
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    func stop() { try? channel.close().wait() }
}

/// The values read at scrape time, turned into gauges (and counters, for cumulative values).
final class ScrapeState: Sendable {
    let fs: BucketFileSystem
    private let last = Mutex((hits: 0, misses: 0, evictions: 0))

    init(fs: BucketFileSystem) { self.fs = fs }

    func refresh() async {
        let u = fs.usage
        Gauge(label: "bucketfs_memory_cache_bytes").record(u.memoryCacheBytes)
        Gauge(label: "bucketfs_memory_cache_capacity_bytes").record(u.memoryCacheCapacity)
        if let d = u.diskCacheBytes, let c = u.diskCacheCapacity {
            Gauge(label: "bucketfs_disk_cache_bytes").record(d)
            Gauge(label: "bucketfs_disk_cache_capacity_bytes").record(c)
        }
        let evictions = fs.reader.memory.evictions
        let delta = last.withLock { l -> (Int, Int, Int) in
            let d = (u.cacheHits - l.hits, u.cacheMisses - l.misses, evictions - l.evictions)
            l = (u.cacheHits, u.cacheMisses, evictions)
            return d
        }
        Counter(label: "bucketfs_cache_hits_total").increment(by: max(0, delta.0))
        Counter(label: "bucketfs_cache_misses_total").increment(by: max(0, delta.1))
        Counter(label: "bucketfs_cache_evictions_total").increment(by: max(0, delta.2))
        let files = await fs.unstoredFiles()
        let waiting = files.filter { !$0.open && $0.abandoned == nil }
        Gauge(label: "bucketfs_unstored_files").record(files.filter { $0.abandoned == nil }.count)
        Gauge(label: "bucketfs_unstored_bytes").record(files.filter { $0.abandoned == nil }.reduce(Int64(0)) { $0 + $1.size })
        Gauge(label: "bucketfs_files_open_for_writing").record(files.filter(\.open).count)
        Gauge(label: "bucketfs_uploads_waiting").record(waiting.count)
        Gauge(label: "bucketfs_files_not_stored").record(files.filter { $0.abandoned != nil }.count)
        Gauge(label: "bucketfs_oldest_unstored_seconds").record(waiting.map(\.age).max() ?? 0)
        Gauge(label: "bucketfs_pending_aborts").record(fs.pendingAborts)
        Gauge(label: "bucketfs_open_handles").record(u.openFiles)
        Gauge(label: "bucketfs_uptime_seconds").record(u.uptime)
    }
}

/// Answers `GET /metrics`; anything else is 404.
final class ScrapeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let registry: PrometheusCollectorRegistry
    let state: ScrapeState
    private var path = ""

    init(registry: PrometheusCollectorRegistry, state: ScrapeState) {
        self.registry = registry
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): path = head.uri
        case .body: break
        case .end:
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            guard path == "/metrics" || path.hasPrefix("/metrics?") else {
                return respond(context, status: .notFound, body: "not found; try /metrics\n")
            }
            let (registry, state) = (registry, state)
            Task {
                await state.refresh()
                let text = registry.emitToString()
                loop.execute {
                    let (handler, context) = bound.value
                    handler.respond(context, status: .ok, body: text)
                }
            }
        }
    }

    func respond(_ context: ChannelHandlerContext, status: HTTPResponseStatus, body: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
