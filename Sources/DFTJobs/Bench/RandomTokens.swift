import DFTCore
import DFTData
import DFTGeneration
import DFTRuntime
import DFTTrain

/// Benchmark data with the shape of the reference measurements (shared/BASELINES.md):
/// every example fills its row, random token ids, the first quarter masked as a prompt and
/// the other three quarters trained.
struct RandomTokens: Dataset {
    let name = "random tokens"
    let count: Int
    let vocabularySize: Int
    let length: Int
    let seed: UInt64
    var padId: Int32 { 0 }

    func example(at index: Int) -> Example {
        var rng = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9)
        let tokens = (0..<length).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(vocabularySize)) }
        let prompt = length / 4
        return Example(tokens: tokens, lossMask: (0..<length).map { $0 >= prompt ? 1 : 0 })
    }
}
