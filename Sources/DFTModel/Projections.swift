/// The four weight matrices of a layer that every step multiplies by, in layout order: q/k/v
/// (adjacent in the buffer, one product), o_proj, gate/up (adjacent, one product), down_proj.
public enum Projection: CaseIterable, Sendable {
    case qkv, oProj, gateUp, down

    /// Outputs and inputs of the product (`nn.Linear`'s [out, in]).
    public func shape(_ c: ModelConfig) -> (outFeatures: Int, inFeatures: Int) {
        let h = c.hiddenSize, f = c.intermediateSize
        switch self {
        case .qkv: return ((c.numAttentionHeads + 2 * c.numKeyValueHeads) * c.headDim, h)
        case .oProj: return (h, c.numAttentionHeads * c.headDim)
        case .gateUp: return (2 * f, h)
        case .down: return (h, f)
        }
    }
}

/// One value per projection of a layer: how a decoder reads it (panels, a packed copy) or a
/// trainer's bf16 copies of it.
public struct Projections<Value> {
    public var qkv: Value, oProj: Value, gateUp: Value, down: Value

    public init(_ make: (Projection) throws -> Value) rethrows {
        qkv = try make(.qkv)
        oProj = try make(.oProj)
        gateUp = try make(.gateUp)
        down = try make(.down)
    }

    public subscript(projection: Projection) -> Value {
        switch projection {
        case .qkv: return qkv
        case .oProj: return oProj
        case .gateUp: return gateUp
        case .down: return down
        }
    }

    /// The four in layout order.
    public var all: [Value] { [qkv, oProj, gateUp, down] }
}

extension ParameterOffsets.Layer {
    /// Where the projection's weight starts (the first of q/k/v, of gate/up).
    public func offset(_ projection: Projection) -> Int {
        switch projection {
        case .qkv: return qkvWeight
        case .oProj: return oProj
        case .gateUp: return gateUp
        case .down: return down
        }
    }
}
