import NIOCore
import Synchronization
import XCTest
@testable import BucketFSCore

/// One bound over buffers and the memory cache: the cache gives way, writers leave the readers'
/// reserve, readers wait their turn, and nothing ever goes past the bound.
final class MemoryBudgetTests: XCTestCase {
    let object = ObjectVersion(key: "k", etag: "e", size: 1 << 20)

    func fill(_ cache: BlockCache, blocks: Int, of size: Int) {
        for i in 0..<blocks {
            cache.insert(BlockKey(object: object, index: Int64(i)), Block(ByteBuffer(bytes: [UInt8](repeating: 1, count: size))))
        }
    }

    func testCacheGivesWayAndComesBack() {
        let cache = BlockCache(capacity: 64)
        let budget = MemoryBudget(capacity: 100, cacheFloor: 16, readReserve: 10, cache: cache)
        fill(cache, blocks: 8, of: 8)
        XCTAssertEqual(cache.usedBytes, 64)
        let upload = ByteBudget(capacity: 1000, shared: budget)
        XCTAssertTrue(upload.tryAcquire(40))
        XCTAssertLessThanOrEqual(cache.usedBytes, 60, "the cache shrank at once")
        XCTAssertLessThanOrEqual(cache.usedBytes + budget.inUse, 100)
        XCTAssertFalse(upload.tryAcquire(40), "a writer leaves the floor and the readers' reserve")
        XCTAssertEqual(upload.inUse, 40, "a refused request holds nothing of its own budget")
        XCTAssertTrue(upload.tryAcquire(34))
        XCTAssertEqual(cache.currentLimit, 26)
        fill(cache, blocks: 8, of: 8)
        XCTAssertLessThanOrEqual(cache.usedBytes, 26, "inserts keep within what is left")
        upload.release(74)
        XCTAssertEqual(cache.currentLimit, 64, "the cache may grow again to its own capacity")
        fill(cache, blocks: 8, of: 8)
        XCTAssertEqual(cache.usedBytes, 64)
    }

    func testReadersWaitAndTakeTheReserve() async {
        let cache = BlockCache(capacity: 64)
        let budget = MemoryBudget(capacity: 100, cacheFloor: 16, readReserve: 10, cache: cache)
        let uploads = ByteBudget(capacity: 1000, shared: budget)
        let readAhead = ByteBudget(capacity: 1000, shared: budget)
        XCTAssertTrue(uploads.tryAcquire(74))
        await readAhead.acquire(10)   // the reserve: no wait
        XCTAssertEqual(cache.currentLimit, 16, "the floor stays")
        let got = Mutex(false)
        let waiter = Task {
            await readAhead.acquire(30)
            got.withLock { $0 = true }
        }
        try? await Task.sleep(for: .milliseconds(100))
        XCTAssertFalse(got.withLock { $0 }, "no room: the reader waits")
        XCTAssertFalse(uploads.tryAcquire(1), "nor does a writer pass a waiting reader")
        uploads.release(74)
        await waiter.value
        XCTAssertTrue(got.withLock { $0 })
        XCTAssertEqual(budget.inUse, 40)
        readAhead.release(40)
        XCTAssertEqual(budget.inUse, 0)
        // A request larger than the whole room goes through alone rather than wait forever.
        await readAhead.acquire(500)
        XCTAssertEqual(cache.currentLimit, 0)
        readAhead.release(500)
        XCTAssertEqual(cache.currentLimit, 64)
    }
}
