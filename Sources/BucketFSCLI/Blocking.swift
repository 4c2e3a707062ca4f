import Dispatch
import Synchronization

/// Runs async work from synchronous code (the mount's main thread, which must stay out of the
/// cooperative pool) and waits for it.
enum Blocking {
    final class Box<T: Sendable>: Sendable {
        let value = Mutex<Result<T, any Error>?>(nil)
    }

    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = Box<T>()
        let sem = DispatchSemaphore(value: 0)
        Task {
            let r: Result<T, any Error>
            do { r = .success(try await body()) } catch { r = .failure(error) }
            box.value.withLock { $0 = r }
            sem.signal()
        }
        sem.wait()
        guard let result = box.value.withLock({ $0 }) else { throw CancellationError() }
        return try result.get()
    }
}
