import COneDNN

/// Scratch of the products of one owner of a step's buffers (a decoder, a trainer): the bf16
/// copy of a product's input, for its largest product, and a dense output tile per worker.
/// Tiles are made by the first product that needs them (or `reserveTiles` up front), never
/// again for the same or smaller products, so a step allocates nothing.
public final class MatmulWorkspace: @unchecked Sendable {
    /// Elements of the input copy, as fp32 or as bf16.
    public let capacity: Int
    private let buffer: FloatBuffer
    private var tiles: [FloatBuffer] = []

    public init(capacity: Int) {
        self.capacity = capacity
        buffer = FloatBuffer(count: capacity)
    }

    /// At least `workers` tiles of at least `elements` floats. Called before a product's
    /// workers start, never inside them.
    public func reserveTiles(_ workers: Int, elements: Int) {
        if tiles.count >= workers && (tiles.first?.count ?? 0) >= elements { return }
        let size = max(elements, tiles.first?.count ?? 0)
        tiles = (0..<max(workers, tiles.count)).map { _ in FloatBuffer(count: size) }
    }

    @inline(__always)
    func tile(_ worker: Int) -> UnsafeMutablePointer<Float> { tiles[worker].pointer }

    private struct PlainShape: Hashable { let rows: Int, columns: Int }
    private var plainOperands: [PlainShape: dnnl_memory_t] = [:]

    /// A oneDNN memory object for a plain bf16 [rows, columns] operand at `data` (made once per
    /// shape; read by every worker, so its pointer is set before they start).
    func plainOperand(_ data: UnsafeMutablePointer<UInt16>, rows: Int, columns: Int) -> dnnl_memory_t {
        let shape = PlainShape(rows: rows, columns: columns)
        let memory: dnnl_memory_t
        if let made = plainOperands[shape] {
            memory = made
        } else {
            var desc = matrixDesc(rows, columns, dnnl_bf16, dnnl_ab)
            var made: dnnl_memory_t?
            OneDNN.check(dnnl_memory_create(&made, &desc, OneDNN.engine, nil), "an operand memory")
            plainOperands[shape] = made!
            memory = made!
        }
        dnnl_memory_set_data_handle(memory, UnsafeMutableRawPointer(data))
        return memory
    }

    deinit {
        for memory in plainOperands.values { dnnl_memory_destroy(memory) }
    }

    var floats: UnsafeMutablePointer<Float> { buffer.pointer }
    var halves: UnsafeMutablePointer<UInt16> {
        UnsafeMutableRawPointer(buffer.pointer).assumingMemoryBound(to: UInt16.self)
    }
}
