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

    /// Packs both copies again from W's current values.
    public func pack(from weight: UnsafePointer<Float>) {
        forward.pack(from: weight)
        backward?.pack(from: weight)
    }

    public var bytes: Int { forward.bytes + (backward?.bytes ?? 0) }
}
