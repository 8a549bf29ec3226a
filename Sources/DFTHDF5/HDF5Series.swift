import CHDF5

/// An appendable, chunked dataset: 1-D (`width` 1) or 2-D with rows of `width`, one row per
/// optimizer step. Used for metrics that grow while h5py may be reading the file.
public final class HDF5Series {
    public enum Element: Sendable {
        case float64, int64, int32, uint8

        var memoryType: hid_t {
            switch self {
            case .float64: dft_H5T_NATIVE_DOUBLE()
            case .int64: dft_H5T_NATIVE_INT64()
            case .int32: dft_H5T_NATIVE_INT32()
            case .uint8: dft_H5T_NATIVE_UINT8()
            }
        }

        var fileType: hid_t {
            switch self {
            case .float64: dft_H5T_IEEE_F64LE()
            case .int64: dft_H5T_STD_I64LE()
            case .int32: dft_H5T_STD_I32LE()
            case .uint8: dft_H5T_STD_U8LE()
            }
        }
    }

    let id: hid_t
    public let name: String
    public let width: Int
    public let element: Element
    public private(set) var rows: Int

    private init(id: hid_t, name: String, width: Int, element: Element, rows: Int) {
        self.id = id
        self.name = name
        self.width = width
        self.element = element
        self.rows = rows
    }

    deinit { H5Dclose(id) }

    var memoryType: hid_t { element.memoryType }

    public static func create(in group: HDF5Group, name: String, element: Element, width: Int = 1,
                              chunkRows: Int = 256) throws -> HDF5Series {
        let rank: Int32 = width == 1 ? 1 : 2
        var dims: [hsize_t] = width == 1 ? [0] : [0, hsize_t(width)]
        var maxDims: [hsize_t] = width == 1 ? [dft_H5S_UNLIMITED()] : [dft_H5S_UNLIMITED(), hsize_t(width)]
        var chunk: [hsize_t] = width == 1 ? [hsize_t(chunkRows)] : [hsize_t(chunkRows), hsize_t(width)]
        let space = try HDF5.id(H5Screate_simple(rank, &dims, &maxDims), "making the dataspace of \(name)")
        defer { H5Sclose(space) }
        let properties = try HDF5.id(H5Pcreate(dft_H5P_DATASET_CREATE()), "making dataset properties")
        defer { H5Pclose(properties) }
        try HDF5.check(H5Pset_chunk(properties, rank, &chunk), "setting the chunks of \(name)")
        let fileType = element.fileType
        let set = try HDF5.id(H5Dcreate2(group.id, name, fileType, space, dft_H5P_DEFAULT(), properties, dft_H5P_DEFAULT()),
                              "creating series \(group.child(name))")
        return HDF5Series(id: set, name: name, width: width, element: element, rows: 0)
    }

    public static func open(in group: HDF5Group, name: String, element: Element) throws -> HDF5Series {
        let shape = try group.shape(of: name)
        let set = try HDF5.id(H5Dopen2(group.id, name, dft_H5P_DEFAULT()), "opening series \(group.child(name))")
        return HDF5Series(id: set, name: name, width: shape.count == 2 ? shape[1] : 1, element: element,
                          rows: shape.first ?? 0)
    }

    /// Appends one row (`width` values) and flushes it, so SWMR readers see it.
    public func append(_ values: UnsafeRawPointer) throws {
        try resize(rows: rows + 1)
        let file = try HDF5.id(H5Dget_space(id), "reading the dataspace of \(name)")
        defer { H5Sclose(file) }
        var start: [hsize_t] = width == 1 ? [hsize_t(rows - 1)] : [hsize_t(rows - 1), 0]
        var count: [hsize_t] = width == 1 ? [1] : [1, hsize_t(width)]
        try HDF5.check(H5Sselect_hyperslab(file, H5S_SELECT_SET, &start, nil, &count, nil), "selecting a row of \(name)")
        let memory = try HDF5.id(H5Screate_simple(Int32(count.count), &count, nil), "making a row dataspace")
        defer { H5Sclose(memory) }
        try HDF5.check(H5Dwrite(id, memoryType, memory, file, dft_H5P_DEFAULT(), values), "appending to \(name)")
        try HDF5.check(H5Dflush(id), "flushing \(name)")
    }

    /// Appends `count` rows at once (`count * width` values of the series' element type:
    /// Double, Int64, Int32 or UInt8), flushed once.
    public func append(rows count: Int, _ values: UnsafeRawPointer) throws {
        guard count > 0 else { return }
        try resize(rows: rows + count)
        let file = try HDF5.id(H5Dget_space(id), "reading the dataspace of \(name)")
        defer { H5Sclose(file) }
        var start: [hsize_t] = width == 1 ? [hsize_t(rows - count)] : [hsize_t(rows - count), 0]
        var size: [hsize_t] = width == 1 ? [hsize_t(count)] : [hsize_t(count), hsize_t(width)]
        try HDF5.check(H5Sselect_hyperslab(file, H5S_SELECT_SET, &start, nil, &size, nil), "selecting rows of \(name)")
        let memory = try HDF5.id(H5Screate_simple(Int32(size.count), &size, nil), "making a rows dataspace")
        defer { H5Sclose(memory) }
        try HDF5.check(H5Dwrite(id, memoryType, memory, file, dft_H5P_DEFAULT(), values), "appending to \(name)")
        try HDF5.check(H5Dflush(id), "flushing \(name)")
    }

    /// Appends values given as Double, converted to the series' element type.
    public func append(doubles values: [Double]) throws {
        switch element {
        case .float64:
            try values.withUnsafeBytes { try append(rows: values.count / width, $0.baseAddress!) }
        case .int64:
            let ints = values.map { Int64($0) }
            try ints.withUnsafeBytes { try append(rows: values.count / width, $0.baseAddress!) }
        case .int32:
            let ints = values.map { Int32($0) }
            try ints.withUnsafeBytes { try append(rows: values.count / width, $0.baseAddress!) }
        case .uint8:
            let bytes = values.map { UInt8($0) }
            try bytes.withUnsafeBytes { try append(rows: values.count / width, $0.baseAddress!) }
        }
    }

    public func append(_ value: Double) throws {
        precondition(element == .float64 && width == 1)
        var v = value
        try append(&v)
    }

    public func append(_ value: Int) throws {
        precondition(element == .int64 && width == 1)
        var v = Int64(value)
        try append(&v)
    }

    /// Drops rows past `rows` (a resumed run rewinds to its checkpoint's step).
    public func truncate(to rows: Int) throws {
        guard rows < self.rows else { return }
        try resize(rows: rows)
        try HDF5.check(H5Dflush(id), "flushing \(name)")
    }

    private func resize(rows newRows: Int) throws {
        var dims: [hsize_t] = width == 1 ? [hsize_t(newRows)] : [hsize_t(newRows), hsize_t(width)]
        try HDF5.check(H5Dset_extent(id, &dims), "resizing \(name) to \(newRows) rows")
        rows = newRows
    }
}
