import NIOCore
import Synchronization

/// The blocks of one GET in flight, handed to the readers waiting for them as each one is
/// complete, before the rest of the GET has arrived. A block is delivered once (later deliveries
/// of it, from a retry that starts the body over, are ignored); after `fail`, every block not yet
/// delivered fails with that error, and so does every wait that comes later.
final class BlockFeed: Sendable {
    private struct State {
        var blocks: [Int64: Block] = [:]
        var waiters: [Int64: [CheckedContinuation<Block, any Error>]] = [:]
        var failure: (any Error)?
    }
    private let state = Mutex(State())

    func deliver(_ index: Int64, _ block: Block) {
        let waiting = state.withLock { s -> [CheckedContinuation<Block, any Error>] in
            guard s.blocks[index] == nil, s.failure == nil else { return [] }
            s.blocks[index] = block
            return s.waiters.removeValue(forKey: index) ?? []
        }
        for w in waiting { w.resume(returning: block) }
    }

    func fail(_ error: any Error) {
        let waiting = state.withLock { s -> [CheckedContinuation<Block, any Error>] in
            guard s.failure == nil else { return [] }
            s.failure = error
            defer { s.waiters = [:] }
            return s.waiters.values.flatMap { $0 }
        }
        for w in waiting { w.resume(throwing: error) }
    }

    /// The block, as soon as it has arrived.
    func block(_ index: Int64) async throws -> Block {
        try await withCheckedThrowingContinuation { c in
            let now: Result<Block, any Error>? = state.withLock { s in
                if let b = s.blocks[index] { return .success(b) }
                if let e = s.failure { return .failure(e) }
                s.waiters[index, default: []].append(c)
                return nil
            }
            if let now { c.resume(with: now) }
        }
    }
}

/// Cuts a GET's body, arriving in parts, into whole blocks (slices of the parts, no copy).
/// Used from the connection's event loop, one part at a time.
struct BlockAssembly {
    let lengths: [Int]
    private(set) var next = 0
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0

    init(lengths: [Int]) { self.lengths = lengths }

    /// Takes a part at `offset` in the body and answers the blocks it completes, by position in
    /// `lengths`. A part at offset 0 after others means the body started over.
    mutating func add(_ part: ByteBuffer, at offset: Int) -> [(Int, Block)] {
        if offset == 0 && (next > 0 || pendingBytes > 0) { self = BlockAssembly(lengths: lengths) }
        pending.append(part)
        pendingBytes += part.readableBytes
        var out: [(Int, Block)] = []
        while next < lengths.count, pendingBytes >= lengths[next] {
            let whole = Block(segments: pending)
            let n = lengths[next]
            out.append((next, whole.block(0..<n)))
            pending = whole.slices(n..<whole.count)
            pendingBytes -= n
            next += 1
        }
        return out
    }
}
