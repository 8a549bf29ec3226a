import Foundation

/// Where a training step's time goes, for the benchmark's split. Off unless enabled; when
/// on, each measured call costs two monotonic clock reads (tens of nanoseconds).
public final class PhaseTimer: @unchecked Sendable {
    public enum Phase: Int, CaseIterable, Sendable {
        case matmul, adapters, attention, otherKernels, lmHeadAndLoss, optimizer, communication

        public var label: String {
            switch self {
            case .matmul: "matmuls"
            case .adapters: "LoRA adapters"
            case .attention: "attention"
            case .otherKernels: "other kernels"
            case .lmHeadAndLoss: "LM head + loss"
            case .optimizer: "optimizer"
            case .communication: "communication wait"
            }
        }
    }

    public var enabled = false
    public private(set) var seconds = [Double](repeating: 0, count: Phase.allCases.count)
    /// Time of the measured calls nested inside the current one (a LoRA adapter's products
    /// inside the frozen projection's): counted for the inner phase only.
    private var nested = 0.0

    public init() {}

    @inline(__always)
    public func measure<T>(_ phase: Phase, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let outer = nested
        nested = 0
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            seconds[phase.rawValue] += elapsed - nested
            nested = outer + elapsed
        }
        return try body()
    }

    public func add(_ phase: Phase, _ value: Double) {
        if enabled { seconds[phase.rawValue] += value }
    }

    public func reset() {
        for i in seconds.indices { seconds[i] = 0 }
    }
}
