/// One weight's bf16 operands for the products of a training step, as PyTorch's CPU autocast
/// runs `nn.Linear`: y = x W^T and dX = dY W multiply bf16 copies of W (packed once per step,
/// from the fp32 master) by the activations rounded to bf16; dW += dY^T X rounds both
/// activations; every product accumulates and writes fp32.
public struct BF16Linear {
    /// W packed for y = x W^T.
    public let forward: PackedMatrix
    /// W packed for dX = dY W (nil for a model that is never differentiated).
    public let backward: PackedMatrix?
    /// The bf16 copy of a product's input (shared by every matrix of a model).
    public let workspace: MatmulWorkspace
    /// The bf16 operands of dW products (shared likewise).
    public let gradientWorkspace: MatmulWorkspace

    public init(forward: PackedMatrix, backward: PackedMatrix?, workspace: MatmulWorkspace, gradientWorkspace: MatmulWorkspace) {
        self.forward = forward
        self.backward = backward
        self.workspace = workspace
        self.gradientWorkspace = gradientWorkspace
    }

    /// Room for W [outFeatures, inFeatures]'s copies for both products (`kind` bf16, or its
    /// reference path), filled by `pack(from:)`.
    public init(weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, kind: PackedMatrix.Kind, backward: Bool,
                workspace: MatmulWorkspace, gradientWorkspace: MatmulWorkspace) {
        self.forward = PackedMatrix(weight: weight, outFeatures: outFeatures, inFeatures: inFeatures, kind: kind, pack: false)
        // dX[t, in] = dY[t, out] W: a product with `out` inputs and `in` outputs, W stored [out, in].
        self.backward = backward
            ? PackedMatrix(weight: weight, outFeatures: inFeatures, inFeatures: outFeatures, kind: kind, source: .inOut,
                           pack: false) : nil
        self.workspace = workspace
        self.gradientWorkspace = gradientWorkspace
    }

    /// Packs both copies again from W's current values. `scratch` (room for W in bf16: out x in
    /// halves, half as many floats), when given to a `.bf16` weight: W is converted into it once, in plain passes,
    /// and both copies are packed from that conversion, which halves what the packing reads
    /// and runs oneDNN's faster reorder (bf16 to bf16); the packed bits are the same.
    public func pack(from weight: UnsafePointer<Float>, scratch workspace: MatmulWorkspace? = nil) {
        guard let workspace, forward.kind == .bf16 else {
            forward.pack(from: weight)
            backward?.pack(from: weight)
            return
        }
        let count = forward.outFeatures * forward.inFeatures
        precondition(count <= 2 * workspace.capacity, "a \(count)-element weight in a pack scratch of \(workspace.capacity) floats")
        let scratch = workspace.halves
        BFloat16.convertInParallel(weight, to: scratch, count: count, minimum: 1 << 16)
        forward.pack(fromBF16: scratch)
        backward?.pack(fromBF16: scratch)
    }

    public var bytes: Int { forward.bytes + (backward?.bytes ?? 0) }

    /// `operand` ([tokens, columns]: x, or dY of a frozen weight) converted to bf16 in the shared
    /// workspace, for a caller that feeds it to this weight's product (`Linear`'s
    /// `convertedInput`, `convertedGradient`) and to another (a LoRA adapter's): converted
    /// once. Valid until the next product on the workspace; nil on the reference path.
    public func convert(_ operand: UnsafePointer<Float>, tokens: Int, columns: Int) -> UnsafePointer<UInt16>? {
        guard forward.kind == .bf16 else { return nil }
        precondition(tokens * columns <= workspace.capacity, "\(tokens) x \(columns) operand in a workspace of \(workspace.capacity)")
        BFloat16.convertInParallel(operand, to: workspace.halves, count: tokens * columns)
        return UnsafePointer(workspace.halves)
    }

    /// Where a caller writes dY in bf16 for `backward(dOutHalves:)`: [paddedTokens, out],
    /// zero rows after the tokens (`WeightGradient.paddedTokens`).
    public var gradientOperand: UnsafeMutablePointer<UInt16> { WeightGradient.gradientOperand(gradientWorkspace) }

    /// Both backward products on one bf16 copy of dY (a `.bf16` weight): dX = dY W
    /// (overwritten, or added with `accumulateInput`; nil: not wanted) and dW += dY^T X.
    /// dOutHalves: [paddedTokens, out] at `gradientOperand`; input X: [tokens, in].
    public func backward(dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>,
                         dOutHalves: UnsafePointer<UInt16>, input: UnsafePointer<Float>, tokens: Int,
                         accumulateInput: Bool = false, inputEpilogue: TileEpilogue = noEpilogue) {
        if let dInput {
            precondition(backward != nil, "a bf16 weight packed without its backward copy")
            backward!.multiply(rows: tokens, bf16Input: dOutHalves, output: dInput, accumulate: accumulateInput,
                               workspace: workspace, epilogue: inputEpilogue)
        }
        WeightGradient.accumulate(into: dWeight, dOutHalves: dOutHalves, input: input, tokens: tokens,
                                  outFeatures: forward.outFeatures, inFeatures: forward.inFeatures,
                                  workspace: gradientWorkspace)
    }
}
