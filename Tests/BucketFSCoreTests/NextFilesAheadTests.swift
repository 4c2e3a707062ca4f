import BucketFSCore
import XCTest

/// The decisions of `NextFilesAhead`: nothing until two opens follow the order, then a window
/// within the count and byte bounds, topped up one file at a time; a jump stops it.
final class NextFilesAheadTests: XCTestCase {
    func testWindowFollowsTheListingOrderWithinItsBounds() {
        let ahead = NextFilesAhead(maxFiles: 4, maxBytes: 10, maxFileBytes: 5, maxNames: 100)
        let names = (0..<20).map { "f\($0)" }
        ahead.listed(1, names: Array(names[0..<10]), at: 0)
        ahead.listed(1, names: Array(names[10..<20]), at: 10)
        ahead.listed(1, names: ["ignored"], at: 3)   // a page that does not continue the order
        let size: (String) -> Int64? = { $0 == "f7" ? 50 : ($0 == "f5" ? nil : 2) }
        XCTAssertEqual(ahead.opened(1, "f0", size: size), [], "one open is no pattern")
        XCTAssertEqual(ahead.opened(1, "f1", size: size), ["f2", "f3", "f4"], "f5 is no file to fetch; 4 names at most")
        XCTAssertEqual(ahead.opened(1, "f2", size: size), ["f6"], "topped up by one; f7 is too large")
        XCTAssertEqual(ahead.opened(1, "f3", size: size), [])
        XCTAssertEqual(ahead.opened(1, "f4", size: size), ["f8"])
        XCTAssertEqual(ahead.opened(1, "f12", size: size), [], "a jump stops it")
        XCTAssertEqual(ahead.opened(1, "f13", size: size), ["f14", "f15", "f16", "f17"])
        XCTAssertEqual(ahead.opened(1, "ignored", size: size), [], "unknown names")
        XCTAssertEqual(ahead.opened(2, "f0", size: size), [], "other directories")
        // The byte bound: 10 bytes ahead at most.
        let big = NextFilesAhead(maxFiles: 8, maxBytes: 10, maxFileBytes: 5, maxNames: 100)
        big.listed(1, names: names, at: 0)
        _ = big.opened(1, "f0") { _ in 4 }
        XCTAssertEqual(big.opened(1, "f1") { _ in 4 }, ["f2", "f3"])
        XCTAssertEqual(big.opened(1, "f2") { _ in 4 }, ["f4"])
        // The name bound: least recently listed directories go first.
        let few = NextFilesAhead(maxNames: 25)
        few.listed(1, names: names, at: 0)
        few.listed(2, names: names, at: 0)
        XCTAssertEqual(few.heldNames, 20)
    }
}
