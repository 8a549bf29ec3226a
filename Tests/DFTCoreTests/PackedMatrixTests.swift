import DFTCore
import Foundation
import Testing

extension CoreKernels {
    @Suite("BFloat16")
    struct BFloat16Tests {
        @Test("rounds to the nearest bf16, ties to even, as torch.bfloat16 does")
        func rounding() {
            // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
            #expect(BFloat16.round(1 + 0x1p-8) == 1)
            // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6.
            #expect(BFloat16.round(1 + 3 * 0x1p-8) == 1 + 0x1p-6)
            // Just above a tie rounds up; just below rounds down.
            #expect(BFloat16.round(Float(bitPattern: 0x3F80_8001)) == 1 + 0x1p-7)
            #expect(BFloat16.round(Float(bitPattern: 0x3F80_7FFF)) == 1)
            #expect(BFloat16.bits(-2) == 0xC000)
            #expect(BFloat16.round(3.14159265) == 3.140625)
            #expect(BFloat16.round(.infinity) == .infinity)
            #expect(BFloat16.round(-.infinity) == -.infinity)
            #expect(BFloat16.round(.nan).isNaN)
            #expect(BFloat16.round(Float(bitPattern: 0x7F80_0001)).isNaN, "a NaN with a low payload must not become inf")
            // The largest finite fp32 rounds past bf16's largest finite value, to inf (as torch).
            #expect(BFloat16.round(.greatestFiniteMagnitude) == .infinity)
            #expect(BFloat16.float(0x3F80) == 1)
        }

        @Test("convert and round agree element by element")
        func bulk() {
            let x = randomFloats(1000, seed: 5, scale: 100)
            var halves = [UInt16](repeating: 0, count: x.count), rounded = [Float](repeating: 0, count: x.count)
            BFloat16.convert(x, to: &halves, count: x.count)
            BFloat16.round(x, to: &rounded, count: x.count)
            #expect(halves.map(BFloat16.float) == rounded)
            // Relative error at most 2^-8: half a step of an 8-bit significand.
            #expect(zip(x, rounded).allSatisfy { abs($0 - $1) <= abs($0) * 0x1p-8 })
        }
    }

    @Suite("PackedMatrix")
    struct PackedMatrixTests {
        /// y = x W^T (+ y0) in Double, W [n, k], x [m, k], operands as given.
        static func reference(_ x: [Float], _ w: [Float], m: Int, n: Int, k: Int, plus y0: [Float]?) -> [Float] {
            var y = [Float](repeating: 0, count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var sum = y0.map { Double($0[i * n + j]) } ?? 0
                    for l in 0..<k { sum += Double(x[i * k + l]) * Double(w[j * k + l]) }
                    y[i * n + j] = Float(sum)
                }
            }
            return y
        }

        static func multiply(_ matrix: PackedMatrix, _ x: [Float], rows: Int, plus y0: [Float]? = nil) -> [Float] {
            var y = y0 ?? [Float](repeating: .nan, count: rows * matrix.outFeatures)
            let workspace = MatmulWorkspace(capacity: rows * matrix.inFeatures)
            matrix.multiply(rows: rows, input: x, output: &y, accumulate: y0 != nil, workspace: workspace)
            return y
        }

        /// Shapes that cut the product into several column blocks with a narrower last one, and
        /// (300 rows) into two row blocks.
        static let shapes = [(m: 1, n: 700, k: 96), (m: 7, n: 256, k: 64), (m: 300, n: 700, k: 40), (m: 32, n: 1500, k: 130)]

