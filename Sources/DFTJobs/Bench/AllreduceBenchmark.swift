import DFTCore
import DFTModel
import DFTRuntime
import DFTTrain
import Foundation

/// `dft-mpi bench --allreduce`: what the network between the ranks gives the gradient
/// allreduce, measured through the same `Communicator` calls training makes.
///
/// The sweep times in-place float sums from 4 KB up to a model's whole gradient and reports,
/// as nccl-tests and the OSU benchmarks do, the algorithm bandwidth (bytes / time) and the bus
/// bandwidth (algorithm bandwidth x 2(n-1)/n: what each rank's link carries in a ring
/// allreduce, comparable across rank counts and with the link's rate). The overlap part runs
/// training steps of a benchmark shape and compares the communication they wait for after the
/// backward pass with the time the same gradient buckets take alone: the difference is what
/// starting each bucket as soon as the backward pass finished it hides.
public struct AllreduceBenchmark {
    public let communicator: any Communicator

    public init(communicator: any Communicator) {
        self.communicator = communicator
    }

    public struct Row {
        public var bytes: Int
        public var seconds: Double        // one allreduce, mean over iterations and ranks
        public var iterations: Int
        public var algorithmBandwidth: Double   // bytes / s
        public var busBandwidth: Double         // bytes / s, x 2(n-1)/n
    }

    /// 4 KB, 16 KB, ... (x4) below `gradientBytes`, then `gradientBytes` itself.
    public static func sizes(upTo gradientBytes: Int) -> [Int] {
        var sizes: [Int] = []
        var bytes = 4096
        while bytes < gradientBytes {
            sizes.append(bytes)
            bytes *= 4
        }
        sizes.append(max(gradientBytes, 4096))
        return sizes
    }

    /// Times each size for about `secondsPerSize` (at least 3 iterations, after one warm-up).
    public func sweep(sizes: [Int], secondsPerSize: Double = 0.5) -> [Row] {
        let largest = sizes.max() ?? 0
        let buffer = FloatBuffer(count: largest / MemoryLayout<Float>.stride)   // [largest floats], zeros
        let n = communicator.size
        return sizes.map { bytes in
            let count = bytes / MemoryLayout<Float>.stride
            // Warm-up (connections, buffers), then one timed call decides the iteration count;
            // rank 0's choice is everyone's (a sum where only rank 0 contributes).
            communicator.allreduceSum(buffer.pointer, count: count)
            let probe = time { communicator.allreduceSum(buffer.pointer, count: count) }
            var chosen = [communicator.isRoot ? Double(min(2000, max(3, Int(secondsPerSize / max(probe, 1e-7))))) : 0]
            communicator.allreduceSum(&chosen)
            let iterations = Int(chosen[0])
            communicator.barrier()
            let total = time { for _ in 0..<iterations { communicator.allreduceSum(buffer.pointer, count: count) } }
            var mean = [total / Double(iterations)]
            communicator.allreduceSum(&mean)
            let seconds = mean[0] / Double(n)
            let algorithm = Double(bytes) / seconds
            return Row(bytes: bytes, seconds: seconds, iterations: iterations, algorithmBandwidth: algorithm,
                       busBandwidth: algorithm * 2 * Double(n - 1) / Double(n))
        }
    }

    public struct Overlap {
        public var buckets: Int
        public var gradientBytes: Int
        public var stepSeconds: Double          // median training step
        public var exposedSeconds: Double       // communication waited for after the backward pass, per step
        public var aloneSeconds: Double         // the same buckets' allreduces with nothing else running (median)
        /// The share of the buckets' communication the backward pass hid.
        public var hiddenFraction: Double { aloneSeconds > 0 ? max(0, min(1, 1 - exposedSeconds / aloneSeconds)) : 0 }
    }

    /// Training steps of `benchmark` (plain data parallelism: its buckets overlap the backward
    /// pass), then its buckets alone as many times.
    public func overlap(_ benchmark: Benchmark) throws -> Overlap {
        let session = try benchmark.prepare()
        for _ in 0..<benchmark.steps {
            try session.step()
        }
        // Each step's wait is already the mean over ranks.
        let exposed = session.commWait / Double(benchmark.steps)
        let trainer = session.trainer
        let scratch = FloatBuffer(count: trainer.trained.count)   // [gradient floats], zeros
        var alone: [Double] = []
        for _ in 0..<max(3, benchmark.steps) {
            communicator.barrier()
            alone.append(time {
                for range in trainer.buckets.ranges {
                    communicator.startAllreduceSum(scratch.pointer + range.lowerBound, count: range.count)
                }
                _ = communicator.waitAll()
            })
        }
        var medians = [Benchmark.median(alone)]
        communicator.allreduceSum(&medians)
        return Overlap(buckets: trainer.buckets.ranges.count, gradientBytes: trainer.trained.count * MemoryLayout<Float>.stride,
                       stepSeconds: session.medianStepSeconds, exposedSeconds: exposed,
                       aloneSeconds: medians[0] / Double(communicator.size))
    }

    private func time(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
