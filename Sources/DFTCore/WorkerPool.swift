import Foundation
import Synchronization

/// The helper threads behind `Parallel.forEach`: started once, they stay awake for a short while
/// after each parallel region, so that the next region starts without waking a thread.
///
/// Why not Dispatch's `concurrentPerform`: it hands every region to a sleeping thread, which on
/// this VM class costs 12-13 us a region (2 iterations of 5 us take 17-19 us; here 5.4 us). A
/// decode step of one sequence is ~40 regions of 30-150 us, so that hand-over was about a
/// tenth of it. Helpers spin for `spinNanoseconds` after a region, then sleep on a condition:
/// an idle job (a rank waiting in an allreduce, a finished run) does not keep cores busy.
///
/// One region at a time: a call made while a region runs (from another thread, as concurrent
/// tests do, or from inside a region's body) returns false and the caller uses Dispatch. Which
/// thread runs an index never matters: callers make every index independent of the others.
final class WorkerPool: @unchecked Sendable {
    /// How long a helper waits awake for the next region before it sleeps.
    static let spinNanoseconds: UInt64 = 200_000

    /// The current region's serial number (high bits) and its number of participating threads,
    /// caller included (low `threadBits` bits), published together: a helper that wakes late
    /// must not pair one region's number with the next one's participants.
    private let region = Atomic<Int>(0)
    private static let threadBits = 16
    /// The next index of the current region to hand out.
    private let nextIndex = Atomic<Int>(0)
    /// Helpers of the current region that have not finished their share.
    private let unfinished = Atomic<Int>(0)
    private let inUse = Atomic<Bool>(false)
    private let sleep = NSCondition()
    /// Helpers asleep on `sleep`; guarded by it.
    nonisolated(unsafe) private var sleepers = 0
    /// Helpers started, numbered 1...helpers (the caller is 0); only the caller holding
    /// `inUse` reads or starts them.
    nonisolated(unsafe) private var helpers = 0
    /// The current region's work, written by the caller before it publishes `region`.
    nonisolated(unsafe) private var body: ((Int) -> Void)?
    nonisolated(unsafe) private var count = 0

    static let shared = WorkerPool()

    /// Runs `body(i)` for i in 0..<count on `threads` threads (the caller and threads - 1
    /// helpers), or returns false without running anything when a region is already running
    /// (or for more threads than a region can name).
    func run(_ count: Int, threads: Int, _ body: (Int) -> Void) -> Bool {
        precondition(threads >= 2, "a pool region of \(threads) threads")
        guard threads < 1 << Self.threadBits,
              inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            return false
        }
        defer { inUse.store(false, ordering: .releasing) }
        startHelpers(threads - 1)
        withoutActuallyEscaping(body) { escapable in
            self.body = escapable
            self.count = count
            nextIndex.store(0, ordering: .relaxed)
            unfinished.store(threads - 1, ordering: .relaxed)
            let serial = (region.load(ordering: .relaxed) >> Self.threadBits) + 1
            region.store(serial << Self.threadBits | threads, ordering: .releasing)
            sleep.lock()
            if sleepers > 0 { sleep.broadcast() }
            sleep.unlock()
            work()
            var spins = 0
            while unfinished.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins & 1023 == 0 { sched_yield() }  // a helper descheduled (oversubscribed ranks)
            }
            self.body = nil
        }
        return true
    }

    /// Takes indices of the current region until none is left.
    private func work() {
        let body = self.body!, count = self.count
        while true {
            let i = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= count { return }
            body(i)
        }
    }

    private func startHelpers(_ wanted: Int) {
        while helpers < wanted {
            helpers += 1
            let number = helpers, start = region.load(ordering: .acquiring)
            let thread = Thread { [unowned self] in self.helperLoop(number, seen: start) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func helperLoop(_ number: Int, seen: Int) {
        var seen = seen
        while true {
            seen = waitForRegion(after: seen)
            guard number < seen & (1 << Self.threadBits - 1) else { continue }  // not needed in this region
            work()
            unfinished.subtract(1, ordering: .releasing)
        }
    }

    /// Spins until `region` moves past `seen`, sleeping once `spinNanoseconds` have passed;
    /// returns the new value.
    private func waitForRegion(after seen: Int) -> Int {
        let start = DispatchTime.now().uptimeNanoseconds
        var spins = 0
        while true {
            let now = region.load(ordering: .acquiring)
            if now != seen { return now }
            spins += 1
            if spins & 63 == 0 && DispatchTime.now().uptimeNanoseconds - start > Self.spinNanoseconds { break }
        }
        sleep.lock()
        defer { sleep.unlock() }
        sleepers += 1
        while region.load(ordering: .acquiring) == seen { sleep.wait() }
        sleepers -= 1
        return region.load(ordering: .acquiring)
    }
}
