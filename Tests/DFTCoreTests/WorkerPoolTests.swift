import Foundation
import Synchronization
import Testing
@testable import DFTCore

/// The pool behind `Parallel.forEach`: every index once, on as many threads as asked, also
/// after its helpers fell asleep, from concurrent callers and from inside its own regions.
@Suite("WorkerPool")
struct WorkerPoolTests {
    /// Runs a region and returns how often each index ran and how many distinct threads ran it.
    static func region(_ pool: WorkerPool, count: Int, threads: Int, work: Double = 0) -> (runs: [Int], threads: Int)? {
        let runs = Mutex([Int](repeating: 0, count: count))
        let seen = Mutex<Set<UInt>>([])
        let ran = pool.run(count, threads: threads) { i in
            runs.withLock { $0[i] += 1 }
            let id = UInt(pthread_self())
            seen.withLock { _ = $0.insert(id) }
            if work > 0 {  // long enough that the helpers join before the caller takes every index
                let start = Date()
                while Date().timeIntervalSince(start) < work {}
            }
        }
        guard ran else { return nil }
        return (runs.withLock { $0 }, seen.withLock { $0.count })
    }

    @Test("every index runs exactly once, on up to the threads asked for (2 to 4 threads, 2 to 300 indices)")
    func everyIndexOnce() {
        let pool = WorkerPool()
        for threads in 2...4 {
            for count in [2, 3, 7, 64, 300] {
                guard let result = Self.region(pool, count: count, threads: threads) else {
                    Issue.record("a pool of its own refused a region")
                    return
                }
                #expect(result.runs == [Int](repeating: 1, count: count), "threads \(threads), count \(count)")
                #expect(result.threads <= threads)
            }
        }
        // With work in every index the helpers take part: more than the caller's thread ran it.
        let shared = Self.region(pool, count: 8, threads: 3, work: 0.002)
        #expect(shared?.runs == [Int](repeating: 1, count: 8))
        #expect((shared?.threads ?? 0) > 1, "the helpers ran none of the work")
    }

    @Test("a region after the helpers fell asleep still runs every index on the helpers too")
    func wakesSleepingHelpers() async throws {
        let pool = WorkerPool()
        _ = Self.region(pool, count: 4, threads: 2)
        // Well past the spin window: the helper sleeps on the condition and must be woken.
        try await Task.sleep(nanoseconds: 20 * WorkerPool.spinNanoseconds)
        let result = Self.region(pool, count: 4, threads: 2, work: 0.002)
        #expect(result?.runs == [1, 1, 1, 1])
        #expect((result?.threads ?? 0) == 2, "the sleeping helper did not take part")
    }

    @Test("a call while a region runs is refused (nested or concurrent) and Parallel.forEach then still runs every index")
    func busyPoolFallsBack() async {
        let pool = WorkerPool()
        let nestedRefused = Atomic<Int>(0)
        _ = pool.run(2, threads: 2) { _ in
            if !pool.run(2, threads: 2, { _ in }) { nestedRefused.add(1, ordering: .relaxed) }
        }
        #expect(nestedRefused.load(ordering: .relaxed) == 2)

        // Parallel's own pool, from many tasks at once and nested: every index of every call once.
        Parallel.configure(threads: 2)
        let finished = await withTaskGroup(of: Int.self) { group in
            for task in 0..<16 {  // each returns its number when all its indices ran 20 times
                group.addTask {
                    let hits = Mutex([Int](repeating: 0, count: 50))
                    for _ in 0..<20 {
                        Parallel.forEach(50) { i in
                            Parallel.forEach(2) { inner in if inner == 0 { hits.withLock { $0[i] += 1 } } }
                        }
                    }
                    return hits.withLock { $0.allSatisfy { $0 == 20 } } ? task : -1
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(finished.sorted() == Array(0..<16))
    }
}
