import DFTCore
import DFTModel
@testable import DFTDecode

/// A decoder's products as the tests vary them: OpenBLAS on panels of a given width, or a
/// packed copy of a given kind.
enum DecodeProducts: Sendable, CustomStringConvertible {
    case panels(Int)
    case packed(PackedMatrix.Kind)

    var description: String {
        switch self {
        case .panels(let width): return width == .max ? "one panel" : "panels of \(width)"
        case .packed(let kind): return "packed \(kind)"
        }
    }
}

extension Decoder {
    convenience init(model: Transformer, slots: Int, context: Int, maxTokens: Int, products: DecodeProducts) {
        switch products {
        case .panels(let width):
            self.init(model: model, slots: slots, context: context, maxTokens: maxTokens, panelWidth: width)
        case .packed(let kind):
            self.init(model: model, slots: slots, context: context, maxTokens: maxTokens, weights: .packed(kind))
        }
    }
}
