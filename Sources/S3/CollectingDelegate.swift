import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// An answer read whole on the connection's event loop: the head, and the body as the buffers it
/// arrived in (no copy, no hop to a task per body part).
struct CollectedResponse: Sendable {
    var head: HTTPResponseHead
    var segments: [ByteBuffer]
    var count: Int

    var status: Int { Int(head.status.code) }
    /// The body in one buffer (a copy only when it arrived in pieces).
    var body: ByteBuffer { ByteBuffer(joining: segments) }
}

extension ByteBuffer {
    /// `segments` in one buffer: the segment itself when there is one, else a copy of them all.
    public init(joining segments: [ByteBuffer]) {
        if segments.count == 1 {
            self = segments[0]
            return
        }
        self = ByteBufferAllocator().buffer(capacity: segments.reduce(0) { $0 + $1.readableBytes })
        for var s in segments { writeBuffer(&s) }
    }
}

/// Sees each part of a 206 (Partial Content) answer's body as it arrives, on the connection's
/// event loop, with the part's offset in the body (0 again when a retry starts the body over).
/// It must not block.
public typealias BodyObserver = @Sendable (_ part: ByteBuffer, _ offset: Int) -> Void

/// Collects an answer on its event loop, up to `limit` body bytes (a longer body fails the
/// request with `BodyTooLarge`); an error answer keeps its first `errorLimit` bytes only.
/// A 206 answer's body parts also go to `observer`, if any, as they arrive.
/// AsyncHTTPClient calls it from one event loop, one call at a time.
final class CollectingDelegate: HTTPClientResponseDelegate, @unchecked Sendable {
    typealias Response = CollectedResponse
    struct BodyTooLarge: Error {}

    private let limit: Int
    private let errorLimit: Int
    private let observer: BodyObserver?
    private var head: HTTPResponseHead?
    private var segments: [ByteBuffer] = []
    private var count = 0

    init(limit: Int, errorLimit: Int, observer: BodyObserver? = nil) {
        self.limit = limit
        self.errorLimit = errorLimit
        self.observer = observer
    }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        self.head = head
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let failed = (head?.status.code ?? 200) >= 300
        if failed {
            if count < errorLimit, let part = buffer.getSlice(at: buffer.readerIndex, length: min(buffer.readableBytes, errorLimit - count)) {
                segments.append(part)
                count += part.readableBytes
            }
            return task.eventLoop.makeSucceededVoidFuture()
        }
        let offset = count
        count += buffer.readableBytes
        guard count <= limit else { return task.eventLoop.makeFailedFuture(BodyTooLarge()) }
        segments.append(buffer)
        if let observer, head?.status == .partialContent { observer(buffer, offset) }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response {
        guard let head else { throw HTTPClientError.remoteConnectionClosed }
        return CollectedResponse(head: head, segments: segments, count: count)
    }
}