        @Test("fp32: equals the Double product to fp32 rounding, with and without accumulation")
        func fp32() {
            for s in Self.shapes {
                let x = randomFloats(s.m * s.k, seed: 1), w = randomFloats(s.n * s.k, seed: 2), y0 = randomFloats(s.m * s.n, seed: 3)
                let matrix = PackedMatrix(weight: w, outFeatures: s.n, inFeatures: s.k, kind: .fp32)
                let bound = Float(s.k).squareRoot() * 4e-6
                #expect(maxAbsDifference(Self.multiply(matrix, x, rows: s.m), Self.reference(x, w, m: s.m, n: s.n, k: s.k, plus: nil)) < bound,
                        "\(s)")
                #expect(maxAbsDifference(Self.multiply(matrix, x, rows: s.m, plus: y0),
                                         Self.reference(x, w, m: s.m, n: s.n, k: s.k, plus: y0)) < bound, "\(s)")
            }
        }

        /// The operands rounded to bf16, multiplied exactly: what a bf16 product should give.
        static func bf16Exact(_ x: [Float], _ w: [Float], m: Int, n: Int, k: Int, plus y0: [Float]?) -> [Float] {
            reference(x.map(BFloat16.round), w.map(BFloat16.round), m: m, n: n, k: k, plus: y0)
        }

        @Test("bf16 reference path: the rounded operands' product, to fp32 summation")
        func bf16Reference() {
            for s in Self.shapes {
                let x = randomFloats(s.m * s.k, seed: 4), w = randomFloats(s.n * s.k, seed: 5), y0 = randomFloats(s.m * s.n, seed: 6)
                let matrix = PackedMatrix(weight: w, outFeatures: s.n, inFeatures: s.k, kind: .bf16Reference)
                let exact = Self.bf16Exact(x, w, m: s.m, n: s.n, k: s.k, plus: y0)
                let bound = Float(s.k).squareRoot() * 4e-6
                #expect(maxAbsDifference(Self.multiply(matrix, x, rows: s.m, plus: y0), exact) < bound, "\(s)")
                // And far from the fp32 product: the rounding is really applied.
                let fp32 = Self.reference(x, w, m: s.m, n: s.n, k: s.k, plus: y0)
                #expect(maxAbsDifference(exact, fp32) > 100 * bound, "\(s)")
            }
        }

        @Test("bf16 through oneDNN: the rounded operands' product, to fp32 summation (hosts with native bf16)")
        func bf16Native() throws {
            guard OneDNN.nativeBF16 else {
                // The refusal is what this host can check: the reference path covers the numbers.
                #expect(throws: PrecisionError.self) { try Precision.bf16.resolved() }
                #expect(try Precision.auto.resolved() == .fp32)
                return
            }
            #expect(try Precision.auto.resolved() == .bf16)
            for s in Self.shapes {
                let x = randomFloats(s.m * s.k, seed: 7), w = randomFloats(s.n * s.k, seed: 8), y0 = randomFloats(s.m * s.n, seed: 9)
                let matrix = PackedMatrix(weight: w, outFeatures: s.n, inFeatures: s.k, kind: .bf16)
                // 2 bytes a weight, the packing padding columns and the inner dimension to 64.
                let padded = (s.n + 63) / 64 * 64 * ((s.k + 63) / 64 * 64)
                #expect(matrix.bytes >= s.n * s.k * 2 && matrix.bytes <= 2 * padded, "\(matrix.bytes) bytes for \(s)")
                let bound = Float(s.k).squareRoot() * 4e-6
                #expect(maxAbsDifference(Self.multiply(matrix, x, rows: s.m), Self.bf16Exact(x, w, m: s.m, n: s.n, k: s.k, plus: nil))
                        < bound, "\(s)")
                #expect(maxAbsDifference(Self.multiply(matrix, x, rows: s.m, plus: y0),
                                         Self.bf16Exact(x, w, m: s.m, n: s.n, k: s.k, plus: y0)) < bound, "\(s)")
            }
        }

        /// A LoRA adapter adds its term to the frozen product's tiles: every output element must be
        /// in exactly one tile, at the right place, and the addition must reach the output, added
        /// to what `accumulate` keeps. Shapes with one column block (oneDNN writes the output,
        /// the epilogue runs on it) and with several (the tile is a worker's scratch).
        @Test("an epilogue sees each output element once, at its row and column, and its addition reaches the output",
              arguments: [PackedMatrix.Kind.fp32, .bf16, .bf16Reference])
        func epilogue(kind: PackedMatrix.Kind) {
            if kind == .bf16 && !OneDNN.nativeBF16 { return }  // covered by bf16Reference's case on such hosts
            Parallel.configure(threads: 2)
            defer { Parallel.configure(threads: 1) }
            for s in Self.shapes + [(m: 300, n: 100, k: 40)] {
                let x = randomFloats(s.m * s.k, seed: 13), w = randomFloats(s.n * s.k, seed: 14), y0 = randomFloats(s.m * s.n, seed: 15)
                let matrix = PackedMatrix(weight: w, outFeatures: s.n, inFeatures: s.k, kind: kind)
                let workspace = MatmulWorkspace(capacity: s.m * s.k)
                func mark(_ i: Int, _ j: Int) -> Float { Float(i % 7) * 0.25 + Float(j % 5) * 0.5 }
                for accumulate in [false, true] {
                    let plain = Self.multiply(matrix, x, rows: s.m, plus: accumulate ? y0 : nil)
                    var y = accumulate ? y0 : [Float](repeating: .nan, count: s.m * s.n)
                    var seen = [Int32](repeating: 0, count: s.m * s.n)
                    seen.withUnsafeMutableBufferPointer { seen in
                        let counts = seen.baseAddress!
                        matrix.multiply(rows: s.m, input: x, output: &y, accumulate: accumulate, workspace: workspace) { tile, ld, rows, columns in
                            for (r, i) in rows.enumerated() {
                                for (c, j) in columns.enumerated() {
                                    tile[r * ld + c] += mark(i, j)
                                    counts[i * s.n + j] += 1
                                }
                            }
                        }
                    }
                    #expect(seen.allSatisfy { $0 == 1 }, "\(kind) \(s): an element seen \(seen.min()!)...\(seen.max()!) times")
                    var worst: Float = 0
                    for i in 0..<s.m {
                        for j in 0..<s.n { worst = max(worst, abs(y[i * s.n + j] - (plain[i * s.n + j] + mark(i, j)))) }
                    }
                    #expect(worst <= 1e-5 * (1 + Float(s.k).squareRoot()), "\(kind) \(s) accumulate \(accumulate): off by \(worst)")
                }
            }
        }

        @Test("bit-identical on 1, 2 and 3 threads, every kind", arguments: [PackedMatrix.Kind.fp32, .bf16, .bf16Reference])
        func threads(kind: PackedMatrix.Kind) {
            if kind == .bf16 && !OneDNN.nativeBF16 { return }  // covered by bf16Reference's case on such hosts
            let (m, n, k) = (300, 1500, 72)
            let x = randomFloats(m * k, seed: 10), w = randomFloats(n * k, seed: 11), y0 = randomFloats(m * n, seed: 12)
            let matrix = PackedMatrix(weight: w, outFeatures: n, inFeatures: k, kind: kind)
            func run(_ threads: Int) -> [Float] {
                Parallel.configure(threads: threads)
                defer { Parallel.configure(threads: 1) }
                return Self.multiply(matrix, x, rows: m, plus: y0)
            }
            let one = run(1)
            #expect(run(2) == one)
            #expect(run(3) == one)
        }

        @Test("pack(from:) takes new weights into the same packed memory")
        func repack() {
            let (m, n, k) = (5, 600, 48)
            let x = randomFloats(m * k, seed: 13), w1 = randomFloats(n * k, seed: 14), w2 = randomFloats(n * k, seed: 15)
            for kind in [PackedMatrix.Kind.fp32, .bf16Reference] + (OneDNN.nativeBF16 ? [.bf16] : []) {
                let matrix = PackedMatrix(weight: w1, outFeatures: n, inFeatures: k, kind: kind)
                let fresh = PackedMatrix(weight: w2, outFeatures: n, inFeatures: k, kind: kind)
                matrix.pack(from: w2)
                #expect(Self.multiply(matrix, x, rows: m) == Self.multiply(fresh, x, rows: m), "\(kind)")
            }
        }
    
        @Test("packing from a bf16 conversion gives the bits of packing from fp32, both copies (hosts with native bf16)")
        func packFromBF16() {
            guard OneDNN.nativeBF16 else { return }  // the reference path has no packing; bf16Native checks the refusal
            let (m, n, k) = (70, 700, 96)  // 700 outputs: several blocks, a narrower last one
            let w = randomFloats(n * k, seed: 38), x = randomFloats(m * k, seed: 39), dY = randomFloats(m * n, seed: 40)
            func linear() -> BF16Linear {
                BF16Linear(weight: w, outFeatures: n, inFeatures: k, kind: .bf16, backward: true,
                           workspace: MatmulWorkspace(capacity: m * max(n, k)), gradientWorkspace: MatmulWorkspace(capacity: 0))
            }
            let fromFloats = linear(), fromHalves = linear()
            fromFloats.pack(from: w)
            fromHalves.pack(from: randomFloats(n * k, seed: 41))  // packed before: the second packing must replace it
            fromHalves.pack(from: w, scratch: MatmulWorkspace(capacity: (n * k + 1) / 2))
            #expect(Self.multiply(fromHalves.forward, x, rows: m) == Self.multiply(fromFloats.forward, x, rows: m))
            #expect(Self.multiply(fromHalves.backward!, dY, rows: m) == Self.multiply(fromFloats.backward!, dY, rows: m))
        }

        @Test("a source stored [in, out] (the backward product dX = dY W) packs to the same products as its transpose")
        func inOutSource() {
            let (m, n, k) = (9, 700, 80)
            let x = randomFloats(m * k, seed: 16), w = randomFloats(n * k, seed: 17)  // w [n, k]
            var transposed = [Float](repeating: 0, count: n * k)  // [k, n]
            for j in 0..<n { for i in 0..<k { transposed[i * n + j] = w[j * k + i] } }
            for kind in [PackedMatrix.Kind.fp32, .bf16Reference] + (OneDNN.nativeBF16 ? [.bf16] : []) {
                let plain = PackedMatrix(weight: w, outFeatures: n, inFeatures: k, kind: kind)
                let fromTransposed = PackedMatrix(weight: transposed, outFeatures: n, inFeatures: k, kind: kind, source: .inOut)
                let a = Self.multiply(plain, x, rows: m), b = Self.multiply(fromTransposed, x, rows: m)
                #expect(maxAbsDifference(a, b) < 1e-4, "\(kind)")
            }
        }
    }

    @Suite("WeightGradient")
    struct WeightGradientTests {
        /// dW + dY^T X in Double, dY [t, out], X [t, in], operands as given.
        static func reference(_ dW: [Float], _ dY: [Float], _ x: [Float], tokens: Int, out: Int, in inFeatures: Int) -> [Float] {
            var result = dW
            for o in 0..<out {
                for i in 0..<inFeatures {
                    var sum = Double(dW[o * inFeatures + i])
                    for t in 0..<tokens { sum += Double(dY[t * out + o]) * Double(x[t * inFeatures + i]) }
                    result[o * inFeatures + i] = Float(sum)
                }
            }
            return result
        }

        static func run(_ kind: PackedMatrix.Kind, _ dW: [Float], _ dY: [Float], _ x: [Float], tokens: Int, out: Int,
                        in inFeatures: Int) -> [Float] {
            var result = dW
            let workspace = MatmulWorkspace(capacity: WeightGradient.workspaceElements(tokens: tokens, outFeatures: out,
                                                                                       inFeatures: inFeatures))
            WeightGradient.accumulate(into: &result, dOut: dY, input: x, tokens: tokens, outFeatures: out, inFeatures: inFeatures,
                                      kind: kind, workspace: workspace)
            return result
        }

        /// Token counts off the padding multiple, and output counts that leave a short last block.
        static let shapes = [(tokens: 37, out: 300, in: 96), (tokens: 128, out: 64, in: 200), (tokens: 5, out: 129, in: 64)]

        @Test("bf16 (native where the CPU has it, and the reference path): the rounded operands' product added in fp32")
        func bf16() {
            for kind in [PackedMatrix.Kind.bf16Reference] + (OneDNN.nativeBF16 ? [.bf16] : []) {
                for s in Self.shapes {
                    let dY = randomFloats(s.tokens * s.out, seed: 20), x = randomFloats(s.tokens * s.in, seed: 21)
                    let dW = randomFloats(s.out * s.in, seed: 22)
                    let exact = Self.reference(dW, dY.map(BFloat16.round), x.map(BFloat16.round), tokens: s.tokens, out: s.out,
                                               in: s.in)
                    let bound = Float(s.tokens).squareRoot() * 4e-6
                    #expect(maxAbsDifference(Self.run(kind, dW, dY, x, tokens: s.tokens, out: s.out, in: s.in), exact) < bound,
                            "\(kind) \(s)")
                    let fp32 = Self.reference(dW, dY, x, tokens: s.tokens, out: s.out, in: s.in)
                    #expect(maxAbsDifference(exact, fp32) > 10 * bound, "the rounding must show: \(s)")
                }
            }
        }

        @Test("fp32 is sgemm's dY^T X; every kind bit-identical on 1, 2 and 3 threads")
        func fp32AndThreads() {
            let (tokens, out, inFeatures) = (200, 300, 72)
            let dY = randomFloats(tokens * out, seed: 23), x = randomFloats(tokens * inFeatures, seed: 24)
            let dW = randomFloats(out * inFeatures, seed: 25)
            let reference = Self.reference(dW, dY, x, tokens: tokens, out: out, in: inFeatures)
            #expect(maxAbsDifference(Self.run(.fp32, dW, dY, x, tokens: tokens, out: out, in: inFeatures), reference) < 1e-4)
            for kind in [PackedMatrix.Kind.fp32, .bf16Reference] + (OneDNN.nativeBF16 ? [.bf16] : []) {
                func run(_ threads: Int) -> [Float] {
                    Parallel.configure(threads: threads)
                    defer { Parallel.configure(threads: 1) }
                    return Self.run(kind, dW, dY, x, tokens: tokens, out: out, in: inFeatures)
                }
                let one = run(1)
                #expect(run(2) == one, "\(kind)")
                #expect(run(3) == one, "\(kind)")
            }
        }

        @Test("Linear.backward in bf16 converts dY once for both products: dX, dW and dBias as each alone would give")
        func linearBackward() {
            // 100 tokens: padded to 128 for the dW product; 300 outputs: three dW row blocks.
            let (tokens, out, inFeatures) = (100, 300, 72)
            let w = randomFloats(out * inFeatures, seed: 26), x = randomFloats(tokens * inFeatures, seed: 27)
            let dY = randomFloats(tokens * out, seed: 28), dW0 = randomFloats(out * inFeatures, seed: 29)
            let dX0 = randomFloats(tokens * inFeatures, seed: 30), dB0 = randomFloats(out, seed: 31)
            var wT = [Float](repeating: 0, count: out * inFeatures)  // [in, out]: dX = dY W is dY (W^T)^T
            for o in 0..<out { for i in 0..<inFeatures { wT[i * out + o] = w[o * inFeatures + i] } }
            let dXExact = PackedMatrixTests.bf16Exact(dY, wT, m: tokens, n: inFeatures, k: out, plus: dX0)
            let dWExact = Self.reference(dW0, dY.map(BFloat16.round), x.map(BFloat16.round), tokens: tokens, out: out,
                                         in: inFeatures)
            var dBExact = dB0
            for t in 0..<tokens { for o in 0..<out { dBExact[o] += dY[t * out + o] } }
            for kind in [PackedMatrix.Kind.bf16Reference] + (OneDNN.nativeBF16 ? [.bf16] : []) {
                let workspace = MatmulWorkspace(capacity: tokens * max(out, inFeatures))
                let gradients = MatmulWorkspace(capacity: WeightGradient.workspaceElements(tokens: tokens, outFeatures: out,
                                                                                           inFeatures: inFeatures))
                let linear = BF16Linear(weight: w, outFeatures: out, inFeatures: inFeatures, kind: kind, backward: true,
                                        workspace: workspace, gradientWorkspace: gradients)
                linear.pack(from: w)
                var dX = dX0, dW = dW0, dB = dB0
                Linear.backward(dInput: &dX, dWeight: &dW, dBias: &dB, dOut: dY, input: x, weight: w, tokens: tokens,
                                inFeatures: inFeatures, outFeatures: out, accumulateInput: true, bf16: linear)
                #expect(maxAbsDifference(dX, dXExact) < Float(out).squareRoot() * 4e-6, "\(kind)")
                #expect(maxAbsDifference(dW, dWExact) < Float(tokens).squareRoot() * 4e-6, "\(kind)")
                #expect(maxAbsDifference(dB, dBExact) < 1e-4, "\(kind)")
            }
        }

        @Test("no product runs on oneDNN's reference kernel (a hundred times slower than its fast ones)")
        func noReferenceKernel() {
            // The products of the suites above, made here too in case this test runs first.
            for s in Self.shapes where OneDNN.nativeBF16 {
                _ = Self.run(.bf16, randomFloats(s.out * s.in, seed: 32), randomFloats(s.tokens * s.out, seed: 33),
                             randomFloats(s.tokens * s.in, seed: 34), tokens: s.tokens, out: s.out, in: s.in)
            }
            for s in PackedMatrixTests.shapes {
                for kind in [PackedMatrix.Kind.fp32] + (OneDNN.nativeBF16 ? [.bf16] : []) {
                    let matrix = PackedMatrix(weight: randomFloats(s.n * s.k, seed: 35), outFeatures: s.n, inFeatures: s.k,
                                              kind: kind)
                    _ = PackedMatrixTests.multiply(matrix, randomFloats(s.m * s.k, seed: 36), rows: s.m,
                                                   plus: randomFloats(s.m * s.n, seed: 37))
                }
            }
            let kernels = OneDNN.matmulKernels
            #expect(!kernels.isEmpty)
            #expect(kernels.allSatisfy { !$0.name.hasPrefix("ref") }, "\(kernels)")
        }
    }
}
