import DFTCore
import DFTModel
import Foundation
import Testing
@testable import DFTDecode

/// A job that only decodes in bf16 (`generate`, `eval`, `bench --decode`) loads its model with
/// `PackedDecodeWeights.loadDecodeOnly`: each matrix packed as it is loaded and its fp32 pages
/// given back, the embedding table kept in bf16. These tests check that it decodes exactly as
/// packed copies of the same weights do, and that the fp32 matrices really left memory.
@Suite("Decode-only weights", .serialized)
struct DecodeOnlyWeightsTests {
    /// Resident bytes of `buffer`'s pages (mincore), for a buffer that is a mapping of its own.
    static func residentBytes(_ buffer: FloatBuffer) -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let length = buffer.bytes
        var vector = [UInt8](repeating: 0, count: (length + page - 1) / page)
        let status = mincore(UnsafeMutableRawPointer(buffer.pointer), length, &vector)
        precondition(status == 0, "mincore: \(String(cString: strerror(errno)))")
        return vector.reduce(0) { $0 + Int($1 & 1) } * page
    }

    /// The fixtures: qwen2 ties its head to the embedding, llama3 does not.
    @Test("a decode-only model decodes bit for bit as packed copies of the same weights with the embedding in bf16",
          arguments: ["qwen2", "llama3"], PrecisionDecodingTests.bf16Kinds)
    func decodeOnlyEqualsPacked(name: String, kind: PackedMatrix.Kind) throws {
        let decodeOnly = try DecodeFixtures.greedyRun(name, products: .prepacked(kind))
        let packed = try DecodeFixtures.greedyRun(name, products: .packed(kind), embeddingInBF16: true)
        #expect(decodeOnly.greedy == packed.greedy)
        #expect(decodeOnly.logits == packed.logits)

        // And still within bf16's error of transformers' fp32 logits (the bound of
        // `PrecisionDecodingTests.bf16NearFP32`; the bf16 lookup adds to it: 0.062 on qwen2,
        // 0.033 on llama3).
        let expected = try DecodeFixtures.expected(name)
        let fp32 = try (0..<expected.prompts.count).map { try DecodeFixtures.logits(name, prompt: $0) }
        let vocab = fp32[0].count / expected.new_tokens
        let difference = PrecisionDecodingTests.relativeDifference(decodeOnly.logits, fp32, vocab: vocab)
        let equal = zip(decodeOnly.greedy, expected.greedy).filter { $0 == $1 }.count
        print("decode-only \(kind) on \(name): logits within \(difference) of the row's largest logit; "
              + "\(equal) of \(expected.prompts.count) greedy completions equal fp32's")
        #expect(difference < PrecisionDecodingTests.bf16Bound)
    }

    @Test("loading decode-only leaves only the norms and biases of the fp32 buffer resident", arguments: [false, true])
    func fp32MatricesLeaveMemory(tied: Bool) throws {
        var config = try ModelPresets.config(named: "tiny")
        config.tieWordEmbeddings = tied
        let source = RandomInitialization(config: config, name: "tiny", seed: 1)
        let weights = try PackedDecodeWeights.loadDecodeOnly(source: source, kind: .bf16Reference)
        let model = weights.model
        #expect(model.matricesReleased)
        let small = model.layout.entries.filter { $0.shape.count == 1 }  // norms and biases
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        // Each small tensor may share a page with its neighbours, at most two pages each.
        let allowed = small.reduce(0) { $0 + $1.count * 4 + 2 * page }
        let resident = Self.residentBytes(model.parameters)
        print("decode-only tiny (tied \(tied)): \(resident) bytes of \(model.parameters.bytes) resident "
              + "(norms and biases \(small.reduce(0) { $0 + $1.count * 4 })), packed copies \(weights.bytes)")
        #expect(resident <= allowed)
        #expect(model.parameters.bytes > 10 * allowed, "the check must be able to fail")

        // A model loaded the usual way is resident in full: the measure sees the pages.
        let full = try Transformer(config: config, maxRows: 1, rowLength: 1, trainable: false)
        try source.loadParameters(into: full.parameters, layout: full.layout)
        #expect(Self.residentBytes(full.parameters) >= full.layout.count * 4)

        // The copies hold every matrix in bf16 once, the tied head's twice (packed for the
        // product, plain for the lookup): half the fp32 weights, or half plus the table's half.
        let c = config, table = c.vocabSize * c.hiddenSize
        let matrices = model.layout.entries.filter { $0.shape.count == 2 }.reduce(0) { $0 + $1.count }
        let expected = 2 * (matrices + (tied ? table : 0))
        #expect(weights.bytes >= expected && weights.bytes <= expected + expected / 20, "\(weights.bytes) for \(expected)")
    }
}
